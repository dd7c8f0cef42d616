"""An update that got 202 is never lost, nor is its token's spending: SIGKILL the server
mid-stream, restart, count, replay."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import httpx

from sync_server.records import RoundConfig
from sync_server.storage import Store
from tests.conftest import ROOT, create_site, free_port, running_server, serve_command, wait_until_healthy
from tests.server.federation import SITE, send, token, update

DEVICES = 8
KILL_AFTER = 300  # acknowledged updates


def start_server(db_path: Path | str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(serve_command(db_path, port, "--ip-rate", "0", "--no-demo"), cwd=ROOT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, process)
    return process, url


def stream_updates(url: str, acknowledged: dict[str, int], refused: list[str], enough: threading.Event,
                   bodies: dict[str, dict]) -> None:
    """Post updates until the server dies, noting the update_id and row id of every 202."""
    with httpx.Client() as client:
        for n in range(10 * KILL_AFTER):  # bounded: the kill comes long before
            try:
                body = update([n % 1000, 1000 + n % 24], [0.01, -0.02], token=token(url))
                bodies[body["update_id"]] = body
                response = client.post(f"{url}/v1/sites/{SITE}/updates", json=body)
            except (httpx.TransportError, AssertionError):  # no token: the server died while issuing it
                return
            if response.status_code != 202:
                refused.append(response.text)
                return
            acknowledged[body["update_id"]] = response.json()["accepted"]
            if len(acknowledged) >= KILL_AFTER:
                enough.set()


def test_every_acknowledged_update_survives_a_sigkill(db):
    db_path = db
    create_site(db_path, SITE, "--hash-bits", "12")
    Store(db_path).set_round_config(SITE, RoundConfig(min_devices=100_000, target_devices=100_000))
    process, url = start_server(db_path)
    acknowledged: dict[str, int] = {}
    refused: list[str] = []
    bodies: dict[str, dict] = {}
    enough = threading.Event()
    devices = [threading.Thread(target=stream_updates, args=(url, acknowledged, refused, enough, bodies))
               for _ in range(DEVICES)]
    try:
        for device in devices:
            device.start()
        assert enough.wait(timeout=600), f"only {len(acknowledged)} updates were acknowledged"
        process.send_signal(signal.SIGKILL)  # mid-stream: every device has a request in flight
    finally:
        process.kill()
        process.wait()
        for device in devices:
            device.join()
    assert refused == []

    with running_server(db_path, "--ip-rate", "0", "--no-demo") as server:
        stored = {row["update_id"]: row["id"] for row in server.db()["updates"].rows_where(select="update_id, id")}
        assert acknowledged.items() <= stored.items()
        replayed = bodies[next(iter(acknowledged))]
        assert send(server, replayed).status_code == 409
        assert send(server, {**replayed, "update_id": "another-id"}).json()["error"] == "token_spent"
        assert send(server, update([1], [0.1])).status_code == 202
        assert Store(db_path).round_state(SITE).pending == len(stored) + 1
