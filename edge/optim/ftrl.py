"""FTRL-Proximal: per-feature adaptive steps with L1 and L2 built in."""

from __future__ import annotations

import math

from edge.optim.base import Gradient, Optimizer, Weights


class FTRLProximal(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013), the optimizer of click-through models.

    Each feature keeps `z`, its accumulated gradient minus a correction for how far
    its weight moved, and `n`, its sum of squared gradients. The weight follows in
    closed form: zero while `|z| <= l1` (so features with little evidence stay out of the model),
    else `-(z - sign(z) * l1) / ((beta + sqrt(n)) / alpha + l2)`.

    This mirrors `river.optim.FTRLProximal` exactly, including its order: a step
    first sets each weight from `z` and `n` as they stood *before* this gradient,
    then folds the gradient in, so a weight lags its statistics by one visit. And,
    as in River, a weight is only rewritten while `|z| > l1`.

    Parameters
    ----------
    alpha
        The learning rate's scale.
    beta
        Smooths the per-feature learning rate early on.
    l1
        L1 penalty: how large `|z|` must grow before a feature gets a weight.
    l2
        L2 penalty on the weights.

    >>> from edge import optim
    >>> w = {}
    >>> ftrl = optim.FTRLProximal(alpha=0.1, l1=0.5)
    >>> for _ in range(3):
    ...     ftrl.step(w, {"strong": -0.4, "weak": -0.1})
    >>> {i: round(wi, 4) for i, wi in w.items()}
    {'strong': 0.018, 'weak': 0.0}
    """

    per_feature = ("z", "n")

    def __init__(self, alpha: float = 0.05, beta: float = 1.0, l1: float = 0.0, l2: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.l1 = l1
        self.l2 = l2
        self.z: dict = {}
        self.n: dict = {}

    def _step(self, w: Weights, g: Gradient) -> None:
        alpha, beta, l1, l2, z, n = self.alpha, self.beta, self.l1, self.l2, self.z, self.n
        for i, gi in g.items():
            zi = z.get(i, 0.0)
            ni = n.get(i, 0.0)
            wi = w.get(i, 0.0)
            if abs(zi) > l1:
                wi = -(((beta + ni**0.5) / alpha + l2) ** -1) * (zi - math.copysign(l1, zi))
            w[i] = wi
            s = ((ni + gi**2) ** 0.5 - ni**0.5) / alpha
            z[i] = zi + (gi - s * wi)
            n[i] = ni + gi**2
