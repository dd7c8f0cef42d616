"""One site as the dashboard shows it: model history, privacy spent, features, effect per slot.

Everything is read from the store and returned as plain JSON-able data, which the HTML
page renders as tables and `/v1/admin/sites/{site}/dashboard` hands to the charts.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable

from sync_server.admin.effect import Arm, uplift
from sync_server.admin.features import BucketNames
from sync_server.storage import Store

TOP_FEATURES = 8


def site_dashboard(store: Store, site: str) -> dict:
    """Everything the dashboard shows about `site` (UnknownSite if there is none)."""
    state = store.round_state(site)
    rounds = store.rounds(site)
    slots = slot_effects(store, site, rounds)
    variants = {(slot, row["variant"]) for slot, effect in slots.items() for row in effect["variants"]}
    names = BucketNames(store.site(site)["hash_bits"], sorted(variants))
    return {
        "site": site,
        "version": state.version,
        "pending_updates": state.pending,
        "epsilon": state.epsilon,
        "epsilon_budget": state.config.epsilon_budget,
        "accepting_updates": state.accepting,
        "federation": dataclasses.asdict(state.config),
        "rounds": [{key: r[key] for key in ("version", "closed_at", "reason", "devices", "noise_multiplier", "epsilon")}
                   for r in rounds],
        "features": top_features(store.latest_model(site)["weights"], names.describe),
        "slots": slots,
    }


def top_features(weights: list[list], describe: Callable[[int], str | None],
                 count: int = TOP_FEATURES) -> dict[str, list[dict]]:
    """The hashed buckets that raise and lower scores most in the global model, named by
    `describe` where it can.

    >>> top_features([[3, 0.5], [9, -0.2], [4, 0.1]], {3: "tent in picks"}.get, count=1)
    {'positive': [{'bucket': 3, 'weight': 0.5, 'name': 'tent in picks'}], 'negative': [{'bucket': 9, 'weight': -0.2, 'name': None}]}
    """
    ranked = sorted(weights, key=lambda pair: pair[1])
    as_rows = lambda pairs: [{"bucket": b, "weight": w, "name": describe(b)} for b, w in pairs]  # noqa: E731
    return {"positive": as_rows([p for p in reversed(ranked) if p[1] > 0][:count]),
            "negative": as_rows([p for p in ranked if p[1] < 0][:count])}


def slot_effects(store: Store, site: str, rounds: list[dict]) -> dict[str, dict]:
    """Per slot: each variant's totals per arm, and CTRs and uplift after each round (cumulative)."""
    totals: defaultdict[str, dict[tuple[str, str], Arm]] = defaultdict(lambda: defaultdict(Arm))
    slots: dict[str, dict] = {}
    for r in rounds:
        for c in store.round_counters(site, r["version"]):
            totals[c["slot"]][c["variant"], c["arm"]] += Arm(c["impressions"], c["clicks"])
        for slot, arms in totals.items():
            series = slots.setdefault(slot, {key: [] for key in ("time", "personalized", "holdout", "uplift", "low", "high")})
            personalized, holdout = _arm_total(arms, "personalized"), _arm_total(arms, "holdout")
            lift = uplift(personalized, holdout)
            for key, value in (("time", r["closed_at"]), ("personalized", personalized.ctr), ("holdout", holdout.ctr),
                               ("uplift", lift and lift.difference), ("low", lift and lift.low), ("high", lift and lift.high)):
                series[key].append(value)
    return {slot: {"series": slots[slot], "variants": _variant_rows(totals[slot])} for slot in sorted(slots)}


def _arm_total(arms: dict[tuple[str, str], Arm], arm: str) -> Arm:
    return sum((total for (_, a), total in arms.items() if a == arm), Arm())


def _variant_rows(arms: dict[tuple[str, str], Arm]) -> list[dict]:
    return [{"variant": variant, "arm": arm, "impressions": total.impressions, "clicks": total.clicks, "ctr": total.ctr}
            for (variant, arm), total in sorted(arms.items())]
