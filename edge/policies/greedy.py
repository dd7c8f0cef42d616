"""Always show what the learner thinks is best."""

from __future__ import annotations

import random

from edge.policies.base import Policy


class Greedy(Policy):
    """Rank by the learner's click probability alone, never exploring.

    Cheap and deterministic, but it can lock onto an early favourite: a candidate
    that started unlucky is never shown high enough to prove itself.

    >>> import random
    >>> from edge import linear_model, policies
    >>> model = linear_model.LogisticRegression()
    >>> model.learn_one({"sports": 1.0}, True)
    >>> policy = policies.Greedy()
    >>> candidates = {"news": {"news": 1.0}, "sports": {"sports": 1.0}}
    >>> policy.rank(candidates, model, random.Random(0)).arms
    ['sports', 'news']
    >>> policy.pull(candidates, model, random.Random(0))
    'sports'
    """

    name = "greedy"

    def _scores(self, logits: dict[str, float], variances: dict[str, float] | None, rng: random.Random) -> dict[str, float]:
        return logits
