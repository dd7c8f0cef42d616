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
Noise already shrinks each weight's step to info/P' of its Newton step G/H, so η is raised
by as much as the noise shrank the steps on average over the examples (weighing each weight
by its curvature, which counts its examples), never past 1, the posterior's own step: an
example's logit then moves as far as without noise, and η damps only once. At η = 0.1 this
took the private shop from 0.05 to 0.18 of the shared engine's gain, the small site from
0.01 to 0.36 (bench federated_quality, one seed).
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

Here η = 1 already; at η = 0.1 the noisy round steps as far as a noiseless one would at 0.1:

>>> curvature = np.array([4.0, 16.0, 0.1])
>>> round(step_size(0.1, np.full(3, 2.0), curvature, noise=(0.0, 0.0)), 3)
0.1
>>> round(step_size(0.1, np.full(3, 2.0), curvature, noise=(1.0, 1.0)), 3)
0.101
>>> round(step_size(0.1, np.full(3, 2.0), curvature, noise=(8.0, 1.0)), 3)     # more noise: η grows
0.144
"""

from __future__ import annotations

import numpy as np

NOISE_FLOOR = 4.0  # curvature sums within this many noise deviations of 0 measured nothing
# Every weight's precision before any evidence: that of the devices' own Thompson prior
# (edge.Config.prior_precision), so a bucket the model never measured is as uncertain to a
# device as one it never saw.
PRIOR_PRECISION = 2.0
# A new site's model starts at a 2 % click-through rate (logit −3.89), typical of a slot of
# recommendations, not at 0 (50 %). From 0 the first round's evidence is taken where every
# prediction is far too high: its curvature p(1 − p) ≈ 0.25 per impression, eight times the
# truth, becomes the weights' precision, and the model froze near its first, damped step
# (the shop without noise gained 0.33 of a shared engine's gain from 0, 0.70 from here:
# bench federated_quality). Rounds move it to the site's own rate.
PRIOR_INTERCEPT = -3.89


def step(weights: np.ndarray, precisions: np.ndarray, gradient: np.ndarray, curvature: np.ndarray,
         noise: tuple[float, float], learning_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The posterior after one round's sums of gradients and curvatures, noised with standard
    deviations `noise` (s, t); new arrays."""
    h, info = _information(curvature, noise)
    new_precisions = precisions + info
    shrink = info / new_precisions  # the share of its Newton step G/H each weight takes
    eta = _raised(learning_rate, precisions, h, info)
    return weights + eta * shrink * (gradient / h), new_precisions


def step_size(learning_rate: float, precisions: np.ndarray, curvature: np.ndarray, noise: tuple[float, float]) -> float:
    """η raised by how much the noise shrank the weights' steps, weighed by their curvature,
    at most 1 (see the module)."""
    return _raised(learning_rate, precisions, *_information(curvature, noise))


def _raised(learning_rate: float, precisions: np.ndarray, h: np.ndarray, info: np.ndarray) -> float:
    counted = np.where(info > 0, h, 0.0)
    noisy = float(np.sum(counted * info / (precisions + info)))
    noiseless = float(np.sum(counted * h / (precisions + h)))
    return learning_rate if noisy <= 0 else min(1.0, learning_rate * noiseless / noisy)


def _information(curvature: np.ndarray, noise: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The curvature where it was measured (1.0 elsewhere, masked out) and the information
    H²/(H + s²) each weight's measurement carries (0 where unmeasured)."""
    s, t = noise
    measured = curvature > NOISE_FLOOR * t
    h = np.where(measured, curvature, 1.0)  # 1.0: anything positive, the unmeasured are masked out
    return h, np.where(measured, h * h / (h + s * s), 0.0)
