"""Adam: per-feature step sizes from running moments of the gradient."""

from __future__ import annotations

from edge.optim.base import Gradient, Optimizer, Weights


class Adam(Optimizer):
    """Adam optimizer (Kingma & Ba, 2014), with River's sparse, lazy updates.

    Each feature keeps an exponential moving average of its gradient (`m`) and of
    its squared gradient (`v`); the step is `m / sqrt(v)`, so every feature moves
    at about the learning rate whatever the scale of its gradient. As in
    `river.optim.Adam`, only the features in the gradient are updated, while the
    bias correction follows the optimizer's global step count.

    Parameters
    ----------
    lr
        The learning rate.
    beta_1
        Decay of the gradient's moving average.
    beta_2
        Decay of the squared gradient's moving average.
    eps
        Added to the denominator for numerical stability.

    >>> from edge import optim
    >>> w = {}
    >>> adam = optim.Adam(lr=0.1)
    >>> adam.step(w, {"big": 1000.0, "small": 0.001})
    >>> {i: round(wi, 4) for i, wi in w.items()}
    {'big': -0.1, 'small': -0.1}
    >>> round(adam.m["big"], 6), round(adam.v["big"], 6)
    (100.0, 1000.0)
    """

    per_feature = ("m", "v")

    def __init__(
        self, lr: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__()
        self.lr = lr
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.eps = eps
        self.m: dict = {}
        self.v: dict = {}

    def _step(self, w: Weights, g: Gradient) -> None:
        beta_1, beta_2, eps, m, v = self.beta_1, self.beta_2, self.eps, self.m, self.v
        t = self.n_iterations + 1
        # The bias corrections of both moments, folded into the step size as River does.
        lr = self.lr * (1 - beta_2**t) ** 0.5 / (1 - beta_1**t)
        for i, gi in g.items():
            mi = m[i] = beta_1 * m.get(i, 0.0) + (1 - beta_1) * gi
            vi = v[i] = beta_2 * v.get(i, 0.0) + (1 - beta_2) * gi**2
            w[i] = w.get(i, 0.0) - lr * mi / (vi**0.5 + eps)
