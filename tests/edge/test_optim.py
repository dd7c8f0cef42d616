"""Every optimizer keeps its whole state in a JSON-able dict that restores it exactly."""

from __future__ import annotations

import json
import random

import pytest

from edge import optim

OPTIMIZERS = {
    "SGD": lambda: optim.SGD(lr=0.2),
    "Adam": lambda: optim.Adam(lr=0.05, beta_1=0.8, beta_2=0.99, eps=1e-6),
    "FTRLProximal": lambda: optim.FTRLProximal(alpha=0.1, beta=0.5, l1=0.2, l2=0.3),
}


def gradients(n: int, seed: int = 3):
    """Sparse gradients over integer keys (as the engine hashes them) and string keys."""
    rng = random.Random(seed)
    for _ in range(n):
        g = {rng.randrange(10_000): rng.gauss(0, 1) for _ in range(8)}
        g[f"topic:{rng.randrange(5)}"] = rng.gauss(0, 1)
        yield g


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_round_trips_through_json_exactly(name):
    optimizer = OPTIMIZERS[name]()
    w: dict = {}
    for g in gradients(100):
        optimizer.step(w, g)

    state = optimizer.to_dict()
    restored = optim.from_dict(json.loads(json.dumps(state)))

    assert type(restored) is type(optimizer)
    assert restored.to_dict() == state
    assert json.loads(json.dumps(state)) == state  # integer keys survive as integers


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_restored_optimizer_continues_exactly_where_the_original_was(name):
    optimizer = OPTIMIZERS[name]()
    w: dict = {}
    for g in gradients(50, seed=1):
        optimizer.step(w, g)
    restored = optim.from_dict(json.loads(json.dumps(optimizer.to_dict())))
    w_restored = dict(w)

    for g in gradients(50, seed=2):
        optimizer.step(w, g)
        restored.step(w_restored, g)

    assert w_restored == w
    assert restored.to_dict() == optimizer.to_dict()


def test_each_step_is_counted():
    adam = optim.Adam()
    for g in gradients(7):
        adam.step({}, g)
    assert adam.n_iterations == 7


def test_an_unknown_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown optimizer in state: 'Nesterov'"):
        optim.from_dict({"name": "Nesterov", "lr": 0.1})


def test_another_optimizers_state_is_refused():
    with pytest.raises(ValueError, match="state describes 'SGD', not 'Adam'"):
        optim.Adam.from_dict(optim.SGD().to_dict())
