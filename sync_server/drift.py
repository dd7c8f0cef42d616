"""Drift alerts: when a slot's click-through rate changes, watched with River's ADWIN.

Each closed round publishes a slot's impressions and clicks (personalized traffic). Their
clicks and misses, spread evenly through the round, feed one `river.drift.ADWIN` per slot:
ADWIN keeps a window of recent outcomes and drops its older part as soon as the two parts'
means differ by more than chance allows (Bifet & Gavaldà 2007). Each drop is an alert at
that round, with the CTR before and after it. A site whose visitors change what they like,
or whose page changed, shows up here before anyone reads a chart.

>>> rounds = [(v, 1000, 20) for v in range(1, 11)] + [(v, 1000, 80) for v in range(11, 21)]
>>> [(a["version"], round(a["ctr_before"], 3), round(a["ctr_after"], 3)) for a in ctr_alerts(rounds)][:1]
[(11, 0.02, 0.08)]
"""

from __future__ import annotations

from collections.abc import Iterable

from river import drift


def ctr_alerts(rounds: Iterable[tuple[int, float, float]], delta: float = 0.002) -> list[dict]:
    """Alerts for one slot from its rounds' `(version, impressions, clicks)`, oldest first.

    Published totals may carry noise, so they are rounded and kept within 0 ≤ clicks ≤ impressions.
    """
    detector = drift.ADWIN(delta=delta)
    alerts = []
    for version, impressions, clicks in rounds:
        shown = max(0, round(impressions))
        clicked = min(shown, max(0, round(clicks)))
        before, detected = detector.estimation, False
        for i in range(shown):
            # Bresenham's spread: clicks evenly among the round's impressions, no clumps to alarm on.
            detector.update(float((i + 1) * clicked // shown - i * clicked // shown))
            detected = detected or detector.drift_detected
        if detected:
            alerts.append({"version": version, "ctr_before": before, "ctr_after": detector.estimation})
    return alerts
