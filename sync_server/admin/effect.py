"""What personalization adds: click-through rates per arm and the uplift over the holdout.

Devices count impressions and clicks per slot, variant and arm (`personalized` or
`holdout`, the control group that sees the page's default order). The uplift is the
difference of the two arms' CTRs. Admins look at it every day, so its interval is a
confidence sequence: it covers the true uplift at every look at once with 95 %
probability, where a fixed-horizon (Wald) interval looked at daily would, sooner or
later, exclude the truth by chance. It is the normal-mixture boundary of Howard,
Ramdas, McAuliffe and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
sequences" (Annals of Statistics, 2021), applied, as in Waudby-Smith et al.'s
"Time-uniform central limit theory and asymptotic confidence sequences" (2021/2024),
to the difference of two means with its estimated variance: valid asymptotically, which
suits the thousands of impressions a dashboard is read on. Published totals may carry
privacy noise, so a total can be fractional or, for a tiny slot, even negative: an arm
with no positive impressions has no CTR.

>>> treated, control = Arm(10_000, 300), Arm(10_000, 200)
>>> treated.ctr, control.ctr
(0.03, 0.02)
>>> lift = uplift(treated, control)
>>> round(lift.difference, 4), round(lift.low, 4), round(lift.high, 4)
(0.01, 0.0033, 0.0167)
>>> wald = Z_95 * math.sqrt(0.03 * 0.97 / 10_000 + 0.02 * 0.98 / 10_000)
>>> lift.high - lift.difference > wald  # wider than a one-look interval: the price of looking any time
True
>>> uplift(treated, Arm(0, 0)) is None
True
"""

from __future__ import annotations

import dataclasses
import math

Z_95 = 1.959964  # the standard normal's 97.5th percentile
ALPHA = 0.05
# The mixture's spread, in intrinsic time (1 / the estimate's variance): the sequence is tightest
# near V = ρ·(2 log(1/α) + log(1 + 2 log(1/α))) ≈ 9ρ (Howard et al. 2021, section 3.5). 10,000
# impressions an arm at a 3 % CTR make V ≈ 170,000: where a small site's holdout is after weeks.
RHO = 20_000.0


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


def uplift(personalized: Arm, holdout: Arm, alpha: float = ALPHA) -> Uplift | None:
    """The CTR difference and its (1 - alpha) confidence sequence, or None if an arm has no impressions."""
    p, q = personalized.ctr, holdout.ctr
    if p is None or q is None:
        return None
    variance = p * (1 - p) / personalized.impressions + q * (1 - q) / holdout.impressions
    spread = mixture_radius(variance, alpha)
    return Uplift(p - q, p - q - spread, p - q + spread)


def mixture_radius(variance: float, alpha: float = ALPHA, rho: float = RHO) -> float:
    """The half-width of the two-sided normal-mixture confidence sequence (Howard et al. 2021,
    eq. (14)) for an estimate of `variance`, in its intrinsic time V = 1 / variance:
    sqrt((V + ρ) log((V + ρ) / (ρ α²))) / V. It shrinks like sqrt(log V / V), only a log factor
    wider than a fixed-horizon interval.

    >>> round(mixture_radius(1e-4), 4)  # an estimate of sd 0.01 is within this at every look
    0.0438
    """
    if variance <= 0:
        return 0.0
    time = 1 / variance
    return math.sqrt((time + rho) * math.log((time + rho) / (rho * alpha**2))) / time
