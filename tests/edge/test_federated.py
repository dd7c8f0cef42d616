"""The device's side of federated learning: deltas, clipping, merging, reading global models."""

from __future__ import annotations

import math
import random

import pytest

from edge import Config, Personalizer
from edge.federated import GlobalModel, LinearModel, clip, delta, merge, norm


def test_a_delta_lists_only_the_buckets_that_changed_in_order():
    start = LinearModel(0.5, {3: 1.0, 9: 2.0, 4: -1.0})
    local = LinearModel(0.25, {3: 1.0, 9: 2.5, 1: 0.5})
    assert delta(local, start) == {"intercept": -0.25, "idx": [1, 4, 9], "val": [0.5, 1.0, 0.5]}


def test_clipping_scales_the_whole_vector_intercept_included():
    change = {"intercept": 3.0, "idx": [5], "val": [4.0]}
    assert norm(change) == 5.0
    clipped = clip(change, 1.0)
    assert clipped == {"intercept": pytest.approx(0.6), "idx": [5], "val": [pytest.approx(0.8)]}
    assert norm(clipped) == pytest.approx(1.0)
    assert clip(change, 5.0) is change


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_a_clip_norm_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="clip norm must be a positive number"):
        clip({"intercept": 0.0, "idx": [], "val": []}, bad)


def test_merging_keeps_the_personal_residual():
    old, new = {1: 1.0, 2: 0.5}, {1: 2.0, 3: -1.0}
    local = {1: 1.5, 2: 0.5, 4: 0.25}
    assert merge(local, old, new) == {1: 2.5, 3: -1.0, 4: 0.25}  # 2 dropped: it is back to the default
    assert merge(local, old, old) == local


def test_merging_precisions_counts_missing_ones_as_the_prior():
    assert merge({1: 12.0}, {}, {1: 30.0, 2: 15.0}, default=10.0) == {1: 32.0, 2: 15.0}


def test_a_global_model_reads_what_the_server_serves_and_round_trips():
    served = {"site": "shop", "version": 4, "intercept": -1, "weights": [[7, 0.5], [3, -2]], "precisions": [[7, 12.5]]}
    model = GlobalModel.parse(served, buckets=16)
    assert model == GlobalModel(intercept=-1.0, weights={7: 0.5, 3: -2.0}, version=4, precisions={7: 12.5})
    assert GlobalModel.parse(model.to_dict(), buckets=16) == model
    assert GlobalModel.parse({"version": 0, "intercept": 0.0, "weights": []}, buckets=16).precisions == {}
    noisy = GlobalModel.parse({**served, "noise_variance": 0.25}, buckets=16)
    assert noisy.noise_variance == 0.25 and GlobalModel.parse(noisy.to_dict(), buckets=16) == noisy
    assert model.noise_variance == 0.0  # an older server states none: a noiseless model


def test_a_noiseless_global_model_is_taken_as_it_is():
    model = GlobalModel(weights={1: 0.5, 2: -0.25})
    assert model.prior() == model.weights


def test_the_noisier_the_global_model_the_less_a_device_takes_from_it():
    rng = random.Random(3)
    signal = {bucket: rng.gauss(0.0, 0.3) for bucket in range(1024)}
    taken = []
    for variance in (0.0, 0.01, 0.1, 1.0, 10.0):
        noisy = {bucket: w + rng.gauss(0.0, math.sqrt(variance)) for bucket, w in signal.items()}
        prior = GlobalModel(weights=noisy, noise_variance=variance).prior()
        error = math.fsum((prior.get(b, 0.0) - w) ** 2 for b, w in signal.items())
        raw_error = math.fsum((noisy[b] - w) ** 2 for b, w in signal.items())
        assert error <= raw_error  # shrinking never moves the weights further from the truth, in sum
        assert error <= 1.1 * math.fsum(w * w for w in signal.values())  # nor much further than 0 (alone)
        taken.append(math.fsum(map(abs, prior.values())))
    assert taken == sorted(taken, reverse=True)


def test_a_very_noisy_global_model_leaves_a_device_where_learning_alone_would():
    hero = [{"id": v, "features": [f"topic:{v}"]} for v in ("news", "sports", "travel")]

    def learned(model: dict | None) -> Personalizer:
        engine = Personalizer(Config(hash_bits=10, policy="thompson", seed=5))
        if model is not None:
            engine.merge_global(model)
        for i in range(40):
            decision = engine.decide("hero", hero, {"device": "mobile"}, at=i)
            if decision.ranking[0] == "sports":
                engine.learn({"type": "click", "decision": decision.id, "variant": "sports", "at": i})
        return engine

    rng = random.Random(8)
    noise = [[bucket, rng.gauss(0.0, 30.0)] for bucket in range(1 << 10)]  # variance 900 a weight
    alone = learned(None)
    noisy = learned({"version": 1, "intercept": 0.0, "weights": noise, "noise_variance": 900.0})
    assert dict(noisy.model.weights) == pytest.approx(dict(alone.model.weights))
    assert noisy.decide("hero", hero, {"device": "mobile"}, at=50).ranking[0] == "sports"
    # Without the stated variance the same weights would swamp what the visitor taught it.
    swamped = learned({"version": 1, "intercept": 0.0, "weights": noise})
    assert dict(swamped.model.weights) != pytest.approx(dict(alone.model.weights))


@pytest.mark.parametrize("served, problem", [
    ([], "global model must be an object"),
    ({"version": True, "intercept": 0, "weights": []}, "version must be a whole number"),
    ({"version": 1, "intercept": "0", "weights": []}, "intercept must be a finite number"),
    ({"version": 1, "intercept": 0, "weights": [[1]]}, r"weights\[0\] must be a \[bucket, value\] pair"),
    ({"version": 1, "intercept": 0, "weights": [[1.5, 1.0]]}, r"bucket must be a whole number from 0 to 15"),
    ({"version": 1, "intercept": 0, "weights": [[1, None]]}, r"weights\[0\] value must be a finite number"),
    ({"version": 1, "intercept": 0, "weights": [], "precisions": [[1, -2.0]]}, "must be positive"),
    ({"version": 1, "intercept": 0, "weights": [[1, 1.0], [1, True]]}, r"weights\[1\] value must be a finite number"),
    ({"version": 1, "intercept": 0, "weights": [], "noise_variance": -1.0}, "noise_variance must be >= 0"),
    ({"version": 1, "intercept": 0, "weights": [], "noise_variance": "0"}, "noise_variance must be a finite number"),
])
def test_a_bad_global_model_names_its_problem(served, problem):
    with pytest.raises(ValueError, match=problem):
        GlobalModel.parse(served, buckets=16)
