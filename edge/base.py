"""The estimator API shared by every learner in `edge`, mirroring River's.

A learner sees one example at a time: `learn_one(x, y)` updates it at once and
`predict_proba_one(x)` scores the next example with what it has learned so far.
Features are a sparse dict from feature key to value. State is a plain dict that
survives a JSON round trip exactly, so the browser can keep it in IndexedDB.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

Features = dict[Hashable, float]
State = dict[str, Any]


class Classifier(abc.ABC):
    """A binary online classifier."""

    @abc.abstractmethod
    def learn_one(self, x: Features, y: bool) -> None:
        """Update the model with one labelled example."""

    @abc.abstractmethod
    def predict_proba_one(self, x: Features) -> dict[bool, float]:
        """Return the probability of each label for `x`."""

    def predict_one(self, x: Features) -> bool:
        """Return the most likely label for `x`."""
        proba = self.predict_proba_one(x)
        return proba[True] > proba[False]


class LinearClassifier(Classifier):
    """A classifier whose logit is `intercept + Σ weights[k] · x[k]`: what the engine ranks with.

    Besides learning, the engine calls three hooks, which this base class answers for a
    learner with nothing to add: `settle` does nothing, and `take_weights` and `to_dict`
    raise a TypeError naming the learner. The built-in `edge.linear_model.LogisticRegression`
    fills all three, and says it `takes_weights`.
    """

    intercept: float
    takes_weights = False  # whether `take_weights` takes them

    @property
    @abc.abstractmethod
    def weights(self) -> Mapping[Hashable, float]:
        """The weight of each feature seen so far."""

    @property
    def name(self) -> str:
        """What the learner is called in errors."""
        return type(self).__name__

    def settle(self, x: Features) -> None:
        """Bring the weights of `x`'s features up to date after `learn_one(x, ...)`, so that
        the next prediction reflects that example. Most learners already are."""

    def take_weights(self, intercept: float, weights: Mapping[Hashable, float]) -> None:
        """Take `intercept` and `weights` as the model's own from now on, though they were set
        from outside (a federated merge, an interest the visitor declared)."""
        raise TypeError(f"{self.name} cannot take weights set from outside (a global model, a declared interest): "
                        "that needs the built-in LogisticRegression")

    def to_dict(self) -> State:
        """The whole state as JSON types, for a learner that has one."""
        raise TypeError(f"{self.name} has no JSON state; only the built-in LogisticRegression has")


class Stateful(abc.ABC):
    """An object whose whole state is a JSON-able dict."""

    @abc.abstractmethod
    def to_dict(self) -> State:
        """Return the state as a dict of JSON types that `from_dict` restores exactly."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, state: State) -> Stateful:
        """Rebuild an object from what `to_dict` returned."""


S = TypeVar("S", bound=Stateful)


def to_pairs(table: dict) -> list[list]:
    """A per-feature table as `[key, value]` pairs, ready for JSON.

    A JSON object would turn integer feature keys into strings; pairs keep them, and
    `dict(pairs)` turns them back into the table.

    >>> import json
    >>> pairs = to_pairs({7: 0.5, "topic:news": -1.25})
    >>> dict(json.loads(json.dumps(pairs)))
    {7: 0.5, 'topic:news': -1.25}
    """
    return [[key, value] for key, value in table.items()]


def rng_state(rng: random.Random) -> list:
    """A random generator's state as JSON types, which `restore_rng` takes back.

    >>> import json
    >>> rng = random.Random(5)
    >>> copy = restore_rng(json.loads(json.dumps(rng_state(rng))))
    >>> copy.random() == rng.random()
    True
    """
    version, internal, gauss_next = rng.getstate()
    return [version, list(internal), gauss_next]


def restore_rng(state: list) -> random.Random:
    """A random generator in the state `rng_state` gave."""
    version, internal, gauss_next = state
    rng = random.Random()
    rng.setstate((version, tuple(internal), gauss_next))
    return rng


def rebuild(kinds: dict[str, type[S]], state: State, kind: str) -> S:
    """Rebuild whichever of `kinds` (by name) `state` describes; ValueError naming an unknown one."""
    try:
        chosen = kinds[state["name"]]
    except KeyError:
        raise ValueError(f"unknown {kind} in state: {state.get('name')!r}; expected one of {sorted(kinds)}") from None
    return chosen.from_dict(state)


def check_state_name(state: State, expected: str) -> None:
    """Refuse a state dict that describes some other kind of object."""
    if state.get("name") != expected:
        raise ValueError(f"state describes {state.get('name')!r}, not {expected!r}")
