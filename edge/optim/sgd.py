"""Plain stochastic gradient descent."""

from __future__ import annotations

from edge.optim.base import Gradient, Optimizer, Weights


class SGD(Optimizer):
    """Stochastic gradient descent with a constant learning rate.

    Each step moves every weight in the gradient against it: `w[i] -= lr * g[i]`.
    It matches `river.optim.SGD` with a constant learning rate.

    Parameters
    ----------
    lr
        The learning rate.

    >>> from edge import optim
    >>> w = {"a": 1.0}
    >>> sgd = optim.SGD(lr=0.1)
    >>> sgd.step(w, {"a": 2.0, "b": -1.0})
    >>> w
    {'a': 0.8, 'b': 0.1}
    >>> sgd.to_dict()
    {'name': 'SGD', 'n_iterations': 1, 'lr': 0.1}
    """

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr

    def _step(self, w: Weights, g: Gradient) -> None:
        lr = self.lr
        for i, gi in g.items():
            w[i] = w.get(i, 0.0) - lr * gi
