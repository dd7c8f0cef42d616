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
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Sequence


def epsilon(noise_multipliers: Sequence[float], delta: float) -> float:
    """ε at `delta` after one Gaussian round per noise multiplier (σ = 0 gives infinity)."""
    return _epsilon(tuple(sorted(collections.Counter(noise_multipliers).items())), delta)


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
