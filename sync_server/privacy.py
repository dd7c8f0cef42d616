"""How much privacy the published models have spent, per visitor and year: ε at δ, exactly.

Each closed round releases the sum of clipped deltas (sensitivity: the clip norm C, since a
device sends at most one delta per round) plus Gaussian noise of standard deviation σ·C: a
Gaussian mechanism with noise multiplier σ for any one device's contribution. No
amplification by sampling is claimed: browsers take part when their visitors show up, not by
a hidden random draw (see README, "Privacy accounting").

What bounds a visitor's loss is how many rounds their device may join, not how many rounds
there are: a device joins at most k rounds in any 365 days (`device_rounds_per_year`; the
device keeps to it and the server's anonymous per-round tokens enforce it). Within any 365
days, then, a visitor is in at most k of that window's rounds, at worst the k with the
least noise. Gaussian mechanisms compose exactly: rounds of noise multipliers σᵢ together are
μ-GDP with μ = √(Σ 1/σᵢ²), and μ-GDP is (ε, δ)-DP for exactly the δ(ε) of `gaussian_epsilon`
(Dong, Roth & Su 2019, Corollaries 2.13 and 3.3; for one round, the analytic Gaussian
mechanism of Balle & Wang 2018). Google's dp-accounting finds the same ε with its
privacy-loss-distribution accountant, and a larger one with its RDP accountant, a bound
(tests/server/test_privacy.py):

>>> DAY = 86_400.0
>>> rounds = [(day * DAY, 1.0) for day in range(100)]      # daily rounds, σ = 1
>>> visitor_epsilon(rounds, per_year=10, delta=1e-6) == epsilon([1.0] * 10, delta=1e-6)
True
>>> round(epsilon([1.0] * 10, delta=1e-6), 2)      # μ = √10
19.42
>>> epsilon([0.0], delta=1e-6)   # no noise, no guarantee
inf
>>> epsilon([], delta=1e-6)
0.0

A window reaches 365 days back from each round's close, so a year later the old rounds drop
out of it: a site that spent its budget starts again as they do.

>>> later = [(0.0, 1.0), (400 * DAY, 4.0)]
>>> visitor_epsilon(later, per_year=10, delta=1e-6) == epsilon([1.0], delta=1e-6)
True
>>> window_epsilon(later, per_year=10, delta=1e-6, end=400 * DAY) == epsilon([4.0], delta=1e-6)
True

A noise multiplier above MAX_NOISE_MULTIPLIER (admins cannot set one, but a database may
hold one from before that bound) is accounted as that maximum: ε only shrinks as σ grows,
so this overstates ε a little, never understates it, and 1/σ² cannot underflow.

>>> epsilon([1e300], delta=1e-6) == epsilon([MAX_NOISE_MULTIPLIER], delta=1e-6)
True
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Sequence

YEAR = 365 * 86_400.0
SQRT2, LOG_SQRT_2PI = math.sqrt(2), 0.5 * math.log(2 * math.pi)
MAX_NOISE_MULTIPLIER = 1e3  # ε of one round is 0.003 at δ = 1e-6: more noise buys nothing


def epsilon(noise_multipliers: Sequence[float], delta: float) -> float:
    """ε at `delta` after one Gaussian round per noise multiplier (σ = 0 gives infinity)."""
    return _epsilon(tuple(sorted(collections.Counter(map(_bounded, noise_multipliers)).items())), delta)


def window_epsilon(rounds: Sequence[tuple[float, float]], per_year: int, delta: float, end: float) -> float:
    """ε of one visitor over the 365 days up to `end`: the `per_year` least noisy of the
    rounds (closed at, noise multiplier) closed in (end − 365 days, end]."""
    window = collections.Counter(_bounded(sigma) for closed_at, sigma in rounds if end - YEAR < closed_at <= end)
    return _epsilon(_least_noisy(window, per_year), delta)


def visitor_epsilon(rounds: Sequence[tuple[float, float]], per_year: int, delta: float) -> float:
    """The most ε any visitor can have spent in any 365 days, over rounds (closed at, noise
    multiplier): the windows ending at each round's close are the ones to check, swept in
    one pass (a site has many rounds and few noise multipliers)."""
    rounds = sorted(rounds)
    window: collections.Counter = collections.Counter()
    worst, first = 0.0, 0
    for closed_at, sigma in rounds:
        window[_bounded(sigma)] += 1
        while rounds[first][0] <= closed_at - YEAR:
            window[_bounded(rounds[first][1])] -= 1
            first += 1
        worst = max(worst, _epsilon(_least_noisy(window, per_year), delta))
    return worst


def _bounded(sigma: float) -> float:
    return min(sigma, MAX_NOISE_MULTIPLIER)


def _least_noisy(window: collections.Counter, count: int) -> tuple[tuple[float, int], ...]:
    """The `count` smallest noise multipliers of `window`, as (σ, rounds) pairs."""
    taken = []
    for sigma in sorted(s for s, n in window.items() if n > 0):
        rounds = min(window[sigma], count - sum(n for _, n in taken))
        if rounds <= 0:
            break
        taken.append((sigma, rounds))
    return tuple(taken)


@functools.lru_cache(maxsize=1024)  # every server process asks again after each round
def _epsilon(rounds_by_sigma: tuple[tuple[float, int], ...], delta: float) -> float:
    if not rounds_by_sigma:
        return 0.0
    if any(sigma == 0 for sigma, _ in rounds_by_sigma):
        return math.inf  # no noise, no guarantee
    return gaussian_epsilon(math.sqrt(math.fsum(rounds / sigma**2 for sigma, rounds in rounds_by_sigma)), delta)


def gaussian_epsilon(mu: float, delta: float) -> float:
    """The least ε for which a μ-GDP mechanism is (ε, δ)-DP: where δ(ε) = Φ(μ/2 − ε/μ) −
    e^ε Φ(−μ/2 − ε/μ), which falls as ε grows, meets `delta` (bisection in log δ, so that
    neither term underflows)."""
    if math.isinf(mu):
        return math.inf
    target = math.log(delta)
    if mu == 0 or _log_delta(mu, 0.0) <= target:
        return 0.0
    low, high = 0.0, mu * (mu / 2 + 1)
    while _log_delta(mu, high) > target:
        low, high = high, 2 * high
    while high - low > 1e-12 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if _log_delta(mu, middle) > target else (low, middle)
    return high


def _log_delta(mu: float, eps: float) -> float:
    """log δ(ε) of μ-GDP. With a = μ/2 − ε/μ, e^ε φ(a − μ) = φ(a), so δ = Φ(a) − φ(a)·R(μ − a) for
    Mills' ratio R(x) = Φ(−x)/φ(x), and for a ≤ 0 also Φ(a) = φ(a)·R(−a): φ(a) factors out."""
    a = mu / 2 - eps / mu
    if a > 0:
        value = 0.5 * math.erfc(-a / SQRT2) - math.exp(-a * a / 2 - LOG_SQRT_2PI) * _mills(mu - a)
        return math.log(value) if value > 0 else -math.inf
    gap = _mills(-a) - _mills(mu - a)
    return -a * a / 2 - LOG_SQRT_2PI + math.log(gap) if gap > 0 else -math.inf


def _mills(x: float) -> float:
    """Mills' ratio Φ(−x)/φ(x) for x ≥ 0, without the underflow of either: directly up to 30, then
    its asymptotic series (Abramowitz & Stegun 26.2.12; the error is below 105/x⁹ < 10⁻¹¹ of it)."""
    if x < 30:
        return 0.5 * math.erfc(x / SQRT2) * math.exp(x * x / 2 + LOG_SQRT_2PI)
    return (1 - x**-2 + 3 * x**-4 - 15 * x**-6) / x
