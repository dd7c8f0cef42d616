"""The global model as a diagonal Gaussian posterior, and one round's step on it.

Devices send the log loss's gradient g and curvature h at the global weights, summed over
their examples (`edge.federated`). A round's sums G and H say, for each weight (the
intercept at position 0), that it should move by G/H: a measurement of the weight whose
precision is H. Privacy noise of standard deviation s on G makes it a noisier measurement,
of precision H²/(H + s²) (the sampling variance of G is about H, the noise's s²), so noise
can never move the model further than the evidence under it allows. The
weight's posterior (mean w, precision P) takes it as Bayes does:

    P' = P + info        w' = w + η · info · (G/H) / P'        info = H²/(H + s²)

η damps the step because a diagonal posterior treats each of an example's features as if
it alone explained the click, while the ~30 features of one example (a candidate's tokens
and their crosses with the visit's) move its logit together: η ≈ 1 / features per example
keeps the logit's step where one full Newton step would put it (bench federated_quality).
Where H is within NOISE_FLOOR deviations of its own noise (t) of 0 the round measured
nothing, and the weight is left as it was: the noisy sums of buckets no one touched stay
unpublished.

>>> w, p = np.zeros(3), np.full(3, 2.0)
>>> w, p = step(w, p, gradient=np.array([1.0, 8.0, 0.1]), curvature=np.array([4.0, 16.0, 0.1]),
...             noise=(0.0, 0.0), learning_rate=1.0)
>>> w.round(3).tolist(), p.round(3).tolist()       # w' = G / (2 + H) without noise
([0.167, 0.444, 0.048], [6.0, 18.0, 2.1])
>>> w, p = step(np.zeros(3), np.full(3, 2.0), np.array([1.0, 8.0, 0.1]), np.array([4.0, 16.0, 0.1]),
...             noise=(1.0, 1.0), learning_rate=1.0)
>>> w.round(3).tolist(), p.round(3).tolist()   # noise weighed in; H ≤ 4s measured nothing
([0.0, 0.441, 0.0], [2.0, 17.059, 2.0])
"""

from __future__ import annotations

import numpy as np

NOISE_FLOOR = 4.0  # curvature sums within this many noise deviations of 0 measured nothing
# Every weight's precision before any evidence: that of the devices' own Thompson prior
# (edge.Config.prior_precision), so a bucket the model never measured is as uncertain to a
# device as one it never saw.
PRIOR_PRECISION = 2.0


def step(weights: np.ndarray, precisions: np.ndarray, gradient: np.ndarray, curvature: np.ndarray,
         noise: tuple[float, float], learning_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The posterior after one round's sums of gradients and curvatures, noised with standard
    deviations `noise` (s, t); new arrays."""
    s, t = noise
    measured = curvature > NOISE_FLOOR * t
    h = np.where(measured, curvature, 1.0)  # 1.0: anything positive, the unmeasured are masked out
    info = np.where(measured, h * h / (h + s * s), 0.0)
    new_precisions = precisions + info
    return weights + learning_rate * info * (gradient / h) / new_precisions, new_precisions
