"""A site with its own round config on its own server, and devices that send it updates,
each spending a participation token that a device of its own got, as the API documents."""

from __future__ import annotations

import contextlib
import itertools
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from edge.federated import CURVATURE_SCALE
from sync_server.demo.traffic import POLICY_VERSION, Server
from sync_server.records import RoundConfig
from sync_server.storage import Store
from tests.conftest import RunningServer, create_site, serving

SITE = "fed-site"


@contextlib.contextmanager
def site_server(db_path: Path | str, hash_bits: int = 10, **config) -> Iterator[RunningServer]:
    """A server for SITE (2^hash_bits weights) whose rounds run by `config`."""
    create_site(db_path, SITE, "--hash-bits", str(hash_bits))
    Store(db_path).set_round_config(SITE, RoundConfig(**config))
    with serving(db_path, "--ip-rate", "0", "--no-demo") as server:
        yield server


def update(idx: list[int], val: list[float], base_version: int = 0, intercept: float = 0.0, **extra) -> dict:
    """An update with gradients `val` at buckets `idx` and a curvature of 1 at each (sent scaled, as devices do)."""
    return {"base_version": base_version, "samples": 10, "update_id": secrets.token_hex(8),
            "delta": {"intercept": intercept, "idx": idx, "val": val, "intercept_curvature": 0.0,
                      "curvature": [CURVATURE_SCALE] * len(idx)}, **extra}


def send(server: RunningServer, body: dict) -> httpx.Response:
    """Post `body`, with a fresh device's token for the open round unless it has a `token`."""
    return httpx.post(f"{server.url}/v1/sites/{SITE}/updates", json={"token": token(server.url), **body})


_networks = itertools.count(1)


def fresh_address() -> str:
    """A client address on a network (/24) no other call returned."""
    n = next(_networks)
    return f"10.{n >> 8 & 255}.{n & 255}.1"


def visitor(url: str, site: str = SITE, address: str | None = None, improve: bool = True) -> tuple[str, str]:
    """A new visitor's id and secret, registered with a consent that grants `improve`."""
    visitor, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    body = {"visitor": visitor, "policy_version": POLICY_VERSION,
            "purposes": {"personalize": True, "improve": improve, "sync": False}}
    httpx.post(f"{url}/v1/consent?site={site}", json=body, headers={
        "authorization": f"Bearer {secret}", "x-forwarded-for": address or fresh_address()}).raise_for_status()
    return visitor, secret


def token(url: str, site: str = SITE, address: str | None = None) -> dict:
    """A participation token for the open round of `site`, taken by a new visitor who granted
    `improve`, from `address` (by default, a network of its own)."""
    address = address or fresh_address()
    server = Server(url, site, fresh_seconds=0)
    try:
        answer = server.token(server.global_model(), *visitor(url, site, address), address)
    finally:
        server.http.close()
    if isinstance(answer, httpx.Response):
        raise AssertionError(f"no token: {answer.status_code} {answer.text}")
    return answer


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
