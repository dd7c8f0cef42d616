"""The policy API: order one slot's candidates from a linear click model's estimates.

A policy sees a slot's candidates as sparse feature dicts, in the page's order, and the
learner that scores them. `rank` orders them best first; `pull` is River's name for
picking one arm, the first of that order; `update` tells the policy that the learner
just learned from `x`, so policies that track their uncertainty can shrink it.
The engine reaches a policy's uncertainty through hooks every policy has, which do
nothing in a policy without one: `weight_variances`, `learned` and `merge_precisions`.
Randomness comes from the `random.Random` the caller passes in: a seeded caller makes
the same decisions every time, and keeps that generator's state with its own.

The learner may be `edge.linear_model.LogisticRegression` or River's: policies read
only its `weights` and `intercept`, which both expose.

A ranking also carries the number each arm was ranked by, so that editor rules
(`edge.rules`) can re-rank with boosts in the same units and, without any rule,
give back exactly the policy's order, exploration included.
"""

from __future__ import annotations

import abc
import dataclasses
import operator
import random
from collections.abc import Hashable, Iterable, Iterator, Mapping
from itertools import repeat
from typing import ClassVar, Protocol

from edge.base import Features, State, Stateful, to_pairs
from edge.federated import merge
from edge.linear_model.log_reg import LogisticRegression, sigmoid
from edge.validation import is_number


class LinearLearner(Protocol):
    """What a policy needs from a learner: a linear score over the features."""

    intercept: float

    @property
    def weights(self) -> Mapping[Hashable, float]: ...


@dataclasses.dataclass(frozen=True)
class Ranking:
    """A slot's arms, best first, with the learner's click probability for each and
    the finite score each was ranked by (a logit, bent by exploration)."""

    arms: list[str]
    probabilities: dict[str, float]
    scores: dict[str, float]


def readable_weights(learner: LinearLearner) -> Mapping[Hashable, float]:
    """The learner's weights, as fast to look up as they can be: the built-in learner's
    own table rather than its read-only view."""
    return learner.weight_table if isinstance(learner, LogisticRegression) else learner.weights


def dot(weights: Mapping[Hashable, float], x: Features) -> float:
    """`Σ weights[k] · x[k]` over the features of `x`; looped in C, as this is the hot path."""
    return sum(map(operator.mul, map(weights.get, x, repeat(0.0)), x.values()))


class Policy(Stateful):
    """Ranks arms by a number per arm; subclasses say how exploration bends that number."""

    name: ClassVar[str]

    def rank(self, candidates: dict[str, Features], learner: LinearLearner, rng: random.Random) -> Ranking:
        """Order `candidates` (arm -> features) best first; ties keep their given order."""
        weights, intercept = readable_weights(learner), learner.intercept
        logits = {arm: intercept + dot(weights, x) for arm, x in candidates.items()}
        return self.order(logits, self.variances(candidates), rng)

    def order(self, logits: dict[str, float], variances: dict[str, float] | None, rng: random.Random) -> Ranking:
        """Order arms by the learner's logit for each and, for policies that explore by
        uncertainty, the logit's variance (see `variances`); ties keep their given order.
        `rank` computes both from features; the engine computes them its own, faster way."""
        scores = self._scores(logits, variances, rng)
        arms = sorted(logits, key=scores.__getitem__, reverse=True)  # stable, reversed too
        return Ranking(arms, dict(zip(logits, map(sigmoid, logits.values()))), scores)

    def variances(self, candidates: dict[str, Features]) -> dict[str, float] | None:
        """The variance of each arm's logit, for policies that use it; None for the others."""
        return None

    def pull(self, candidates: dict[str, Features], learner: LinearLearner, rng: random.Random) -> str:
        """The one arm to show, as River's policies pull it."""
        return self.rank(candidates, learner, rng).arms[0]

    def update(self, x: Features, p: float) -> None:
        """Note that the learner learned from `x` and now predicts `p` for it."""

    def learned(self, x: Features, learner: LinearLearner) -> None:
        """Note that `learner` just learned from `x`: `update` with what it now predicts,
        for a policy that needs that (the prediction costs a lookup per feature)."""

    def weight_variances(self, keys: Iterable[Hashable]) -> Iterator[float] | None:
        """The variance of each weight of `keys`, in their order; None for a policy that keeps none."""
        return None

    def merge_precisions(self, old: Mapping[Hashable, float], new: Mapping[Hashable, float]) -> None:
        """A federated merge replaced the global precisions `old` by `new`: take them, keeping
        what this device learned on top (`edge.federated.merge`). Nothing to a policy that keeps none."""

    @abc.abstractmethod
    def _scores(self, logits: dict[str, float], variances: dict[str, float] | None, rng: random.Random) -> dict[str, float]:
        """The finite number to rank each arm by, given the learner's logit for it."""

    def to_dict(self) -> State:
        return {"name": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    @classmethod
    def from_dict(cls, state: State) -> Policy:
        return cls(**{k: v for k, v in state.items() if k != "name"})


class ConfidencePolicy(Policy):
    """A policy that keeps a diagonal precision (inverse variance) for every weight.

    A weight it never saw has `prior_precision`. Each learned example adds
    `x[i]² · information(p)` to the precision of each of its features; subclasses say
    how much one example informs. The intercept is left out: it is the same for every
    arm of a slot, so its uncertainty cannot change a ranking.

    The variance of an arm's logit is the *mean* of its weights' variances (weighted by
    `x[i]²`), not their sum. The features of one example are seen together (a candidate's
    tokens, each alone and crossed with every context token: some thirty), so the data
    pin down their sum, the logit, and a diagonal posterior spreads that one number's
    information over all of them: summing their variances would count the logit's
    uncertainty once per feature, and a candidate would look thirty times less known
    than it is. The mean is exact when an arm's features are always seen together (it
    is then the posterior of the logit itself, whose prior variance is
    `1 / prior_precision`), does not grow with the number of features a site sends, and
    still shrinks only where the features are known: a familiar candidate in a new
    context has new crosses, so its variance rises by their share.

    `precisions` may be replaced (a federated merge does), never changed in place: the
    policy keeps each weight's variance beside it, as a decision reads hundreds of them.
    """

    def __init__(self, prior_precision: float = 10.0) -> None:
        if not (is_number(prior_precision) and prior_precision > 0):
            raise ValueError(f"prior_precision must be a positive number, got {prior_precision!r}")
        self.prior_precision = prior_precision
        self.precisions = {}

    @property
    def precisions(self) -> dict[Hashable, float]:
        """The precision of each weight seen; the others have `prior_precision`."""
        return self._precisions

    @precisions.setter
    def precisions(self, table: dict[Hashable, float]) -> None:
        self._precisions = table
        self._variances = {k: 1.0 / v for k, v in table.items()}

    def weight_variances(self, keys: Iterable[Hashable]) -> Iterator[float]:
        """The variance of each weight, `1 / precision`, in the order of `keys`."""
        return map(self._variances.get, keys, repeat(1.0 / self.prior_precision))

    def variance(self, x: Features) -> float:
        """The variance of the logit `w · x`: the `x[i]²`-weighted mean of its weights' variances."""
        squares = list(map(operator.mul, x.values(), x.values()))
        total = sum(squares)
        return sum(map(operator.mul, squares, self.weight_variances(x))) / total if total else 0.0

    def variances(self, candidates: dict[str, Features]) -> dict[str, float]:
        return {arm: self.variance(x) for arm, x in candidates.items()}

    def learned(self, x: Features, learner: LinearLearner) -> None:
        # The Laplace posterior's precision is taken at the updated mean (Chapelle & Li, Alg. 3).
        self.update(x, sigmoid(learner.intercept + dot(readable_weights(learner), x)))

    def merge_precisions(self, old: Mapping[Hashable, float], new: Mapping[Hashable, float]) -> None:
        self.precisions = merge(self.precisions, old, new, default=self.prior_precision)

    def update(self, x: Features, p: float) -> None:
        information = self._information(p)
        precisions, variances, prior = self._precisions, self._variances, self.prior_precision
        for k, v in x.items():
            precision = precisions[k] = precisions.get(k, prior) + v * v * information
            variances[k] = 1.0 / precision

    @abc.abstractmethod
    def _information(self, p: float) -> float:
        """How much one example predicted at probability `p` adds to a unit feature's precision."""

    def to_dict(self) -> State:
        return {**super().to_dict(), "precisions": to_pairs(self.precisions)}

    @classmethod
    def from_dict(cls, state: State) -> ConfidencePolicy:
        policy = super().from_dict({k: v for k, v in state.items() if k != "precisions"})
        policy.precisions = dict(state["precisions"])
        return policy
