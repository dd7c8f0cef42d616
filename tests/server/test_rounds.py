"""Federated rounds: clipping, aggregation, noise, analytics, and when rounds close."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from edge.federated import CURVATURE_SCALE
from sync_server import posterior
from sync_server.aggregation import Delta
from sync_server.records import Counter, RoundConfig, RoundState, Update
from sync_server.rounds import close_round, closing
from sync_server.storage import Store, connect, schema
from tests.conftest import new_database, running_server
from tests.server.federation import SITE, model, send, site_server, token, update, wait_for_version
from tests.server.test_interfaces import metric

# The step is the posterior's whole step (η = 1) and nothing is clipped, so tests can write it down:
# without noise a weight moves by G / (2 + H), 2 the prior precision (sync_server/posterior.py).
EXACT = {"learning_rate": 1.0, "clip_norm": 100.0}


def model_epsilon(server) -> float:
    return next(server.db()["rounds"].rows_where("site = ? AND version = 1", [SITE]))["epsilon"]


def make_store(db: Path | str, buckets_bits: int = 4, **config) -> Store:
    """A store at `db` (a directory: a SQLite file in it) with site "s"."""
    store = Store(db / "p13n.db" if isinstance(db, Path) and db.is_dir() else db)
    store.create_site("s", hash_bits=buckets_bits)
    store.set_round_config("s", RoundConfig(min_devices=1, target_devices=1, **{**EXACT, **config}))
    return store


def close(store: Store, updates: list[Update], seed: int = 0) -> dict:
    """Send `updates` to the open round, close it, and return the new model as pairs."""
    store.add_updates([("s", u) for u in updates])
    state = close_round(store, "s", np.random.default_rng(seed))
    intercept, weights = store.model("s", state.version)
    return {"intercept": intercept, "weights": dict(weights), "version": state.version}


def delta(idx, val, intercept=0.0, counters=(), curvature=None) -> Update:
    """An update with gradients `val` at buckets `idx` and, unless given, a curvature of 1 at each
    (sent times CURVATURE_SCALE, as devices send it)."""
    curvature = [1.0] * len(idx) if curvature is None else curvature
    return Update(0, 1, intercept, idx, val, counters=tuple(counters), curvature=[h * CURVATURE_SCALE for h in curvature])


def test_without_noise_each_weight_takes_eta_times_the_newton_step_of_the_summed_evidence(tmp_path):
    store = make_store(tmp_path, noise_multiplier=0.0, epsilon_budget=None, learning_rate=0.5, clip_norm=100.0)
    first = close(store, [delta([1, 2], [0.4, 0.2], intercept=0.2), delta([2, 3], [0.6, -0.2])])
    assert first["version"] == 1
    assert first["intercept"] == posterior.PRIOR_INTERCEPT  # no curvature was sent for it: no evidence
    assert first["weights"] == pytest.approx({1: 0.5 * 0.4 / (2 + 1), 2: 0.5 * 0.8 / (2 + 2), 3: 0.5 * -0.2 / (2 + 1)})
    second = close(store, [delta([1], [0.2])])  # the precision grew to 3: this evidence moves it less
    assert second["weights"][1] == pytest.approx(first["weights"][1] + 0.5 * 0.2 / (3 + 1))
    _, buckets, precisions = store.model_precisions("s", 2)
    assert dict(zip(buckets.tolist(), precisions.tolist())) == {1: 4.0, 2: 4.0, 3: 3.0}
    assert [r["devices"] for r in store.rounds("s")] == [2, 1]


def test_the_server_clips_every_update_gradient_and_curvature_whatever_the_device_sent(tmp_path):
    store = make_store(tmp_path, noise_multiplier=0.0, epsilon_budget=None, clip_norm=1.0)
    # Sent: (300, 400), clipped to (0.6, 0.8), a curvature of 0.08; and (0.5, 0.5) as it is.
    new = close(store, [delta([0], [300.0], curvature=[40.0]), delta([2], [0.5], curvature=[0.05])])
    assert new["weights"] == pytest.approx({0: 0.6 / (2 + 0.08), 2: 0.5 / (2 + 0.05)})


def test_the_trimmed_mean_ignores_a_poisoned_delta_that_moves_the_mean(tmp_path):
    honest = [delta([0], [0.1]) for _ in range(9)]
    poisoned = delta([0, 1], [-0.7, 0.7])
    mean = close(make_store(tmp_path / "mean", noise_multiplier=0.0, epsilon_budget=None), [*honest, poisoned])
    trimmed_store = make_store(tmp_path / "trimmed", noise_multiplier=0.0, epsilon_budget=None, aggregator="trimmed_mean",
                               trim=0.1)
    trimmed = close(trimmed_store, [*honest, poisoned])
    assert mean["weights"] == pytest.approx({0: 0.2 / (2 + 10), 1: 0.7 / (2 + 1)})
    # the -0.7 and the 0.7 are the trimmed extremes: the sums are 10 times the trimmed means
    assert trimmed["weights"] == pytest.approx({0: 1.0 / (2 + 10)})


def test_noise_of_std_sigma_c_on_every_sum_moves_only_the_buckets_whose_curvature_stands_above_it(tmp_path):
    store = make_store(tmp_path, buckets_bits=14, noise_multiplier=2.0, clip_norm=500.0, epsilon_budget=None)
    new = close(store, [delta([7], [10.0], curvature=[40.0]) for _ in range(4)])  # G = 40, H = 160, noise 1000
    # The sums of every bucket were noised (which moved says nothing), but only a curvature above
    # 4 deviations of its noise (1000 / CURVATURE_SCALE) is evidence: bucket 7's 160 is not.
    assert new["weights"] == {}
    loud = make_store(tmp_path / "loud", buckets_bits=14, noise_multiplier=0.002, clip_norm=500.0, epsilon_budget=None)
    moved = close(loud, [delta([7], [10.0], curvature=[40.0]) for _ in range(4)])["weights"]
    assert list(moved) == [7] and moved[7] == pytest.approx(40 / (2 + 160), rel=0.05)


def test_a_noisy_round_moves_an_examples_logit_as_far_as_a_noiseless_one_at_the_same_learning_rate():
    # Two buckets always seen together, and the intercept: the curvature-weighted share of its
    # Newton step each weight takes, times η, is the same with and without noise (η ≤ 1).
    precisions, curvature = np.full(3, 2.0), np.array([400.0, 400.0, 400.0])
    gradient = np.array([-8.0, 20.0, 20.0])

    def logit_step(noise: tuple[float, float]) -> float:
        weights, _ = posterior.step(np.zeros(3), precisions, gradient, curvature, noise, learning_rate=0.1)
        return float(np.sum(weights[1:] / (gradient[1:] / curvature[1:])))  # in Newton steps

    assert logit_step((30.0, 3.0)) == pytest.approx(logit_step((0.0, 0.0)))
    assert posterior.step_size(0.1, precisions, curvature, (30.0, 3.0)) > 0.1
    assert posterior.step_size(0.5, precisions, curvature, (1e4, 3.0)) == 1.0  # never past the posterior's own step


def test_counters_are_summed_per_round_and_noised_when_configured(tmp_path):
    hero = [Counter("hero", "a", "personalized", 10, 2), Counter("hero", "a", "holdout", 5, 0)]
    exact = make_store(tmp_path / "exact", noise_multiplier=0.0, epsilon_budget=None)
    close(exact, [delta([], [], counters=hero), delta([], [], counters=hero[:1])])
    assert [(r["arm"], r["impressions"], r["clicks"]) for r in exact.round_counters("s", 1)] == [
        ("holdout", 5.0, 0.0), ("personalized", 20.0, 4.0)]
    noisy = make_store(tmp_path / "noisy", noise_multiplier=0.0, epsilon_budget=None, counter_noise=3.0)
    close(noisy, [delta([], [], counters=hero), delta([], [], counters=hero[:1])])
    rows = noisy.round_counters("s", 1)
    assert len(rows) == 2 and all(r["impressions"] not in (5.0, 20.0) for r in rows)


def round_state(pending: int = 2, **config) -> RoundState:
    """Round 5 of a site of 3 buckets, `pending` updates in, closing at two."""
    config = RoundConfig(min_devices=1, target_devices=2, **{**EXACT, "learning_rate": 0.5, "noise_multiplier": 0.0,
                                                               "epsilon_budget": None, **config})
    return RoundState("s", buckets=3, version=4, config=config, closed=[], pending=pending, opened_at=0.0)


# Two devices' gradients G = (0.5 | 0.6, 0, -0.6) and curvatures H = (1 | 2, 0, 2), sent times 10.
SENT = [Delta(0.5, [0], [0.4], 10.0, [10.0]), Delta(0.0, [0, 2], [0.2, -0.6], 0.0, [10.0, 20.0])]
WEIGHTS, PRECISIONS = np.array([-1.0, 0.3, 0.0, 0.0]), np.array([2.0, 3.0, 2.0, 2.0])


def test_closing_a_round_is_a_function_of_the_state_the_model_and_the_updates():
    done = closing(round_state(), WEIGHTS, PRECISIONS, SENT, [[], []], now=100.0, rng=np.random.default_rng(0))
    # w' = w + η G / (P + H) with η = 0.5; bucket 1 measured nothing and stays
    assert done.weights == pytest.approx([-1 + 0.5 * 0.5 / 3, 0.3 + 0.5 * 0.6 / 5, 0.0, 0.5 * -0.6 / 4])
    assert done.precisions.tolist() == [3.0, 5.0, 2.0, 4.0]
    intercept, buckets, weights = done.model()
    assert (intercept, buckets.tolist(), weights.tolist()) == (pytest.approx(-1 + 0.25 / 3), [0, 2], [0.36, -0.075])
    intercept_precision, buckets, precisions = done.stated_precisions()
    assert (intercept_precision, buckets.tolist(), precisions.tolist()) == (3.0, [0, 2], [5.0, 4.0])
    assert done.round == {"version": 5, "closed_at": 100.0, "reason": "target_devices", "devices": 2,
                          "noise_multiplier": 0.0, "clip_norm": 100.0, "learning_rate": 0.5, "aggregator": "mean",
                          "epsilon": None, "delta": 1e-6}
    assert (done.noise, done.counters, done.keep_from) == ((0.0, 0.0), {}, 3)  # versions 3, 4 and 5 kept


def test_closing_draws_the_gradients_noise_then_the_curvatures_then_the_counters():
    hero = [Counter("hero", "a", "personalized", 10, 2)]
    state = round_state(noise_multiplier=0.01, counter_noise=2.0)  # σC = 1 on the gradients, 1 on the sent curvatures
    done = closing(state, WEIGHTS, PRECISIONS, SENT, [hero, hero], now=100.0, rng=np.random.default_rng(7))
    draws = np.random.default_rng(7)
    gradient = np.array([0.5, 0.6, 0.0, -0.6]) + draws.normal(0.0, 1.0, 4)
    curvature = (np.array([10.0, 20.0, 0.0, 20.0]) + draws.normal(0.0, 1.0, 4)) / CURVATURE_SCALE
    counted = np.array([20.0, 4.0]) + draws.normal(0.0, 2.0, (1, 3))[0, :2]
    weights, precisions = posterior.step(WEIGHTS, PRECISIONS, gradient, curvature, (1.0, 0.1), learning_rate=0.5)
    assert done.weights.tolist() == weights.tolist() and done.precisions.tolist() == precisions.tolist()
    assert done.counters[("hero", "a", "personalized")][:2] == counted.tolist()
    assert done.noise == (1.0, 0.1) and 0 < done.round["epsilon"] < math.inf


@pytest.mark.parametrize("state, why", [(round_state(pending=0), "it is not due"),
                                        (round_state(noise_multiplier=1.0, epsilon_budget=0.5), "over the budget")])
def test_a_round_that_cannot_close_is_refused_saying_why_and_draws_nothing(state, why):
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    with pytest.raises(ValueError, match=f"round 5 of s cannot close: .*{why}"):
        closing(state, WEIGHTS, PRECISIONS, SENT, [[], []], now=100.0, rng=rng)
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("field, value", [("min_devices", 0), ("clip_norm", -1.0), ("aggregator", "median"),
                                          ("trim", 0.5), ("participation_rate", 0.0), ("delta", 1.0)])
def test_a_bad_round_config_is_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"{field} cannot be {value!r}"):
        RoundConfig(**{field: value})


@pytest.mark.parametrize("field, value", [("min_devices", 2.5), ("learning_rate", "1"), ("epsilon_budget", True),
                                          ("round_seconds", math.inf), ("clip_norm", math.nan)])
def test_a_round_config_of_the_wrong_type_is_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"{field} must be"):
        RoundConfig(**{field: value})


# Over HTTP, against the real server and its writer thread.

def test_a_round_closes_when_enough_devices_took_part_and_stale_updates_are_refused(db):
    with site_server(db, noise_multiplier=0.0, epsilon_budget=None, **EXACT, min_devices=2, target_devices=3,
                     max_staleness=0) as server:
        for bucket in (1, 2, 3):
            assert send(server, update([bucket], [0.3])).status_code == 202
        published = wait_for_version(server, 1)
        assert dict(published["weights"]) == pytest.approx({1: 0.1, 2: 0.1, 3: 0.1})  # 0.3 / (2 + 1)
        stale = send(server, update([1], [0.3], base_version=0))
        assert stale.status_code == 409
        assert stale.json() == {"error": "stale_update",
                                "detail": "base_version 0 is stale: the server accepts versions 1 to 1"}
        assert server.db()["updates"].count_where("round = 2") == 0
        assert send(server, update([1], [0.3], base_version=1)).status_code == 202


def test_a_round_closes_at_its_deadline_once_it_has_the_minimum(db):
    with site_server(db, noise_multiplier=0.0, epsilon_budget=None, **EXACT, min_devices=2, target_devices=100,
                     round_seconds=0.5) as server:
        assert send(server, update([4], [0.2])).status_code == 202
        time.sleep(1.5)  # past the deadline: one device is below the minimum all the same
        assert model(server)["version"] == 0
        assert send(server, update([5], [0.4])).status_code == 202
        published = wait_for_version(server, 1)
        assert dict(published["weights"]) == pytest.approx({4: 0.2 / 3, 5: 0.4 / 3})
        round_ = next(server.db()["rounds"].rows_where("site = ? AND version = 1", [SITE]))
        assert (round_["reason"], round_["devices"], round_["epsilon"]) == ("deadline", 2, None)
        assert math.isclose(published["intercept"], posterior.PRIOR_INTERCEPT)  # no evidence on it: the prior


def test_two_server_processes_on_one_database_close_each_round_once(db):
    db_path = db
    with site_server(db_path, noise_multiplier=0.0, epsilon_budget=None, **EXACT, min_devices=4, target_devices=4) as first, \
            running_server(db_path, "--ip-rate", "0", "--no-demo") as second:
        for server in (first, second, first, second):
            assert send(server, update([1], [0.4])).status_code == 202
        assert dict(wait_for_version(first, 1)["weights"]) == pytest.approx({1: 1.6 / (2 + 4)})
        assert dict(wait_for_version(second, 1)["weights"]) == pytest.approx({1: 1.6 / (2 + 4)})
        assert send(second, update([2], [0.4], base_version=1)).status_code == 202
        assert [(r["version"], r["devices"]) for r in first.db()["rounds"].rows_where("site = ?", [SITE])] == [(1, 4)]
        # Both answer the model with the same tag, so a device's cached copy is good whichever it asks.
        tag = httpx.get(f"{first.url}/v1/sites/{SITE}/model").headers["etag"]
        assert httpx.get(f"{second.url}/v1/sites/{SITE}/model", headers={"if-none-match": tag}).status_code == 304


RACE_SECONDS = 60


def test_two_replicas_racing_on_round_closes_for_a_minute_close_every_round_exactly_once(db):
    """Devices send to two replicas at once, and about every second update closes a round: each
    closed round holds exactly the updates of its number, and every acknowledged one is in one."""
    config = dict(noise_multiplier=0.0, epsilon_budget=None, **EXACT, min_devices=2, target_devices=2,
                  max_staleness=1_000, versions_kept=1_000_000, device_rounds_per_year=366 * 24)
    acknowledged: list[str] = []
    with site_server(db, **config) as first, running_server(db, "--ip-rate", "0", "--no-demo") as second:
        def device(server) -> None:
            with httpx.Client() as client:
                while time.monotonic() < stop:
                    try:
                        held = token(server.url)
                    except AssertionError:  # refused: the round closed while the device asked
                        continue
                    body = update([1], [0.01], base_version=held["round"] - 1, token=held)
                    if client.post(f"{server.url}/v1/sites/{SITE}/updates", json=body).status_code == 202:
                        acknowledged.append(body["update_id"])

        stop = time.monotonic() + RACE_SECONDS
        devices = [threading.Thread(target=device, args=(server,)) for server in (first, second) * 2]
        for thread in devices:
            thread.start()
        for thread in devices:
            thread.join()
        stored = first.db()
        rounds = [(r["version"], r["devices"]) for r in stored["rounds"].rows_where("site = ?", [SITE], order_by="version")]
        by_round = dict(stored.execute("SELECT round, count(*) FROM updates WHERE site = ? GROUP BY round", [SITE]).rows)
        pending = stored.value("SELECT max(version) + 1 FROM models WHERE site = ?", [SITE])
        ids = [r["update_id"] for r in stored["updates"].rows_where("site = ?", [SITE])]
    assert len(rounds) > 10
    assert [version for version, _ in rounds] == list(range(1, len(rounds) + 1))
    assert all(devices == by_round[version] >= 2 for version, devices in rounds)
    assert set(by_round) <= {*range(1, pending + 1)}
    assert sorted(acknowledged) == sorted(ids)


def test_the_open_rounds_size_is_kept_with_every_insert_and_counted_once_for_an_older_database(request, backend,
                                                                                               tmp_path, db):
    store = make_store(db)
    store.set_round_config("s", RoundConfig(min_devices=10, target_devices=10))
    store.add_updates([("s", delta([1], [0.1])) for _ in range(3)])
    store.add_updates([("s", delta([2], [0.1]))])
    assert (store.round_state("s").pending, store.db["round_sizes"].count) == (4, 1)
    older = new_database(request, backend, tmp_path / "older")
    old = connect(older)
    schema.migrate(old, to=1)
    for table in ("round_sizes", "schema_migrations"):  # as a database made before either
        old.execute(f"DROP TABLE {table}")
    old.execute("INSERT INTO sites (site, hash_bits) VALUES ('s', 4)")
    old.execute("INSERT INTO models (site, version, intercept, weights) VALUES ('s', 0, 0.0, ?)", [b""])
    old.executemany("INSERT INTO updates (site, round, received_at) VALUES ('s', 1, ?)", [(n,) for n in range(4)])
    assert Store(older).round_state("s").pending == 4


def test_a_model_stored_as_json_pairs_before_models_were_packed_still_loads_and_trains(tmp_path):
    store = make_store(tmp_path, noise_multiplier=0.0, epsilon_budget=None)
    store.db.execute("UPDATE models SET weights = ? WHERE site = 's'", ['[[1, 0.5], [3, -0.25]]'])
    assert store.model("s", 0) == (posterior.PRIOR_INTERCEPT, [(1, 0.5), (3, -0.25)])
    assert close(store, [delta([3], [0.5])])["weights"] == pytest.approx({1: 0.5, 3: -0.25 + 0.5 / 3})


def test_metrics_count_closed_rounds_their_cost_and_the_privacy_spent(db):
    with site_server(db, min_devices=2, target_devices=2, noise_multiplier=1.0, epsilon_budget=None) as server:
        # Counted from here: the metrics are the process's, and other tests' servers ran in this one.
        closed = metric(server, "p13n_rounds_closed_total", site=SITE, reason="target_devices")
        timed, opened = (metric(server, name, site=SITE) for name in ("p13n_round_close_seconds_count",
                                                                     "p13n_round_open_seconds_count"))
        for _ in range(2):
            assert send(server, update([1], [0.5])).status_code == 202
        wait_for_version(server, 1)
        deadline = time.monotonic() + 5  # the writer counts the round just after publishing it
        while metric(server, "p13n_rounds_closed_total", site=SITE, reason="target_devices") < closed + 1:
            assert time.monotonic() < deadline, "the closed round was never counted"
            time.sleep(0.05)
        assert metric(server, "p13n_round_close_seconds_count", site=SITE) == timed + 1
        assert metric(server, "p13n_round_open_seconds_count", site=SITE) == opened + 1
        assert metric(server, "p13n_privacy_epsilon", site=SITE) == pytest.approx(model_epsilon(server))


def test_old_versions_and_the_updates_of_their_rounds_are_pruned_the_round_summaries_stay(db):
    store = make_store(db, noise_multiplier=1.0, epsilon_budget=None, versions_kept=3, max_staleness=1)
    for round_ in range(1, 6):
        close(store, [Update(round_ - 1, 1, 0.0, [1], [0.1], update_id=f"u{round_}")])
    assert [row["version"] for row in store.db["models"].rows_where("site = 's'", order_by="version")] == [3, 4, 5]
    assert sorted({row["round"] for row in store.db["updates"].rows_where("site = 's'")}) == [3, 4, 5]
    assert [r["version"] for r in store.rounds("s")] == [1, 2, 3, 4, 5]
    assert store.round_state("s").version == 5


def test_updates_are_kept_as_long_as_a_replay_of_them_could_join_a_round(db):
    store = make_store(db, noise_multiplier=0.0, epsilon_budget=None, versions_kept=1, max_staleness=2)
    close(store, [Update(0, 1, 0.0, [1], [0.1], update_id="early")])
    close(store, [Update(1, 1, 0.0, [1], [0.1])])
    assert [row["version"] for row in store.db["models"].rows_where("site = 's'", order_by="version")] == [0, 1, 2]
    assert store.add_updates([("s", Update(0, 1, 0.0, [1], [0.1], update_id="early"))]) == [None]  # a replay
    close(store, [Update(2, 1, 0.0, [1], [0.1])])
    assert [row["version"] for row in store.db["models"].rows_where("site = 's'", order_by="version")] == [1, 2, 3]
