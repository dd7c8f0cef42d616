"""Combining one round's device updates into dense sums.

Every update (a gradient and a curvature, `edge.federated`) is first clipped to L2 norm
`clip_norm` as one vector by the server, whatever the device claims, so that one device
moves the sums by at most `clip_norm`: the sensitivity the Gaussian noise is calibrated
to. An aggregator then reduces the gradients, and the curvatures, to one dense array
each: their mean, which `rounds.close_round` scales to a sum. Updates are sparse, so the
work is linear in devices × nonzeros (plus one vectorized pass over the buckets).

>>> deltas = [Delta(0.0, [0, 2], [3.0, 4.0]), Delta(0.0, [1], [0.5])]
>>> intercept, step = Mean().aggregate(clip(deltas, clip_norm=1.0), buckets=3)
>>> intercept, step.round(2).tolist()
(0.0, [0.3, 0.25, 0.4])
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True, slots=True)
class Delta:
    """One device's update: the intercept's and sparse buckets' gradient and, beside them, curvature."""

    intercept: float
    idx: Sequence[int]
    val: Sequence[float]
    intercept_curvature: float = 0.0
    curvature: Sequence[float] = ()  # parallel to idx; empty: none

    def norm(self) -> float:
        # hypot scales, so huge values do not overflow
        return math.hypot(self.intercept, *self.val, self.intercept_curvature, *self.curvature)

    def curvatures(self) -> Delta:
        """The curvature as a delta of its own, for an aggregator."""
        return Delta(self.intercept_curvature, self.idx, self.curvature if len(self.curvature) else np.zeros(len(self.idx)))


def clip(deltas: Sequence[Delta], clip_norm: float) -> list[Delta]:
    """Scale down every delta longer than `clip_norm` to exactly that length.

    >>> clip([Delta(0.0, [7], [-10.0])], clip_norm=2.0)[0].val.tolist()
    [-2.0]
    """
    clipped = []
    for delta in deltas:
        norm = delta.norm()
        if norm <= clip_norm:
            clipped.append(delta)
        else:
            scale = clip_norm / norm
            clipped.append(Delta(delta.intercept * scale, delta.idx, np.asarray(delta.val) * scale,
                                 delta.intercept_curvature * scale, np.asarray(delta.curvature) * scale))
    return clipped


class Aggregator(abc.ABC):
    """Reduces clipped deltas to one step: the intercept's and a dense array of weights."""

    @abc.abstractmethod
    def aggregate(self, deltas: Sequence[Delta], buckets: int) -> tuple[float, np.ndarray]:
        """The step for `deltas` (at least one), over `buckets` weights."""


class Mean(Aggregator):
    """The plain mean of the deltas (DP-FedAvg's): moves by at most clip_norm / m per device."""

    def aggregate(self, deltas: Sequence[Delta], buckets: int) -> tuple[float, np.ndarray]:
        idx = np.concatenate([np.asarray(d.idx, dtype=np.int64) for d in deltas])
        val = np.concatenate([np.asarray(d.val, dtype=np.float64) for d in deltas])
        step = np.bincount(idx, weights=val, minlength=buckets) / len(deltas)
        return math.fsum(d.intercept for d in deltas) / len(deltas), step


@dataclasses.dataclass
class TrimmedMean(Aggregator):
    """The coordinate-wise trimmed mean (Yin et al. 2018): robust to a few Byzantine devices.

    For every weight, the `trim` share of the highest and of the lowest of the m values
    (devices that did not touch a weight count as 0) is dropped before averaging.

    >>> deltas = [Delta(0.0, [0], [v]) for v in (1.0, 1.2, 0.8, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0)]
    >>> poisoned = deltas + [Delta(0.0, [0], [1000.0])]
    >>> TrimmedMean(trim=0.1).aggregate(poisoned, buckets=1)[1].round(3).tolist()
    [1.025]
    """

    trim: float = 0.1

    def aggregate(self, deltas: Sequence[Delta], buckets: int) -> tuple[float, np.ndarray]:
        m, cut = len(deltas), int(self.trim * len(deltas))
        columns: defaultdict[int, list[float]] = defaultdict(list)
        for delta in deltas:
            for i, v in zip(delta.idx, delta.val):
                columns[i].append(v)
        step = np.zeros(buckets)
        for i, values in columns.items():
            step[i] = _trimmed_mean(values, m, cut)
        return _trimmed_mean([d.intercept for d in deltas], m, cut), step


def _trimmed_mean(values: list[float], m: int, cut: int) -> float:
    """The mean of `values` padded with zeros to `m`, without its `cut` lowest and highest."""
    values = sorted(values)
    zeros = m - len(values)
    below = sum(1 for v in values if v < 0)
    above = len(values) - below
    # In sorted order the m values are: the negatives, the padding zeros, the rest.
    lowest = values[: min(cut, below)] + values[below : below + max(0, cut - below - zeros)]
    highest = values[len(values) - min(cut, above) :] + values[max(0, below - max(0, cut - above - zeros)) : below]
    return (math.fsum(values) - math.fsum(lowest) - math.fsum(highest)) / (m - 2 * cut)
