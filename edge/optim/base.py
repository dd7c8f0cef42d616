"""The optimizer API: turn a gradient into a weight update, one step at a time."""

from __future__ import annotations

import abc

from edge.base import Stateful

Weights = dict


class Optimizer(Stateful):
    """A sequential optimizer, as in `river.optim.base.Optimizer`."""

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.n_iterations = 0

    @property
    def learning_rate(self) -> float:
        return self.lr

    def look_ahead(self, w: Weights) -> None:
        """Adjust the weights before a prediction; most optimizers need not."""

    def step(self, w: Weights, g: dict) -> None:
        """Update `w` in place with gradient `g`."""
        self._step(w, g)
        self.n_iterations += 1

    @abc.abstractmethod
    def _step(self, w: Weights, g: dict) -> None: ...
