"""A real sync server process for the benchmarks that attack it from outside (fuzz, login_flood),
started as a user starts it, on a free loopback port, with a site and an admin of its own."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from sync_server.admin.accounts import create_admin
from sync_server.channels import key_hash
from sync_server.config import ROOT
from sync_server.demo.traffic import wait_until_up
from sync_server.storage import Store

SITE = "bench-site"


@dataclasses.dataclass(frozen=True)
class LiveServer:
    url: str
    pid: int
    admin: str
    password: str
    server_key: str  # SITE's key for its backend's endpoints (decide, events)


@contextlib.contextmanager
def live_server(db_path: Path, *options: str) -> Iterator[LiveServer]:
    """`python -m sync_server serve --no-demo OPTIONS` with SITE and an admin in `db_path`; stopped afterwards."""
    store = Store(db_path)
    store.create_site(SITE, hash_bits=10)
    password = secrets.token_urlsafe(16)
    create_admin(store, "bench", password)
    server_key = f"p13n_sk_{secrets.token_urlsafe(32)}"
    store.add_server_key(SITE, key_hash(server_key), "bench", admin="bench", via="bench")
    store.db.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_server", "serve", "--no-demo", "--port", str(port), "--db", str(db_path),
         "--log-level", "warning", *options], cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, running=lambda: process.poll() is None)
        yield LiveServer(url, process.pid, "bench", password, server_key)
    finally:
        process.terminate()
        process.wait(timeout=10)


def sign_in(client: httpx.Client, server: LiveServer) -> str:
    """Sign `client` in as the server's admin (the session cookie stays in it); the session's CSRF token."""
    form = client.get("/admin/login")
    answer = client.post("/admin/login", data={"csrf": _field(form.text, "csrf"), "name": server.admin,
                                                "password": server.password, "next": "/admin"})
    if answer.status_code != 303:
        raise RuntimeError(f"signing in failed with {answer.status_code}")
    return client.get("/admin").text.split('name="csrf-token" content="')[1].split('"')[0]


def _field(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]

