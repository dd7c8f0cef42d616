"""How much privacy the published models have spent: ε at δ, from Google's dp-accounting.

Each closed round releases the sum of clipped deltas (sensitivity: the clip norm C)
plus Gaussian noise of standard deviation σ·C: a Gaussian mechanism with noise
multiplier σ for any one device's contribution. The rounds compose; the RDP accountant
adds them up. No amplification by sampling is claimed: browsers take part when their
visitors show up, not by a hidden random draw (see README, "Privacy accounting").

>>> round(epsilon([1.0] * 10, delta=1e-6), 2)
20.55
>>> epsilon([0.0], delta=1e-6)   # no noise, no guarantee
inf
>>> epsilon([], delta=1e-6)
0.0

A noise multiplier above MAX_NOISE_MULTIPLIER (admins cannot set one, but a database may
hold one from before that bound) is accounted as that maximum: ε only shrinks as σ grows,
so this overstates ε a little where the accountant's arithmetic would overflow.

>>> epsilon([1e300], delta=1e-6) == epsilon([MAX_NOISE_MULTIPLIER], delta=1e-6)
True
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Sequence


MAX_NOISE_MULTIPLIER = 1e3  # ε of one round is 0.006 at δ = 1e-6: more noise buys nothing


def epsilon(noise_multipliers: Sequence[float], delta: float) -> float:
    """ε at `delta` after one Gaussian round per noise multiplier (σ = 0 gives infinity)."""
    sigmas = (min(sigma, MAX_NOISE_MULTIPLIER) for sigma in noise_multipliers)
    return _epsilon(tuple(sorted(collections.Counter(sigmas).items())), delta)


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
