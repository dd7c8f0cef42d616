"""How much privacy the published models have spent, per visitor and year: ε at δ, from
Google's dp-accounting.

Each closed round releases the sum of clipped deltas (sensitivity: the clip norm C, since a
device sends at most one delta per round) plus Gaussian noise of standard deviation σ·C: a
Gaussian mechanism with noise multiplier σ for any one device's contribution. No
amplification by sampling is claimed: browsers take part when their visitors show up, not by
a hidden random draw (see README, "Privacy accounting").

What bounds a visitor's loss is how many rounds their device may join, not how many rounds
there are: a device joins at most k rounds in any 365 days (`device_rounds_per_year`; the
device keeps to it and the server's anonymous per-round tokens enforce it). Within any 365
days, then, a visitor is in at most k of that window's rounds, at worst the k with the
least noise, and the RDP accountant composes those:

>>> DAY = 86_400.0
>>> rounds = [(day * DAY, 1.0) for day in range(100)]      # daily rounds, σ = 1
>>> visitor_epsilon(rounds, per_year=10, delta=1e-6) == epsilon([1.0] * 10, delta=1e-6)
True
>>> round(epsilon([1.0] * 10, delta=1e-6), 2)
20.55
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
so this overstates ε a little where the accountant's arithmetic would overflow.

>>> epsilon([1e300], delta=1e-6) == epsilon([MAX_NOISE_MULTIPLIER], delta=1e-6)
True
"""

from __future__ import annotations

import collections
import functools
import importlib
from collections.abc import Sequence

YEAR = 365 * 86_400.0
MAX_NOISE_MULTIPLIER = 1e3  # ε of one round is 0.006 at δ = 1e-6: more noise buys nothing


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


def import_accountant() -> None:
    """Import dp-accounting now. It pulls in SciPy, seconds: a server calls this on a thread of
    its own as it starts, or the first request that reads a site's ε would import it on the
    event loop, and every other request would wait for it."""
    importlib.import_module("dp_accounting.rdp")


@functools.lru_cache(maxsize=1024)  # every server process asks again after each round
def _epsilon(rounds_by_sigma: tuple[tuple[float, int], ...], delta: float) -> float:
    if not rounds_by_sigma:
        return 0.0
    # Imported here: dp-accounting pulls in SciPy, seconds that a server start need not wait.
    import dp_accounting
    from dp_accounting.rdp import RdpAccountant

    accountant = RdpAccountant()
    for sigma, rounds in rounds_by_sigma:
        accountant.compose(dp_accounting.GaussianDpEvent(sigma), rounds)
    return float(accountant.get_epsilon(delta))
