"""Our logistic regression and River's, fed the same stream, agree on every prediction.

Each optimizer runs with and without L2 on two streams: River's bundled Phishing
data set (dense, 9 features) and a hashed sparse stream shaped like the engine's
(about 20 active features out of 2**18 hashed keys, many of them rare).
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Iterator

import pytest
from river import datasets
from river import linear_model as river_linear_model
from river import optim as river_optim

from edge import linear_model, optim

TOLERANCE = 1e-9

# (ours, River's) optimizer factories with the same hyperparameters.
OPTIMIZERS: dict[str, tuple[Callable, Callable]] = {
    "SGD": (lambda: optim.SGD(0.1), lambda: river_optim.SGD(0.1)),
    "Adam": (lambda: optim.Adam(0.05), lambda: river_optim.Adam(0.05)),
    "FTRL": (lambda: optim.FTRLProximal(), lambda: river_optim.FTRLProximal()),
    "FTRL-L1": (
        lambda: optim.FTRLProximal(alpha=0.1, beta=0.5, l1=0.5, l2=0.1),
        lambda: river_optim.FTRLProximal(alpha=0.1, beta=0.5, l1=0.5, l2=0.1),
    ),
}


def hashed_sparse_stream(n: int, seed: int = 42) -> Iterator[tuple[dict[int, float], bool]]:
    """Context features crossed with an item's, hashed; clicks follow hidden weights."""
    rng = random.Random(seed)
    dimension = 2**18
    contexts = [f"{kind}={rng.randrange(8)}" for kind in ("device", "hour", "referrer", "page")]
    items = [f"item={i}" for i in range(40)]
    taste = {name: rng.gauss(0, 1) for name in contexts + items}
    for _ in range(n):
        context = rng.sample(contexts, 3) + [f"interest={rng.randrange(500)}"]
        item = rng.choice(items)
        names = context + [item] + [f"{c}&{item}" for c in context]
        x = {zlib.crc32(name.encode()) % dimension: 1.0 for name in names}
        # Decayed behaviour counts give the stream values other than 1.
        seen = [f"seen:{topic}" for topic in range(rng.randrange(25))]
        x.update({zlib.crc32(name.encode()) % dimension: rng.random() * 3 for name in seen})
        logit = -1.5 + sum(taste.get(name, 0.0) for name in names)
        yield x, rng.random() < 1 / (1 + math.exp(-logit))


STREAMS: dict[str, Callable[[], Iterator]] = {
    "phishing": lambda: iter(datasets.Phishing()),
    "hashed": lambda: hashed_sparse_stream(2000),
}


@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("stream", STREAMS)
def test_every_prediction_and_the_final_weights_match_river(stream, optimizer, l2):
    make_ours, make_rivers = OPTIMIZERS[optimizer]
    ours = linear_model.LogisticRegression(optimizer=make_ours(), l2=l2)
    river = river_linear_model.LogisticRegression(optimizer=make_rivers(), l2=l2)

    for i, (x, y) in enumerate(STREAMS[stream]()):
        expected = river.predict_proba_one(x)[True]
        assert abs(ours.predict_proba_one(x)[True] - expected) <= TOLERANCE, f"prediction {i}"
        ours.learn_one(x, y)
        river.learn_one(x, y)

    assert ours.weights.keys() == river.weights.keys()
    assert max(abs(w - river.weights[i]) for i, w in ours.weights.items()) <= TOLERANCE
    assert abs(ours.intercept - river.intercept) <= TOLERANCE
    assert ours.optimizer.n_iterations == river.optimizer.n_iterations


@pytest.mark.parametrize(
    "options",
    [
        {"intercept_init": 0.5, "intercept_lr": 0.05},
        {"intercept_lr": 0.0},
        {"clip_gradient": 0.1},
    ],
    ids=["intercept-init-and-lr", "fixed-intercept", "clipped-gradient"],
)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_intercept_clipping_and_sample_weights_match_river(optimizer, options):
    make_ours, make_rivers = OPTIMIZERS[optimizer]
    ours = linear_model.LogisticRegression(optimizer=make_ours(), l2=0.01, **options)
    river = river_linear_model.LogisticRegression(optimizer=make_rivers(), l2=0.01, **options)

    for i, (x, y) in enumerate(hashed_sparse_stream(500)):
        expected = river.predict_proba_one(x)[True]
        assert abs(ours.predict_proba_one(x)[True] - expected) <= TOLERANCE, f"prediction {i}"
        ours.learn_one(x, y, w=3.0 if y else 1.0)
        river.learn_one(x, y, w=3.0 if y else 1.0)

    assert max(abs(w - river.weights[i]) for i, w in ours.weights.items()) <= TOLERANCE
    assert abs(ours.intercept - river.intercept) <= TOLERANCE
