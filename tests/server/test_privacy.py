"""Privacy accounting: ε per visitor and year after every round, and a budget that pauses training."""

from __future__ import annotations

import dp_accounting
import numpy as np
import pytest
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant

from sync_server.privacy import YEAR, epsilon, visitor_epsilon
from sync_server.records import RoundConfig, Update
from sync_server.rounds import close_round
from sync_server.storage import Store
from tests.server.federation import SITE, model, send, site_server, update, wait_for_version


def test_epsilon_grows_with_rounds_and_shrinks_with_noise():
    assert epsilon([1.0], 1e-6) < epsilon([1.0] * 2, 1e-6) < epsilon([1.0] * 10, 1e-6)
    assert epsilon([4.0] * 10, 1e-6) < epsilon([1.0] * 10, 1e-6)
    assert epsilon([1.0] * 10, 1e-5) < epsilon([1.0] * 10, 1e-6)
    assert epsilon([2.0, 1.0], 1e-6) == pytest.approx(epsilon([1.0, 2.0], 1e-6))


def dp_accounting_epsilon(sigmas: list[float], delta: float) -> float:
    """ε of Gaussian rounds composed by dp-accounting's own privacy-loss-distribution accountant,
    one event per round: tight, as ours, up to its discretization (a pessimistic one)."""
    accountant = PLDAccountant()
    for sigma in sigmas:
        accountant.compose(dp_accounting.GaussianDpEvent(sigma))
    return accountant.get_epsilon(delta)


def test_a_visitor_is_charged_for_the_least_noisy_rounds_they_can_join_in_any_365_days():
    day = 86_400.0
    # Two years of weekly rounds: σ = 6 in the first, σ = 4 from week 60 on; a device joins 5 a year.
    rounds = [(week * 7 * day, 6.0 if week < 60 else 4.0) for week in range(104)]
    assert visitor_epsilon(rounds, per_year=5, delta=1e-6) == pytest.approx(dp_accounting_epsilon([4.0] * 5, 1e-6), rel=1e-4)
    # Within the first year only σ = 6 rounds ran; more rounds than the cap cost nothing more.
    first_year = [r for r in rounds if r[0] < YEAR]
    assert visitor_epsilon(first_year, per_year=5, delta=1e-6) == pytest.approx(
        dp_accounting_epsilon([6.0] * 5, 1e-6), rel=1e-4)
    # Fewer rounds than the cap: every one counts. Mixed: the 5 least noisy of a window.
    assert visitor_epsilon(rounds[:3], per_year=5, delta=1e-6) == pytest.approx(
        dp_accounting_epsilon([6.0] * 3, 1e-6), rel=1e-4)
    mixed = rounds[55:65]  # weeks 55-64: five of σ = 6, five of σ = 4
    assert visitor_epsilon(mixed, per_year=7, delta=1e-6) == pytest.approx(
        dp_accounting_epsilon([4.0] * 5 + [6.0] * 2, 1e-6), rel=1e-4)


@pytest.mark.parametrize(("sigmas", "delta"), [([2.24], 1e-6), ([7.73] * 12, 1e-6), ([1.0] * 10, 1e-6), ([0.5], 1e-6),
                                               ([5.0], 1e-5), ([3.0, 3.0, 5.0], 1e-5), ([30.0] * 500, 1e-6),
                                               ([1e3], 1e-6), ([0.05], 1e-9)])
def test_the_exact_accountant_agrees_with_dp_accountings_pld_and_stays_under_its_rdp_bound(sigmas, delta):
    rdp = RdpAccountant()
    for sigma in sigmas:
        rdp.compose(dp_accounting.GaussianDpEvent(sigma))
    ours = epsilon(sigmas, delta)
    assert ours == pytest.approx(dp_accounting_epsilon(sigmas, delta), rel=1e-4, abs=1e-5)
    assert ours <= rdp.get_epsilon(delta)


def test_the_defaults_keep_every_visitor_within_2_per_year_at_delta_1e_6():
    config = RoundConfig()
    assert (config.epsilon_budget, config.delta) == (2.0, 1e-6)
    spent = dp_accounting_epsilon([config.noise_multiplier] * config.device_rounds_per_year, config.delta)
    assert 1.98 < spent <= 2.0  # no more noise than the budget needs


def test_every_round_stores_the_epsilon_spent_so_far(db):
    store = Store(db)
    store.create_site("s", hash_bits=6)
    sigmas = [3.0, 3.0, 5.0]
    for round_, sigma in enumerate(sigmas, start=1):
        store.set_round_config("s", RoundConfig(min_devices=1, target_devices=1, noise_multiplier=sigma, delta=1e-5,
                                                epsilon_budget=None, device_rounds_per_year=12))
        store.add_updates([("s", Update(round_ - 1, 1, 0.0, [1], [0.5]))])
        close_round(store, "s", np.random.default_rng(round_))
    stored = [(r["noise_multiplier"], r["epsilon"], r["delta"]) for r in store.rounds("s")]
    assert stored == [(s, pytest.approx(epsilon(sigmas[:i + 1], 1e-5)), 1e-5) for i, s in enumerate(sigmas)]
    assert store.round_state("s").epsilon == pytest.approx(epsilon(sigmas, 1e-5))


def test_the_budget_stops_training_before_a_round_would_exceed_it(db):
    one, two = epsilon([5.0], 1e-6), epsilon([5.0, 5.0], 1e-6)
    with site_server(db, noise_multiplier=5.0, epsilon_budget=(one + two) / 2,
                     device_rounds_per_year=12, min_devices=2, target_devices=2) as server:
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
        assert next(server.db()["rounds"].rows_where("site = ? AND version = 1", [SITE]))["epsilon"] == pytest.approx(one)


def test_with_a_participation_cap_rounds_go_on_at_the_same_epsilon(db):
    """A device joins at most k rounds a year, so a round beyond k costs a visitor nothing more."""
    one = epsilon([5.0], 1e-6)
    with site_server(db, noise_multiplier=5.0, epsilon_budget=one, device_rounds_per_year=1,
                     min_devices=1, target_devices=1) as server:
        for version in (1, 2, 3):
            assert send(server, update([version], [0.1], base_version=version - 1)).status_code == 202
            published = wait_for_version(server, version)
            assert published["federation"]["accepting_updates"] is True
            assert published["federation"]["device_rounds_per_year"] == 1
        assert [r["epsilon"] for r in server.db()["rounds"].rows_where(order_by="version")] == pytest.approx([one] * 3)
        assert published["noise_variance"] == 0.0  # the noise is weighed into the precisions (sync_server/posterior.py)


def test_without_noise_there_is_no_guarantee_so_a_budget_allows_no_round(db):
    with site_server(db, noise_multiplier=0.0, epsilon_budget=10.0) as server:
        assert model(server)["federation"]["accepting_updates"] is False
        response = send(server, update([1], [0.1]))
        assert (response.status_code, response.json()["error"]) == (409, "privacy_budget_spent")
        assert server.db()["updates"].count == 0
