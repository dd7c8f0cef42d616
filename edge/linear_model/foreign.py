"""A linear learner from another library, behind the engine's learner API."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from edge.base import Features, LinearClassifier


class ForeignLearner(LinearClassifier):
    """Another library's online linear classifier (River's `LogisticRegression`, say), as the
    engine's learner: it learns and predicts, and the `LinearClassifier` defaults answer the
    rest: it has no JSON state and takes no weights from outside.

    Any object with `learn_one`, `predict_proba_one`, `weights` and `intercept` will do.

    >>> from river import linear_model
    >>> learner = ForeignLearner(linear_model.LogisticRegression())
    >>> learner.learn_one({"topic:news": 1.0}, True)
    >>> learner.predict_one({"topic:news": 1.0}), dict(learner.weights)
    (True, {'topic:news': 0.005})
    >>> learner.take_weights(0.0, {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: LogisticRegression cannot take weights set from outside (...): that needs the built-in LogisticRegression
    """

    def __init__(self, learner: Any) -> None:
        self.learner = learner

    @property
    def name(self) -> str:
        return type(self.learner).__name__

    @property
    def intercept(self) -> float:
        return self.learner.intercept

    @property
    def weights(self) -> Mapping[Hashable, float]:
        return self.learner.weights

    def learn_one(self, x: Features, y: bool) -> None:
        self.learner.learn_one(x, y)

    def predict_proba_one(self, x: Features) -> dict[bool, float]:
        return self.learner.predict_proba_one(x)


def adopt(learner: Any) -> LinearClassifier:
    """`learner` as the engine's: one of ours as it is, another library's wrapped (`ForeignLearner`)."""
    return learner if isinstance(learner, LinearClassifier) else ForeignLearner(learner)
