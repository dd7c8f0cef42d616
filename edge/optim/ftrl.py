"""FTRL-Proximal: per-feature adaptive steps with L1 and L2 built in."""

from __future__ import annotations

import math
from collections.abc import Iterable

from edge.optim.base import Gradient, Optimizer, Weights


class FTRLProximal(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013), the optimizer of click-through models.

    Each feature keeps `z`, its accumulated gradient minus a correction for how far
    its weight moved, and `n`, its sum of squared gradients. The weight follows in
    closed form: zero while `|z| <= l1` (so features with little evidence stay out of the model),
    else `-(z - sign(z) * l1) / ((beta + sqrt(n)) / alpha + l2)`.

    This mirrors `river.optim.FTRLProximal` exactly, including its order: a step
    first sets each weight from `z` and `n` as they stood *before* this gradient,
    then folds the gradient in, so a weight lags its statistics by one visit (`settle`
    catches it up). And, as in River, a weight is only rewritten while `|z| > l1`.

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

    def settle(self, w: Weights, keys: Iterable) -> None:
        """Set the weights of `keys` from `z` and `n` as they are now, as McMahan et al.
        predict with them; `step`, like River's, leaves each one a step behind. It is what
        a step with a zero gradient does, without the statistics it would leave as they are.

        >>> from edge import optim
        >>> ftrl, w = optim.FTRLProximal(alpha=0.1), {}
        >>> ftrl.step(w, {"a": -2.0})
        >>> w
        {'a': 0.0}
        >>> ftrl.settle(w, ["a"])
        >>> round(w["a"], 4), ftrl.n_iterations
        (0.0645, 1)
        """
        alpha, beta, l1, l2, z, n = self.alpha, self.beta, self.l1, self.l2, self.z, self.n
        copysign, sqrt = math.copysign, math.sqrt
        for i in keys:
            zi = z.get(i, 0.0)
            if zi > l1 or zi < -l1:
                w[i] = (copysign(l1, zi) - zi) / ((beta + sqrt(n.get(i, 0.0))) / alpha + l2)

    def follow(self, w: Weights) -> None:
        """Set each `z` so that the closed form gives back `w`: the next step then starts
        from these weights rather than from the ones `z` last implied.

        >>> from edge import optim
        >>> ftrl, w = optim.FTRLProximal(alpha=0.1, l1=0.5), {}
        >>> ftrl.step(w, {"a": -2.0})
        >>> ftrl.step(w, {"a": 0.0})      # the weight lags z by one step
        >>> w = {"a": 0.25, "b": -1.0}    # a merge moved "a" and brought "b"
        >>> ftrl.follow(w)
        >>> ftrl.step(w, {"a": 0.0, "b": 0.0})
        >>> {i: round(wi, 12) for i, wi in w.items()}
        {'a': 0.25, 'b': -1.0}
        """
        alpha, beta, l1, l2, z, n = self.alpha, self.beta, self.l1, self.l2, self.z, self.n
        for i in z.keys() - w.keys():  # a weight of zero: |z| within l1
            z[i] = 0.0
        for i, wi in w.items():
            z[i] = -wi * ((beta + n.get(i, 0.0) ** 0.5) / alpha + l2) - math.copysign(l1, wi) if wi else 0.0

    def _step(self, w: Weights, g: Gradient) -> None:
        alpha, beta, l1, l2, z, n = self.alpha, self.beta, self.l1, self.l2, self.z, self.n
        copysign, sqrt = math.copysign, math.sqrt
        zget, nget, wget = z.get, n.get, w.get
        for i, gi in g.items():  # the hot loop of learning: written for speed
            zi = zget(i, 0.0)
            ni = nget(i, 0.0)
            root = sqrt(ni)
            if zi > l1 or zi < -l1:
                wi = w[i] = (copysign(l1, zi) - zi) / ((beta + root) / alpha + l2)
            else:
                wi = w[i] = wget(i, 0.0)
            grown = ni + gi * gi
            z[i] = zi + gi - (sqrt(grown) - root) / alpha * wi
            n[i] = grown
