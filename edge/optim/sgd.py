"""Plain stochastic gradient descent."""

from __future__ import annotations

from edge.base import State
from edge.optim.base import Optimizer, Weights


class SGD(Optimizer):
    """Stochastic gradient descent with a constant learning rate.

    Each step moves every weight against its gradient: `w[i] -= lr * g[i]`.

    >>> from edge import optim
    >>> w = {"a": 1.0}
    >>> sgd = optim.SGD(lr=0.1)
    >>> sgd.step(w, {"a": 2.0})
    >>> w
    {'a': 0.8}
    >>> sgd.n_iterations
    1
    """

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _step(self, w: Weights, g: dict) -> None:
        lr = self.learning_rate
        for i, gi in g.items():
            w[i] = w.get(i, 0.0) - lr * gi

    def to_dict(self) -> State:
        return {"name": "SGD", "lr": self.lr, "n_iterations": self.n_iterations}

    @classmethod
    def from_dict(cls, state: State) -> "SGD":
        sgd = cls(lr=state["lr"])
        sgd.n_iterations = state["n_iterations"]
        return sgd
