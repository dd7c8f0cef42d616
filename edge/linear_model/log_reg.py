"""Online logistic regression over sparse features."""

from __future__ import annotations

import math

from edge import optim
from edge.base import Classifier, Features, State, Stateful


def sigmoid(z: float) -> float:
    """The logistic function, saturated like River's to avoid overflow."""
    if z < -30:
        return 0.0
    if z > 30:
        return 1.0
    return 1 / (1 + math.exp(-z))


def log_loss_gradient(y: bool, z: float) -> float:
    """Gradient of the log loss with respect to the logit `z` (River's `optim.losses.Log`)."""
    sign = 1 if y else -1
    margin = z * sign
    if margin > 18.0:
        return math.exp(-margin) * -sign
    if margin < -18.0:
        return -sign
    return -sign / (math.exp(margin) + 1.0)


class LogisticRegression(Classifier, Stateful):
    """Logistic regression trained by an online optimizer, one example at a time.

    It follows `river.linear_model.LogisticRegression` step for step (same loss,
    gradient clipping, L2 penalty and separately updated intercept), so the two give
    the same predictions on the same stream.

    >>> from edge import linear_model, optim
    >>> model = linear_model.LogisticRegression(optimizer=optim.SGD(0.5))
    >>> for _ in range(20):
    ...     model.learn_one({"topic:sports": 1.0}, True)
    ...     model.learn_one({"topic:news": 1.0}, False)
    >>> model.predict_one({"topic:sports": 1.0})
    True
    >>> round(model.predict_proba_one({"topic:news": 1.0})[True], 3)
    0.098
    """

    def __init__(
        self,
        optimizer: optim.Optimizer | None = None,
        l2: float = 0.0,
        intercept_init: float = 0.0,
        intercept_lr: float = 0.01,
        clip_gradient: float = 1e12,
    ) -> None:
        self.optimizer = optimizer if optimizer is not None else optim.SGD(0.01)
        self.l2 = l2
        self.intercept = intercept_init
        self.intercept_lr = intercept_lr
        self.clip_gradient = clip_gradient
        self._weights: dict = {}

    @property
    def weights(self) -> dict:
        return dict(self._weights)

    def _raw_dot_one(self, x: Features) -> float:
        weights = self._weights
        return sum(weights.get(k, 0.0) * v for k, v in x.items()) + self.intercept

    def learn_one(self, x: Features, y: bool, w: float = 1.0) -> None:
        self.optimizer.look_ahead(self._weights)
        loss_gradient = log_loss_gradient(y, self._raw_dot_one(x)) * w
        loss_gradient = max(-self.clip_gradient, min(self.clip_gradient, loss_gradient))
        gradient = {k: loss_gradient * v for k, v in x.items()}
        if self.l2:
            for k in gradient:
                gradient[k] += self.l2 * self._weights.get(k, 0.0)
        self.intercept -= self.intercept_lr * loss_gradient
        self.optimizer.step(self._weights, gradient)

    def predict_proba_one(self, x: Features) -> dict[bool, float]:
        p = sigmoid(self._raw_dot_one(x))
        return {False: 1.0 - p, True: p}

    def to_dict(self) -> State:
        return {
            "name": "LogisticRegression",
            "optimizer": self.optimizer.to_dict(),
            "l2": self.l2,
            "intercept": self.intercept,
            "intercept_lr": self.intercept_lr,
            "clip_gradient": self.clip_gradient,
            # Pairs, not an object: JSON would turn integer feature keys into strings.
            "weights": sorted(self._weights.items(), key=lambda kv: str(kv[0])),
        }

    @classmethod
    def from_dict(cls, state: State) -> "LogisticRegression":
        model = cls(
            optimizer=optim.from_dict(state["optimizer"]),
            l2=state["l2"],
            intercept_init=state["intercept"],
            intercept_lr=state["intercept_lr"],
            clip_gradient=state["clip_gradient"],
        )
        model._weights = {k: w for k, w in state["weights"]}
        return model
