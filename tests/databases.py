"""The two databases every storage and HTTP test runs on: a SQLite file, and a schema of
its own in a throwaway PostgreSQL cluster (started here, or named by P13N_TEST_POSTGRES).

PostgreSQL comes from Debian's packages (`make test` installs them): its server binaries are
in /usr/lib/postgresql/VERSION/bin. Running as root, the cluster runs as the `postgres` user,
which PostgreSQL insists on.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_server.storage import Database, connect

BACKENDS = ["sqlite", "postgresql"]
# For a module whose `backend` fixture defaults to one database (tests/browser), its tests on both.
on_both = pytest.mark.parametrize("backend", BACKENDS, indirect=True, scope="session")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs it (apt-get install postgresql)")
    return Path(initdb).parent


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """A PostgreSQL cluster in a temporary directory on a free port; its URL, until it is removed."""
    if url := os.environ.get("P13N_TEST_POSTGRES"):
        yield url
        return
    bin_dir, port = _server_binaries(), _free_port()
    home = Path(tempfile.mkdtemp(prefix="p13n-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(home, "postgres")
    data = home / "data"
    subprocess.run([*as_postgres, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    # Tests start many server processes, each with its pool: room for their connections.
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=on"
    subprocess.run([*as_postgres, bin_dir / "pg_ctl", "-D", data, "-o", options, "-l", home / "log", "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def new_schema(cluster_url: str) -> str:
    """The URL of a fresh, empty schema in the cluster: a database of its own for one test."""
    import psycopg

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(cluster_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{cluster_url}?options=-csearch_path%3D{name}"


_connections: dict[str, Database] = {}


def database(target: str | Path) -> Database:
    """A connection of the test's own to `target`, kept for the session."""
    key = str(target)
    if key not in _connections:
        _connections[key] = connect(target)
    return _connections[key]


def secret_key_for(target: str | Path) -> Path | None:
    """The key file of a PostgreSQL test database's visitor secrets (a SQLite file has its own beside it)."""
    if isinstance(target, Path) or "://" not in target:
        return None
    keys = Path(tempfile.gettempdir()) / "p13n-test-keys"
    keys.mkdir(exist_ok=True)
    return keys / (target.rsplit("%3D", 1)[-1] + ".key")
