"""Mostly show the best; now and then, put a random candidate first."""

from __future__ import annotations

import random

from edge.policies.base import Policy


class EpsilonGreedy(Policy):
    """Greedy ranking, except that with probability `epsilon` a random arm goes first.

    The explored arm is drawn uniformly, so every candidate keeps being tried at
    a known rate, however bad it looks; the rest keep the greedy order.

    >>> import random
    >>> from edge import linear_model, optim, policies
    >>> model = linear_model.LogisticRegression(optimizer=optim.SGD(0.1))
    >>> for i in range(99):              # two clicks in three impressions
    ...     model.learn_one({"variant:old": 1.0}, i % 3 != 0)
    >>> candidates = {"old": {"variant:old": 1.0}, "new": {"variant:new": 1.0}}
    >>> policy = policies.EpsilonGreedy(epsilon=0.2)
    >>> rng = random.Random(1)
    >>> firsts = [policy.pull(candidates, model, rng) for _ in range(1000)]
    >>> firsts.count("new")              # explored about epsilon / 2 of the time
    90
    """

    name = "epsilon-greedy"

    def __init__(self, epsilon: float = 0.05) -> None:
        if not 0 <= epsilon <= 1:
            raise ValueError(f"epsilon must be between 0 and 1, got {epsilon!r}")
        self.epsilon = epsilon

    def _scores(self, logits: dict[str, float], variances: dict[str, float] | None, rng: random.Random) -> dict[str, float]:
        if rng.random() >= self.epsilon:
            return logits
        # One above the best rather than infinite: scores stay numbers an editor's boost can add to.
        return {**logits, rng.choice(list(logits)): max(logits.values()) + 1.0}
