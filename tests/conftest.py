"""A real sync server on a loopback port, started the way a user starts it."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_server.config import Settings
from sync_server.storage import Database, Store
from tests import databases

ROOT = Path(__file__).resolve().parent.parent
TEST_SITE = "test-site"
TEST_ORIGIN = "https://shop.example"  # a page origin TEST_SITE allows (CORS)
CLI = [sys.executable, "-m", "sync_server"]
pytest_plugins = ["tests.chromium"]  # real Chromium, for the browser tests and the admin's


@dataclasses.dataclass
class RunningServer:
    url: str
    db_path: Path | str  # a SQLite file or a PostgreSQL URL

    def db(self) -> Database:
        return databases.database(self.db_path)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    with databases.throwaway_cluster() as url:
        yield url


@pytest.fixture(scope="session", params=databases.BACKENDS)
def backend(request) -> str:
    return request.param


def new_database(request, backend: str, directory: Path) -> Path | str:
    """A new, empty database on `backend`: a file in `directory`, or a PostgreSQL schema."""
    if backend == "sqlite":
        return directory / "p13n.db"
    return databases.new_schema(request.getfixturevalue("postgres_cluster"))


@pytest.fixture
def db(request, backend, tmp_path) -> Path | str:
    """Where a test's own server keeps everything, on each backend in turn."""
    return new_database(request, backend, tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become healthy in {timeout} s")


def without_holdout(db_path: Path | str, site: str = "demo", hash_bits: int = Settings.demo_hash_bits) -> None:
    """Make `site` (if new) with no holdout. Browser tests check what one random visitor is shown:
    the default site-wide holdout would show 5 % of them the page as authored
    (tests/admin/test_day_one.py tests the default)."""
    store = Store(db_path)
    store.create_site(site, hash_bits=hash_bits)
    store.set_editor_rules(site, {"holdout": 0}, admin="tests", via="test set-up")
    store.db.close()


def create_site(db_path: Path | str, site: str, *options: str) -> None:
    subprocess.run([*CLI, "create-site", site, "--db", str(db_path), *options], check=True, cwd=ROOT)


@contextlib.contextmanager
def running_server(db_path: Path | str, *options: str) -> Iterator[RunningServer]:
    """`python -m sync_server serve … OPTIONS` on a free loopback port, stopped afterwards."""
    if not (ROOT / "dist" / "personalize.js").exists():
        pytest.fail("dist/ is not built: run `python build.py` (make test does)")
    port = free_port()
    process = subprocess.Popen(serve_command(db_path, port, *options), cwd=ROOT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield RunningServer(url, db_path)
    finally:
        process.terminate()
        process.wait(timeout=10)


def serve_command(db_path: Path | str, port: int, *options: str) -> list[str]:
    """`python -m sync_server serve` on `port` (with the key file a PostgreSQL database needs)."""
    key = databases.secret_key_for(db_path)
    return [*CLI, "serve", "--port", str(port), "--db", str(db_path), "--log-level", "warning",
            *(["--secret-key", str(key)] if key else []), *options]


@pytest.fixture(scope="session")
def server(request, backend, tmp_path_factory) -> Iterator[RunningServer]:
    db_path = new_database(request, backend, tmp_path_factory.mktemp("server"))
    create_site(db_path, TEST_SITE, "--origin", TEST_ORIGIN)
    without_holdout(db_path)
    # No per-IP limit here, so tests need not count their requests; test_interfaces tests it on its own server.
    with running_server(db_path, "--ip-rate", "0") as running:
        yield running
