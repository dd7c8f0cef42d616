"""The standard-library logistic regression follows River's step for step."""

from __future__ import annotations

import json
import random

import pytest
from river import linear_model as river_linear_model
from river import optim as river_optim

from edge import linear_model, optim


def sparse_stream(n: int, seed: int = 7):
    rng = random.Random(seed)
    for _ in range(n):
        x = {f"f{rng.randrange(200)}": rng.choice([1.0, 0.5, 2.0]) for _ in range(rng.randrange(1, 12))}
        yield x, rng.random() < 0.3 + 0.4 * ("f7" in x)


@pytest.mark.parametrize("lr, l2", [(0.01, 0.0), (0.1, 0.0), (0.05, 0.01)])
def test_predictions_match_river_on_a_sparse_stream(lr, l2):
    ours = linear_model.LogisticRegression(optimizer=optim.SGD(lr), l2=l2)
    river = river_linear_model.LogisticRegression(optimizer=river_optim.SGD(lr), l2=l2)
    for x, y in sparse_stream(2000):
        assert ours.predict_proba_one(x)[True] == pytest.approx(river.predict_proba_one(x)[True], abs=1e-9)
        ours.learn_one(x, y)
        river.learn_one(x, y)
    assert ours.intercept == pytest.approx(river.intercept, abs=1e-9)


def test_state_round_trips_through_json_exactly():
    model = linear_model.LogisticRegression(optimizer=optim.SGD(0.1))
    for x, y in sparse_stream(300):
        model.learn_one({hash(k) % 1000: v for k, v in x.items()}, y)
    restored = linear_model.LogisticRegression.from_dict(json.loads(json.dumps(model.to_dict())))
    assert restored.to_dict() == model.to_dict()
    probe = {5: 1.0, 17: 2.0}
    assert restored.predict_proba_one(probe) == model.predict_proba_one(probe)


def test_an_unknown_optimizer_in_state_is_a_clear_error():
    state = linear_model.LogisticRegression().to_dict()
    state["optimizer"]["name"] = "Nesterov"
    with pytest.raises(ValueError, match="unknown optimizer in state: 'Nesterov'"):
        linear_model.LogisticRegression.from_dict(state)
