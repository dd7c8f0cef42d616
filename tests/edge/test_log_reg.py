"""The logistic regression's state, and how it refuses bad input.

Its agreement with River's is tested in test_parity.py.
"""

from __future__ import annotations

import json
import math
import random

import pytest

from edge import linear_model, optim

OPTIMIZERS = {
    "SGD": lambda: optim.SGD(0.1),
    "Adam": lambda: optim.Adam(0.05),
    "FTRLProximal": lambda: optim.FTRLProximal(l1=0.1),
}


def hashed_stream(n: int, seed: int = 7):
    rng = random.Random(seed)
    for _ in range(n):
        x = {rng.randrange(2**18): rng.choice([1.0, 0.5, 2.0]) for _ in range(rng.randrange(1, 12))}
        yield x, rng.random() < 0.3


def trained_model(optimizer: str = "SGD", l2: float = 0.01) -> linear_model.LogisticRegression:
    model = linear_model.LogisticRegression(optimizer=OPTIMIZERS[optimizer](), l2=l2)
    for x, y in hashed_stream(300):
        model.learn_one(x, y)
    return model


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_state_round_trips_through_json_exactly(optimizer):
    model = trained_model(optimizer)
    state = model.to_dict()

    restored = linear_model.LogisticRegression.from_dict(json.loads(json.dumps(state)))

    assert restored.to_dict() == state
    for x, y in hashed_stream(100, seed=8):
        assert restored.predict_proba_one(x) == model.predict_proba_one(x)
        restored.learn_one(x, y)
        model.learn_one(x, y)
    assert restored.to_dict() == model.to_dict()


def test_weights_are_a_read_only_view():
    model = trained_model()
    with pytest.raises(TypeError):
        model.weights[1] = 5.0  # type: ignore[index]


@pytest.mark.parametrize(
    "value, shown",
    [
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        ("1.0", "'1.0'"),
        (None, "None"),
        ([1.0], r"\[1.0\]"),
    ],
)
def test_a_feature_that_is_not_a_finite_number_is_refused_and_changes_nothing(value, shown):
    model = trained_model()
    before = model.to_dict()
    x = {"device:mobile": 1.0, "topic:sports": value}
    message = f"feature 'topic:sports' has value {shown}; feature values must be finite numbers"

    with pytest.raises(ValueError, match=message):
        model.learn_one(x, True)
    with pytest.raises(ValueError, match=message):
        model.predict_proba_one(x)

    assert model.to_dict() == before


@pytest.mark.parametrize("label", ["yes", 2, None])
def test_a_label_that_is_not_a_boolean_is_refused_and_changes_nothing(label):
    model = trained_model()
    before = model.to_dict()
    with pytest.raises(ValueError, match=f"label must be True or False, got {label!r}"):
        model.learn_one({1: 1.0}, label)
    assert model.to_dict() == before


def test_a_sample_weight_that_is_not_finite_is_refused_and_changes_nothing():
    model = trained_model()
    before = model.to_dict()
    with pytest.raises(ValueError, match="sample weight must be a finite number, got nan"):
        model.learn_one({1: 1.0}, True, w=math.nan)
    assert model.to_dict() == before


def test_the_state_of_something_else_is_refused():
    state = optim.SGD().to_dict()
    with pytest.raises(ValueError, match="state describes 'SGD', not 'LogisticRegression'"):
        linear_model.LogisticRegression.from_dict(state)


def test_an_unknown_optimizer_in_state_is_a_clear_error():
    state = linear_model.LogisticRegression().to_dict()
    state["optimizer"]["name"] = "Nesterov"
    with pytest.raises(ValueError, match="unknown optimizer in state: 'Nesterov'"):
        linear_model.LogisticRegression.from_dict(state)
