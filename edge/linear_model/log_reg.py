"""Online logistic regression over sparse features."""

from __future__ import annotations

import math
import numbers
import types
from collections.abc import Hashable, Mapping

from edge import optim
from edge.base import Features, LinearClassifier, State, Stateful, check_state_name, to_pairs


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


def invalid_features(x: Features) -> ValueError:
    """Name the first feature whose value is not a finite number."""
    for key, value in x.items():
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            problem = f"feature {key!r} has value {value!r}"
            return ValueError(f"{problem}; feature values must be finite numbers")
    return ValueError(f"the features' weighted sum is not a finite number: {x!r}")


class LogisticRegression(LinearClassifier, Stateful):
    """Logistic regression trained by an online optimizer, one example at a time.

    The probability of a click is `sigmoid(intercept + sum(weights[i] * x[i]))`. Each
    example takes one step of the optimizer on the log loss, touching only the
    weights of the features it has, so a step costs the same however large the model.
    The intercept takes its own plain gradient step with `intercept_lr`, and `l2`
    adds `l2 * weights[i]` to each feature's gradient.

    It follows `river.linear_model.LogisticRegression` step for step (same loss,
    gradient clipping, L2 penalty and separately updated intercept), so on the same
    stream the two give the same predictions (tests/edge/test_parity.py).

    Parameters
    ----------
    optimizer
        Updates the weights; `optim.SGD(0.01)` if not given.
    l2
        Strength of the L2 penalty that pulls weights towards zero.
    intercept_init
        The intercept before any learning.
    intercept_lr
        Learning rate of the intercept; 0 keeps it fixed.
    clip_gradient
        Clips the loss gradient to `[-clip_gradient, clip_gradient]`.

    >>> from edge import linear_model, optim
    >>> model = linear_model.LogisticRegression(optimizer=optim.Adam(0.1))
    >>> for _ in range(20):
    ...     model.learn_one({"topic:sports": 1.0}, True)
    ...     model.learn_one({"topic:news": 1.0}, False)
    >>> model.predict_one({"topic:sports": 1.0})
    True
    >>> round(model.predict_proba_one({"topic:news": 1.0})[True], 3)
    0.133
    >>> {name: round(w, 2) for name, w in model.weights.items()}
    {'topic:sports': 1.9, 'topic:news': -1.88}

    Values that are not finite numbers are refused, and the model is left as it was:

    >>> model.learn_one({"topic:sports": float("nan")}, True)
    Traceback (most recent call last):
    ...
    ValueError: feature 'topic:sports' has value nan; feature values must be finite numbers
    """

    takes_weights = True

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
        self._weights: dict[Hashable, float] = {}

    @property
    def weights(self) -> Mapping[Hashable, float]:
        """The weight of each feature seen so far: a read-only view, not a copy."""
        return types.MappingProxyType(self._weights)

    @property
    def weight_table(self) -> dict[Hashable, float]:
        """The weights' own dict, for hot loops that only read it (`edge.policies`):
        a lookup through the `weights` view costs more than the scoring around it.
        Never change it: learning goes through `learn_one`."""
        return self._weights

    def _raw_dot_one(self, x: Features) -> float:
        """The logit of `x`, checking on the way that its values are finite numbers."""
        get = self._weights.get
        try:
            z = self.intercept
            for key, value in x.items():
                z += get(key, 0.0) * value
            # One check of the sum catches any NaN or infinite value, as 0 * inf is NaN.
            if math.isfinite(z):
                return z
        except TypeError as error:
            raise invalid_features(x) from error
        raise invalid_features(x)

    def learn_one(self, x: Features, y: bool, w: float = 1.0) -> None:
        """Take one optimizer step on example `x` with label `y` and sample weight `w`."""
        if y not in (True, False):
            raise ValueError(f"label must be True or False, got {y!r}")
        loss_gradient = log_loss_gradient(y, self._raw_dot_one(x)) * w
        if not math.isfinite(loss_gradient):
            raise ValueError(f"sample weight must be a finite number, got {w!r}")
        loss_gradient = max(-self.clip_gradient, min(self.clip_gradient, loss_gradient))
        weights = self._weights
        l2 = self.l2
        if l2:
            gradient = {k: loss_gradient * v + l2 * weights.get(k, 0.0) for k, v in x.items()}
        else:  # the common case, without a lookup per feature
            gradient = {k: loss_gradient * v for k, v in x.items()}
        self.intercept -= self.intercept_lr * loss_gradient
        self.optimizer.step(weights, gradient)

    def predict_proba_one(self, x: Features) -> dict[bool, float]:
        p = sigmoid(self._raw_dot_one(x))
        return {False: 1.0 - p, True: p}

    def settle(self, x: Features) -> None:
        """Let the optimizer bring the weights of `x` up to date (`Optimizer.settle`): River's
        FTRL leaves each one a step behind, and `learn_one` steps as River's does."""
        self.optimizer.settle(self._weights, x)

    def take_weights(self, intercept: float, weights: Mapping[Hashable, float]) -> None:
        """Take weights set from outside as the model's own; the optimizer follows them, so the
        next step starts from these (`Optimizer.follow`).

        >>> from edge import linear_model, optim
        >>> model = linear_model.LogisticRegression(optimizer=optim.FTRLProximal(alpha=0.1))
        >>> model.take_weights(0.5, {"topic:news": 1.0})
        >>> model.learn_one({"topic:news": 1.0}, True)
        >>> model.intercept, dict(model.weights)
        (0.5018242552380635, {'topic:news': 1.0})
        """
        self.intercept = intercept
        self._weights = dict(weights)
        self.optimizer.follow(self._weights)

    def to_dict(self) -> State:
        return {
            "name": "LogisticRegression",
            "optimizer": self.optimizer.to_dict(),
            "l2": self.l2,
            "intercept_lr": self.intercept_lr,
            "clip_gradient": self.clip_gradient,
            "intercept": self.intercept,
            "weights": to_pairs(self._weights),
        }

    @classmethod
    def from_dict(cls, state: State) -> LogisticRegression:
        check_state_name(state, "LogisticRegression")
        model = cls(
            optimizer=optim.from_dict(state["optimizer"]),
            l2=state["l2"],
            intercept_init=state["intercept"],
            intercept_lr=state["intercept_lr"],
            clip_gradient=state["clip_gradient"],
        )
        model._weights = dict(state["weights"])
        return model
