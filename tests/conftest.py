"""A real sync server on a loopback port: in this process where no process matters (`serving`),
or started the way a user starts it (`running_server`: durability, several processes, browsers)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from sync_server import __main__ as cli
from sync_server.app import create_app
from sync_server.config import Settings
from sync_server.demo.traffic import wait_until_up
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
    wait_until_up(url, timeout, running=lambda: process.poll() is None)


def without_holdout(db_path: Path | str, site: str = "demo", hash_bits: int = Settings.demo_hash_bits) -> None:
    """Make `site` (if new) with no holdout. Browser tests check what one random visitor is shown:
    the default site-wide holdout would show 5 % of them the page as authored
    (tests/admin/test_day_one.py tests the default)."""
    store = Store(db_path)
    store.create_site(site, hash_bits=hash_bits)
    store.set_editor_rules(site, {"holdout": 0}, admin="tests", via="test set-up")
    store.db.close()


def create_site(db_path: Path | str, site: str, *options: str) -> None:
    """`create-site SITE OPTIONS`, the command run in this process."""
    cli.main(["create-site", site, "--db", str(db_path), *options])


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
    """`python -m sync_server serve` on `port`."""
    return [*CLI, *serve_arguments(db_path, "--port", str(port), *options)]


def serve_arguments(db_path: Path | str, *options: str) -> list[str]:
    """`serve`'s arguments for `db_path` (with the key file a PostgreSQL database needs)."""
    key = databases.secret_key_for(db_path)
    return ["serve", "--db", str(db_path), "--log-level", "warning", *(["--secret-key", str(key)] if key else []),
            *options]


@contextlib.contextmanager
def serving(db_path: Path | str, *options: str) -> Iterator[RunningServer]:
    """`serve … OPTIONS` in this process: the real app under uvicorn on a thread, on a loopback
    port, without the seconds a new interpreter spends importing it; stopped afterwards."""
    args = cli.parser().parse_args(serve_arguments(db_path, *options))
    server = uvicorn.Server(uvicorn.Config(create_app(cli.serve_settings(args)), log_level=args.log_level))
    listening = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, name=f"server {url}", daemon=True)
    thread.start()
    try:
        wait_until_up(url, 90.0, running=thread.is_alive)
        yield RunningServer(url, db_path)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()


def serve_test_site(request, backend: str, tmp_path_factory, start: Callable = serving,
                    demo_holdout: bool = True) -> Iterator[RunningServer]:
    """A server (`serving` or `running_server`) with TEST_SITE, which TEST_ORIGIN's pages may call,
    and the demo site with its default holdout unless `demo_holdout` is False."""
    db_path = new_database(request, backend, tmp_path_factory.mktemp("server"))
    create_site(db_path, TEST_SITE, "--origin", TEST_ORIGIN)
    if not demo_holdout:
        without_holdout(db_path)
    # No per-IP limit here, so tests need not count their requests; test_interfaces tests it on its own server.
    with start(db_path, "--ip-rate", "0") as running:
        yield running


@pytest.fixture(scope="session")
def server(request, backend, tmp_path_factory) -> Iterator[RunningServer]:
    yield from serve_test_site(request, backend, tmp_path_factory)
