"""A site with its own round config on its own server, and devices that send it updates."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from sync_server.rounds import RoundConfig
from sync_server.storage import Store
from tests.conftest import RunningServer, create_site, running_server

SITE = "fed-site"


@contextlib.contextmanager
def site_server(db_path: Path, hash_bits: int = 10, **config) -> Iterator[RunningServer]:
    """A server for SITE (2^hash_bits weights) whose rounds run by `config`."""
    create_site(db_path, SITE, "--hash-bits", str(hash_bits))
    Store(db_path).set_round_config(SITE, RoundConfig(**config))
    with running_server(db_path, "--ip-rate", "0", "--no-demo") as server:
        yield server


def update(idx: list[int], val: list[float], base_version: int = 0, intercept: float = 0.0, **extra) -> dict:
    return {"base_version": base_version, "samples": 10, "update_id": secrets.token_hex(8),
            "delta": {"intercept": intercept, "idx": idx, "val": val}, **extra}


def send(server: RunningServer, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/sites/{SITE}/updates", json=body)


def model(server: RunningServer) -> dict:
    return httpx.get(f"{server.url}/v1/sites/{SITE}/model").json()


def wait_for_version(server: RunningServer, version: int, timeout: float = 20.0) -> dict:
    """The global model once it reaches `version` (rounds close on the server's writer thread)."""
    deadline = time.monotonic() + timeout
    while (current := model(server))["version"] < version:
        if time.monotonic() > deadline:
            raise AssertionError(f"version {version} was not published in {timeout} s: {current['version']}")
        time.sleep(0.05)
    return current
