"""One site as the dashboard shows it: model history, privacy spent, features, effect per slot.

Everything is read from the store and returned as plain JSON-able data, which the HTML
page renders as tables and `/v1/admin/sites/{site}/dashboard` hands to the charts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from edge.features import context_tokens
from edge.rules import Rules
from sync_server import replay
from sync_server.admin.effect import Arm, uplift
from sync_server.admin.features import BucketNames
from sync_server.catalog import Catalog
from sync_server.drift import ctr_alerts
from sync_server.posterior import PRIOR_PRECISION
from sync_server.privacy import MAX_NOISE_MULTIPLIER
from sync_server.records import RoundState
from sync_server.storage import Store

TOP_FEATURES = 8


class Dashboards:
    """Builds sites' dashboards off the event loop, which the update path shares: a River replay
    and a dense model's read take from milliseconds to seconds. One worker thread with a
    connection of its own (a connection serves one thread at a time), and the logged samples
    and replays it made, which are costly and change rarely. One per app (`app.state.dashboards`)."""

    def __init__(self, store: Store) -> None:
        self._app_store = store
        self._store: Store | None = None  # the worker thread's own connection, opened when first needed
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard")
        self.samples: dict[tuple, replay.LoggedSample] = {}  # (site, upload time) -> the parsed sample
        self.replays: dict[tuple, dict] = {}  # (site, upload time, version) -> replay results

    async def site(self, site: str) -> dict:
        """`site_dashboard` of `site`, built on the worker thread (UnknownSite if there is none)."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, self._build, site)

    def _build(self, site: str) -> dict:
        if self._store is None:
            self._store = self._app_store.reopen()
        return site_dashboard(self._store, site, self)


ADMIN_ERASURE = "admin_request"  # an erasure an admin made for a visitor, audited as the admin's change


def site_summary(store: Store, site: str) -> dict:
    """What the sites overview shows about `site`: its model, rounds and privacy spent
    (UnknownSite if there is none). The dashboard shows this and much more (`site_dashboard`)."""
    return _summary(site, store.round_state(site), store.rounds(site))


def site_dashboard(store: Store, site: str, cache: Dashboards) -> dict:
    """Everything the dashboard shows about `site` (UnknownSite if there is none), with the
    samples and replays `cache` keeps."""
    state = store.round_state(site)
    rounds = store.rounds(site)
    slots = slot_effects(store, site, rounds)
    variants = {(slot, row["variant"]) for slot, effect in slots.items() for row in effect["variants"]}
    sample = _logged_sample(store, site, cache.samples)
    stored = store.catalog(site)
    catalog = Catalog.from_dict(stored) if stored else None
    hash_bits = store.site(site)["hash_bits"]
    names = _bucket_names(hash_bits, variants, sample and sample[1], catalog)
    model = store.latest_model(site)
    _, idx, precisions = store.model_precisions(site, state.version)
    return {
        **_summary(site, state, rounds),
        "catalog": catalog and {"slots": len(catalog.slots), "variants": len(catalog.variants()),
                                "features": len(catalog.features())},
        "features": top_features(model["weights"], names.describe, dict(zip(idx.tolist(), precisions.tolist()))),
        "noise_std": noise_std(state),
        "waiting": waiting(state, store.consent_counts(site)),
        "holdout": Rules.from_dict(store.editor_rules(site)[1]).holdout,
        "slots": slots,
        "drift": {slot: ctr_alerts(effect.pop("personalized_by_round")) for slot, effect in slots.items()},
        "replay": sample and _model_replay(model, hash_bits, sample, cache.replays),
    }


def _bucket_names(hash_bits: int, variants: set[tuple[str, str]], sample: replay.LoggedSample | None,
                  catalog: Catalog | None) -> BucketNames:
    """The names the server knows for `site`'s buckets: the counted variants', the logged sample's
    and the catalog's (its titles among them)."""
    features, contexts = _vocabulary(sample) if sample else ([], [])
    titles = {}
    if catalog:
        titles = {(slot, variant): title for slot, variant, title in catalog.variants()}
        variants = variants | set(titles)
        features, contexts = [*features, *catalog.features()], [*contexts, *catalog.contexts()]
    return BucketNames(hash_bits, sorted(variants), features, contexts, titles)


def _summary(site: str, state: RoundState, rounds: list[dict]) -> dict:
    return {
        "site": site,
        "version": state.version,
        "pending_updates": state.pending,
        "epsilon": state.epsilon if math.isfinite(state.epsilon) else None,  # None: rounds without noise, no guarantee
        "epsilon_budget": state.config.epsilon_budget,
        "accepting_updates": state.accepting,
        "federation": dataclasses.asdict(state.config),
        "rounds": [{key: r[key] for key in ("version", "closed_at", "reason", "devices", "noise_multiplier", "epsilon")}
                   for r in rounds],
    }


def audit_entries(store: Store, site: str, limit: int = 50) -> list[dict]:
    """The site's latest changes and erasures, newest first; an erasure says what went, never whose."""
    erasures = [{"at": e["erased_at"], "admin": "a visitor", "via": e["reason"].replace("_", " "), "action": "erasure",
                 "detail": {"profile": bool(e["profile"]), "consent records": e["consents"]}}
                for e in store.erasures(site)[-limit:] if e["reason"] != ADMIN_ERASURE]  # those are in the audit log
    return sorted([*store.audit_log(site, limit), *erasures], key=lambda entry: entry["at"], reverse=True)[:limit]


def _logged_sample(store: Store, site: str, samples: dict) -> tuple[float, replay.LoggedSample] | None:
    """The site's logged sample (parsed once per upload, kept in `samples`) and its upload time, or None."""
    stored = store.logged_sample(site)
    if stored is None:
        return None
    key = (site, stored[0])
    if key not in samples:
        _bounded(samples)[key] = replay.LoggedSample.parse(stored[1])
    return stored[0], samples[key]


def _model_replay(model: dict, hash_bits: int, sample: tuple[float, replay.LoggedSample], replays: dict) -> dict:
    """The global `model`'s replay on the logged sample (see replay.py), once per model version (kept in `replays`)."""
    key = (model["site"], sample[0], model["version"])
    if key not in replays:
        _bounded(replays)[key] = replay.replay(sample[1], model["intercept"], model["weights"], hash_bits)
    return {"uploaded_at": sample[0], "impressions": len(sample[1].impressions), "slots": replays[key]}


def _bounded(cache: dict, size: int = 32) -> dict:
    if len(cache) >= size:
        cache.clear()
    return cache


def _vocabulary(sample: replay.LoggedSample) -> tuple[list[str], list[str]]:
    """The candidate features and visit context tokens a logged sample names."""
    features = {f: None for i in sample.impressions for fs in i.candidates.values() for f in fs}
    contexts = {t: None for i in sample.impressions for t in context_tokens(i.context)}
    return list(features), list(contexts)


def top_features(weights: list[list], describe: Callable[[int], str | None],
                 precisions: Mapping[int, float] | None = None, count: int = TOP_FEATURES) -> dict:
    """The named buckets that raise and lower scores most in the global model, each with its
    standard deviation (1/√precision: the server's posterior counts the privacy noise in,
    `sync_server/posterior.py`), and how many weights more than two of theirs from 0 no
    known name hashes to (counted, not listed).

    >>> top_features([[3, 0.5], [9, -0.2], [4, 0.1]], {3: "tent in picks"}.get, {3: 100.0, 9: 4.0, 4: 4.0}, count=1)
    {'positive': [{'bucket': 3, 'weight': 0.5, 'name': 'tent in picks', 'sd': 0.1}], 'negative': [], 'unnamed': 0}
    """
    precisions = precisions or {}
    named = [(b, w, describe(b), 1 / math.sqrt(precisions.get(b, PRIOR_PRECISION))) for b, w in weights if w]
    ranked = sorted((row for row in named if row[2]), key=lambda row: row[1])

    def as_rows(rows: list[tuple]) -> list[dict]:
        return [{"bucket": b, "weight": w, "name": name, "sd": sd} for b, w, name, sd in rows]

    return {"positive": as_rows([r for r in reversed(ranked) if r[1] > 0][:count]),
            "negative": as_rows([r for r in ranked if r[1] < 0][:count]),
            "unnamed": sum(1 for _, w, name, sd in named if name is None and abs(w) > 2 * sd)}


def noise_std(state: RoundState) -> float:
    """The standard deviation of the privacy noise the newest round added to every bucket's
    sum of gradients (σ·C; its sum of curvatures got the same, scaled down by CURVATURE_SCALE).

    >>> from sync_server.records import ClosedRound, RoundConfig
    >>> noise_std(RoundState("s", 16, 1, RoundConfig(), [ClosedRound(0.0, 2.5, 4.0, 0.1, 1000)]))
    10.0
    """
    last = state.closed[-1] if state.closed else None
    return min(last.noise_multiplier, MAX_NOISE_MULTIPLIER) * last.clip_norm if last else 0.0


def waiting(state: RoundState, consents: dict[str, int]) -> dict:
    """What the next round waits for: its number, the updates it has and needs, and how many
    visitors can send one (those whose consent grants `improve`)."""
    config = state.config
    return {"round": state.version + 1, "updates": state.pending, "min_devices": config.min_devices,
            "target_devices": config.target_devices, "round_seconds": config.round_seconds,
            "opened_at": state.opened_at, "visitors": consents["visitors"], "improve_visitors": consents["improve"],
            "sync_visitors": consents["sync"]}


def slot_effects(store: Store, site: str, rounds: list[dict]) -> dict[str, dict]:
    """Per slot: its objective, each variant's totals per arm, the rates and uplift after each
    round (cumulative), and each round's own personalized (version, impressions, successes),
    for the drift detector. A slot's objective is `conversions` if its devices count them
    (it optimizes a goal), else `clicks`; its rates and uplift are of that objective."""
    totals: defaultdict[str, dict[tuple[str, str], Arm]] = defaultdict(lambda: defaultdict(Arm))
    by_round: defaultdict[str, list[tuple[int, float, float]]] = defaultdict(list)
    slots: dict[str, dict] = {}
    converting: set[str] = set()
    for r in rounds:
        own: defaultdict[str, Arm] = defaultdict(Arm)
        for c in store.round_counters(site, r["version"]):
            if c.get("conversions") is not None:
                converting.add(c["slot"])
            arm = Arm(c["impressions"], c["clicks"] if c.get("conversions") is None else c["conversions"])
            totals[c["slot"]][c["variant"], c["arm"]] += arm
            if c["arm"] == "personalized":
                own[c["slot"]] += arm
        for slot, arm in own.items():
            by_round[slot].append((r["version"], arm.impressions, arm.clicks))
        for slot, arms in totals.items():
            series = slots.setdefault(slot, {key: [] for key in ("time", "personalized", "holdout", "uplift", "low", "high")})
            personalized, holdout = _arm_total(arms, "personalized"), _arm_total(arms, "holdout")
            lift = uplift(personalized, holdout)
            for key, value in (("time", r["closed_at"]), ("personalized", personalized.ctr), ("holdout", holdout.ctr),
                               ("uplift", lift and lift.difference), ("low", lift and lift.low), ("high", lift and lift.high)):
                series[key].append(value)
    objective = {slot: "conversions" if slot in converting else "clicks" for slot in slots}
    return {slot: {"objective": objective[slot], "series": slots[slot], "variants": _variant_rows(totals[slot], objective[slot]),
                   "personalized_by_round": by_round[slot]}
            for slot in sorted(slots)}


def _arm_total(arms: dict[tuple[str, str], Arm], arm: str) -> Arm:
    return sum((total for (_, a), total in arms.items() if a == arm), Arm())


def _variant_rows(arms: dict[tuple[str, str], Arm], objective: str) -> list[dict]:
    rate = "ctr" if objective == "clicks" else "conversion_rate"
    return [{"variant": variant, "arm": arm, "impressions": total.impressions, objective: total.clicks, rate: total.ctr}
            for (variant, arm), total in sorted(arms.items())]
