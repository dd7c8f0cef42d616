"""What personalization adds: click-through rates per arm and the uplift over the holdout.

Devices count impressions and clicks per slot, variant and arm (`personalized` or
`holdout`, the control group that sees the page's default order). The uplift is the
difference of the two arms' CTRs; its 95% confidence interval is the normal (Wald)
interval of a difference of two proportions, fine for the thousands of impressions a
dashboard is read on. Published totals may carry privacy noise, so a total can be
fractional or, for a tiny slot, even negative: an arm with no positive impressions
has no CTR.

>>> treated, control = Arm(10_000, 300), Arm(10_000, 200)
>>> treated.ctr, control.ctr
(0.03, 0.02)
>>> lift = uplift(treated, control)
>>> round(lift.difference, 4), round(lift.low, 4), round(lift.high, 4)
(0.01, 0.0057, 0.0143)
>>> uplift(treated, Arm(0, 0)) is None
True
"""

from __future__ import annotations

import dataclasses
import math

Z_95 = 1.959964  # the standard normal's 97.5th percentile


@dataclasses.dataclass(frozen=True)
class Arm:
    """Impressions and clicks of one arm (summed over variants, rounds or both)."""

    impressions: float = 0.0
    clicks: float = 0.0

    def __add__(self, other: Arm) -> Arm:
        return Arm(self.impressions + other.impressions, self.clicks + other.clicks)

    @property
    def ctr(self) -> float | None:
        if self.impressions <= 0:
            return None
        return min(1.0, max(0.0, self.clicks / self.impressions))


@dataclasses.dataclass(frozen=True)
class Uplift:
    difference: float  # personalized CTR minus holdout CTR
    low: float
    high: float


def uplift(personalized: Arm, holdout: Arm, z: float = Z_95) -> Uplift | None:
    """The CTR difference and its confidence interval, or None if an arm has no impressions."""
    p, q = personalized.ctr, holdout.ctr
    if p is None or q is None:
        return None
    spread = z * math.sqrt(p * (1 - p) / personalized.impressions + q * (1 - q) / holdout.impressions)
    return Uplift(p - q, p - q - spread, p - q + spread)
