"""Federated analytics: one round's impressions, clicks and conversions, per slot, variant and arm.

Devices send counts, never events. The server adds them up per round and, when the
site asks for it, adds Gaussian noise to every total it publishes, so that the totals
hide any one device's counts (noisy totals are floats and may dip below zero: rounding
or clamping them would bias the CTR estimates built on them).

>>> from sync_server.records import Counter
>>> totals = sum_counters([[Counter("hero", "v1", "holdout", 10, 1)],
...                        [Counter("hero", "v1", "holdout", 5, 2)]])
>>> totals
{('hero', 'v1', 'holdout'): [15.0, 3.0, None]}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from sync_server.records import Counter

Key = tuple[str, str, str]


def sum_counters(devices: Iterable[Iterable[Counter]]) -> dict[Key, list[float]]:
    """Impressions, clicks and conversions summed over devices, keyed by (slot, variant, arm).
    Conversions are None in a slot that optimizes clicks (no device counts them there)."""
    totals: defaultdict[Key, list] = defaultdict(lambda: [0.0, 0.0, None])
    for counters in devices:
        for c in counters:
            total = totals[c.slot, c.variant, c.arm]
            total[0] += c.impressions
            total[1] += c.clicks
            if c.conversions is not None:
                total[2] = (total[2] or 0.0) + c.conversions
    return dict(totals)


def add_noise(totals: dict[Key, list[float]], std: float, rng: np.random.Generator) -> dict[Key, list[float]]:
    """The totals with N(0, std²) added to each count (unchanged when std is 0)."""
    if std == 0:
        return totals
    noise = rng.normal(0.0, std, size=(len(totals), 3))
    return {key: [None if count is None else count + e for count, e in zip(total, row)]
            for (key, total), row in zip(totals.items(), noise.tolist())}
