"""The device's side of federated learning: deltas, clipping, merging, reading global models."""

from __future__ import annotations

import math

import pytest

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


@pytest.mark.parametrize("served, problem", [
    ([], "global model must be an object"),
    ({"version": True, "intercept": 0, "weights": []}, "version must be a whole number"),
    ({"version": 1, "intercept": "0", "weights": []}, "intercept must be a finite number"),
    ({"version": 1, "intercept": 0, "weights": [[1]]}, r"weights\[0\] must be a \[bucket, value\] pair"),
    ({"version": 1, "intercept": 0, "weights": [[1.5, 1.0]]}, r"bucket must be a whole number from 0 to 15"),
    ({"version": 1, "intercept": 0, "weights": [[1, None]]}, r"weights\[0\] value must be a finite number"),
    ({"version": 1, "intercept": 0, "weights": [], "precisions": [[1, -2.0]]}, "must be positive"),
])
def test_a_bad_global_model_names_its_problem(served, problem):
    with pytest.raises(ValueError, match=problem):
        GlobalModel.parse(served, buckets=16)
