"""Privacy accounting: ε after every round, and a budget that stops training."""

from __future__ import annotations

import numpy as np
import pytest

from sync_server.privacy import epsilon
from sync_server.rounds import RoundConfig, close_round
from sync_server.storage import Store
from sync_server.updates import Update
from tests.server.federation import SITE, model, send, site_server, update, wait_for_version


def test_epsilon_grows_with_rounds_and_shrinks_with_noise():
    assert epsilon([1.0], 1e-6) < epsilon([1.0] * 2, 1e-6) < epsilon([1.0] * 10, 1e-6)
    assert epsilon([4.0] * 10, 1e-6) < epsilon([1.0] * 10, 1e-6)
    assert epsilon([1.0] * 10, 1e-5) < epsilon([1.0] * 10, 1e-6)
    assert epsilon([2.0, 1.0], 1e-6) == pytest.approx(epsilon([1.0, 2.0], 1e-6))


def test_every_round_stores_the_epsilon_spent_so_far(tmp_path):
    store = Store(tmp_path / "p13n.db")
    store.create_site("s", hash_bits=6)
    sigmas = [3.0, 3.0, 5.0]
    for round_, sigma in enumerate(sigmas, start=1):
        store.set_round_config("s", RoundConfig(min_devices=1, target_devices=1, noise_multiplier=sigma, delta=1e-5))
        store.add_updates([("s", Update(round_ - 1, 1, 0.0, [1], [0.5]))])
        close_round(store, "s", np.random.default_rng(round_))
    stored = [(r["noise_multiplier"], r["epsilon"], r["delta"]) for r in store.rounds("s")]
    assert stored == [(s, pytest.approx(epsilon(sigmas[:i + 1], 1e-5)), 1e-5) for i, s in enumerate(sigmas)]
    assert store.round_state("s").epsilon == pytest.approx(epsilon(sigmas, 1e-5))


def test_the_budget_stops_training_before_a_round_would_exceed_it(tmp_path):
    one, two = epsilon([5.0], 1e-6), epsilon([5.0, 5.0], 1e-6)
    with site_server(tmp_path / "p13n.db", noise_multiplier=5.0, epsilon_budget=(one + two) / 2,
                     min_devices=2, target_devices=2) as server:
        assert model(server)["federation"]["accepting_updates"] is True
        for bucket in (1, 2):
            assert send(server, update([bucket], [0.1])).status_code == 202
        published = wait_for_version(server, 1)
        assert published["federation"]["accepting_updates"] is False
        before = server.db()["updates"].count
        refused = send(server, update([1], [0.1], base_version=1))
        assert refused.status_code == 409
        assert refused.json()["error"] == "privacy_budget_spent"
        assert f"site '{SITE}' has spent its privacy budget" in refused.json()["detail"]
        assert server.db()["updates"].count == before
        assert server.db()["rounds"].get((SITE, 1))["epsilon"] == pytest.approx(one)


def test_without_noise_there_is_no_guarantee_so_a_budget_allows_no_round(tmp_path):
    with site_server(tmp_path / "p13n.db", noise_multiplier=0.0, epsilon_budget=10.0) as server:
        assert model(server)["federation"]["accepting_updates"] is False
        response = send(server, update([1], [0.1]))
        assert (response.status_code, response.json()["error"]) == (409, "privacy_budget_spent")
        assert server.db()["updates"].count == 0
