"""The worker downloads the global model in the compact form, compressed, and the engine in
Pyodide boots from it and merges the next version: real Chromium, a real server whose rounds
put noise on every bucket, so the model is dense."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

import httpx
import pytest

from edge import model_form
from sync_server.records import RoundConfig
from sync_server.storage import Store
from tests.browser.test_snippet import STUB
from tests.browser.test_walking_skeleton import open_demo, saved_state
from tests.conftest import running_server, without_holdout
from tests.server.federation import token

HASH_BITS = 10
# Without noise, and each round's one update touches every bucket: this test is about bytes, not privacy.
NOISY_ROUNDS = RoundConfig(round_seconds=1.0, check_seconds=1.0, min_devices=1, target_devices=1, noise_multiplier=0.0,
                           epsilon_budget=None)


@pytest.fixture(scope="module")
def noisy_server(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("noisy") / "p13n.db"
    store = Store(db_path)
    store.create_site("demo", hash_bits=HASH_BITS)
    store.set_round_config("demo", NOISY_ROUNDS)
    store.db.close()
    without_holdout(db_path)
    with running_server(db_path, "--ip-rate", "0") as running:
        yield running


def close_a_round(server, version: int) -> dict:
    """Send one update that moves every bucket so that round `version` closes; the new model as a device decodes it."""
    buckets = 1 << HASH_BITS
    delta = {"intercept": 0.1, "idx": list(range(buckets)), "val": [0.2 * (-1) ** b for b in range(buckets)],
             "intercept_curvature": 1.0, "curvature": [1.0] * buckets}
    update = {"base_version": version - 1, "samples": 5, "update_id": secrets.token_hex(8), "delta": delta,
              "token": token(server.url, "demo")}
    httpx.post(f"{server.url}/v1/sites/demo/updates", json=update).raise_for_status()
    url, accept = f"{server.url}/v1/sites/demo/model", {"accept": model_form.MEDIA_TYPE}
    deadline = time.monotonic() + 20
    while (model := model_form.decode(httpx.get(url, headers=accept).content))["version"] < version:
        assert time.monotonic() < deadline, f"round {version} did not close"
        time.sleep(0.05)
    return model


def test_the_worker_boots_from_the_compact_model_and_merges_the_next_one(page, noisy_server):
    first = close_a_round(noisy_server, 1)
    assert len(first["weights"]) == 1 << HASH_BITS  # every bucket moved: the dense layout
    models = []
    page.on("response", lambda r: urlsplit(r.url).path == "/v1/sites/demo/model" and models.append(r))
    page.add_init_script(STUB + "; p13n('on', 'merged', e => (window.merged = e.version))")
    open_demo(page, noisy_server)
    page.wait_for_function("p13n.stats.unsaved === 0")
    booted = saved_state(page)
    assert booted["config"]["hash_bits"] == HASH_BITS
    assert booted["global"]["version"] == 1 and booted["global"]["weights"] == first["weights"]

    second = close_a_round(noisy_server, 2)
    page.wait_for_function("window.merged === 2", timeout=10_000)
    page.wait_for_function("p13n.stats.unsaved === 0")
    merged = saved_state(page)["global"]
    assert merged["version"] == 2 and merged["weights"] == second["weights"]

    assert models and all(r.request.headers["accept"] == model_form.MEDIA_TYPE for r in models)
    fetched = [r for r in models if r.status == 200]
    assert fetched and all(r.headers["content-type"] == model_form.MEDIA_TYPE for r in fetched)
    assert all(r.headers["content-encoding"] == "br" for r in fetched)  # Chromium accepts br
    assert not [m for m in page.console_messages_seen if m[0] in ("error", "pageerror")]
