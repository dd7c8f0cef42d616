"""What a device downloads per global model version, what it costs the server, and the hash
space that sets both.

- `hash_space`: one shared `edge.Personalizer` (Thompson sampling) learns on two
  simulated sites of different shapes, the edge benchmarks' shop (20 items, 3 features each)
  and a catalog (200 items with a brand among 40 as a fourth feature, 20 of them shown per
  visit), at each size in `HASH_BITS`, all meeting the same visits, for each of `SEEDS`.
  Reported: the buckets its weights use (the features at 2^24, where collisions are rare),
  the share of features that share a bucket, and its expected CTR as a ratio to 2^24's in
  the same seed's run, averaged over the seeds (one run's exploration can get stuck for a
  while: single runs vary by 10 %). The default hash space for new sites is the smallest
  that loses no quality on either shape.
- `wire`: a site made with the defaults (`sync_server.sites.DEFAULT_HASH_BITS`, the default
  round config: a bucket is published only where the round's evidence stands above its noise)
  after `ROUNDS` rounds of `DEVICES` devices, each sending random gradients on `NONZEROS` buckets;
  its model fetched through the real app in each form
  and coding, the bytes of each answer's body as sent; per device and month for a visitor
  who comes every day (one download a day at most) and for one online all month
  (a download per round, rounds hourly at the defaults).
- `build_ms`: the time to build one answer (what a request waits for once per version, in a
  worker thread), at the default hash space and at 2^18, the old default.
- `database`: the bytes in use in SQLite per round, with the default retention and without it.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from starlette.testclient import TestClient

import edge
from bench import Progress, bandits
from sync_server import model_answers
from sync_server.app import create_app
from sync_server.config import Settings
from sync_server.demo.simulation import DEFAULT_ARCHETYPES, DEFAULT_CONTEXT_EFFECTS, DEFAULT_ITEMS, Item, Site
from sync_server.records import RoundConfig
from sync_server.rounds import close_round
from sync_server.sites import DEFAULT_HASH_BITS
from sync_server.storage import Store
from sync_server.tokens import TokenKeys
from sync_server.updates import parse_update

HASH_BITS = (10, 12, 14, 16, 18, 24)
SEEDS = (1, 2, 3)
FEATURES_AT = 24  # few collisions: the buckets used are the features
SHOWN = 20  # candidates per visit
SEED = 1
SITE = "shop"
ROUNDS = 6
DEVICES = 100  # per round: the default target_devices
NONZEROS = 300  # per delta
GOAL_BYTES = 100_000
VISITS_PER_MONTH, ROUNDS_PER_MONTH = 30, 30 * 24  # a daily visitor; hourly rounds (round_seconds)
FORMS = {"json": "application/json", "compact": model_answers.FORMS["compact"]}
CODINGS = {"identity": "identity", "gzip": "gzip", "br": "br"}


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    visits, seeds = (500, SEEDS[:1]) if quick else (10_000, SEEDS)
    rounds = 2 if quick else ROUNDS
    figures = {
        "hash_space": {name: hash_space(site, visits, seeds, progress, name) for name, site in shapes().items()},
        **wire_and_database(rounds, progress),
        "build_ms": {f"2^{bits}": build_times(bits) for bits in (DEFAULT_HASH_BITS, 18)},
    }
    params = {"hash_bits_tried": list(HASH_BITS), "visits": visits, "shown_per_visit": SHOWN, "seeds": list(seeds),
              "default_hash_bits": DEFAULT_HASH_BITS, "rounds": rounds, "devices_per_round": DEVICES,
              "nonzeros_per_delta": NONZEROS, "round_config": dataclasses.asdict(RoundConfig()),
              "visits_per_month": VISITS_PER_MONTH, "rounds_per_month": ROUNDS_PER_MONTH, "goal_bytes": GOAL_BYTES}
    return figures, params


def shapes() -> dict[str, Site]:
    """The shop, and a catalog ten times its size with one more (useless) feature per item."""
    catalog = [Item(f"sku{i:03d}", (*DEFAULT_ITEMS[i % 20].features, f"brand:b{i % 40}")) for i in range(200)]
    return {"shop (20 items)": Site.default(),
            "catalog (200 items, 20 shown)": Site(catalog, DEFAULT_ARCHETYPES, context_effects=DEFAULT_CONTEXT_EFFECTS)}


def hash_space(site: Site, visits: int, seeds: tuple[int, ...], progress: Progress, name: str) -> dict:
    """Buckets used, collisions and expected CTR of one shared engine at each hash space, over
    `seeds` (each its own visits, offers and exploration draws, met alike by every size)."""
    used = {bits: 0 for bits in HASH_BITS}
    expected = {bits: [] for bits in HASH_BITS}
    for seed in seeds:
        engines = {bits: bandits.Engine(edge.Config(policy="thompson", seed=seed, hash_bits=bits)) for bits in HASH_BITS}
        totals = dict.fromkeys(HASH_BITS, 0.0)
        shown = random.Random(seed)
        candidates = site.candidates()
        for visit in progress(site.visits(visits, seed), total=visits, desc=f"{name}, seed {seed}"):
            offered = shown.sample(candidates, min(SHOWN, len(candidates)))
            for bits, engine in engines.items():
                item = engine.choose(visit.context, offered)
                totals[bits] += visit.ctr[item]
                engine.learn(visit.context, item, visit.click(item))
        for bits, engine in engines.items():
            used[bits] += len(engine.engine.model.weights) / len(seeds)
            expected[bits].append(totals[bits] / visits)
    ratios = {bits: [e / r for e, r in zip(expected[bits], expected[FEATURES_AT])] for bits in HASH_BITS}
    return {f"2^{bits}": {"buckets_used": used[bits], "features_sharing_a_bucket": 1 - used[bits] / used[FEATURES_AT],
                          "expected_ctr": sum(expected[bits]) / len(seeds),
                          "expected_ctr_vs_2^24": sum(ratios[bits]) / len(seeds),
                          "expected_ctr_vs_2^24_per_seed": ratios[bits]}
            for bits in HASH_BITS}


def wire_and_database(rounds: int, progress: Progress) -> dict:
    """Bytes per version on the wire, and in the database per round, with and without retention."""
    with tempfile.TemporaryDirectory() as tmp:
        kept = _rounds(Path(tmp) / "kept.db", RoundConfig(), rounds, progress, "rounds (default retention)")
        unpruned = RoundConfig(versions_kept=10 ** 6)
        everything = _rounds(Path(tmp) / "all.db", unpruned, rounds, progress, "rounds (nothing pruned)")
        client = TestClient(create_app(Settings(db_path=Path(tmp) / "kept.db", demo_dir=None)))
        wire = {}
        for form, accept in FORMS.items():
            for coding, accept_encoding in CODINGS.items():
                answer = client.get(f"/v1/sites/{SITE}/model", headers={"accept": accept, "accept-encoding": accept_encoding})
                wire[f"{form}, {coding}"] = answer.num_bytes_downloaded
    smallest = min(wire["compact, br"], wire["compact, gzip"])
    return {
        "bytes_per_version": wire,
        "bytes_per_device_per_month": {"daily visitor": VISITS_PER_MONTH * smallest,
                                       "online all month": ROUNDS_PER_MONTH * smallest},
        "meets_goal": wire["compact, br"] <= GOAL_BYTES and wire["compact, gzip"] <= GOAL_BYTES,
        "database_bytes_per_round": {"default retention": kept, "nothing pruned": everything},
    }


def _rounds(path: Path, config: RoundConfig, rounds: int, progress: Progress, desc: str) -> dict:
    """Close `rounds` rounds of DEVICES random deltas on a new site; the database's bytes in use."""
    store = Store(path)
    store.create_site(SITE)
    store.set_round_config(SITE, config)
    rng = np.random.default_rng(SEED)
    buckets = 1 << DEFAULT_HASH_BITS
    in_use = [_bytes_in_use(store)]
    keys = TokenKeys(bytes(32))  # each update spends a token, as a device's does
    for _ in progress(range(rounds), total=rounds, desc=desc):
        version = store.round_state(SITE).version
        updates = []
        for _ in range(DEVICES):
            idx = np.sort(rng.choice(buckets, NONZEROS, replace=False))
            payload = {"base_version": version, "samples": 10,
                       "delta": {"intercept": 0.01, "idx": idx.tolist(), "val": rng.normal(0, 0.05, NONZEROS).tolist()},
                       "token": keys.mint(SITE, version + 1)}
            updates.append((SITE, parse_update(payload, buckets, version, config.max_staleness)))
        store.add_updates(updates)
        assert close_round(store, SITE, rng) is not None
        in_use.append(_bytes_in_use(store))
    return {"after_each_round": in_use[1:], "per_round_at_the_end": in_use[-1] - in_use[-2]}


def _bytes_in_use(store: Store) -> int:
    """Pages SQLite holds data in (freed pages are reused, so this is what the file grows by)."""
    pages, free, size = (store.db.execute(f"PRAGMA {name}").fetchone()[0]
                         for name in ("page_count", "freelist_count", "page_size"))
    return (pages - free) * size


def build_times(bits: int, repeats: int = 3) -> dict:
    """Milliseconds to build one answer of a model with noise on all 2^bits buckets (best of `repeats`)."""
    rng = np.random.default_rng(SEED)
    idx, val = np.arange(1 << bits, dtype=np.int32), rng.normal(0, 0.05, 1 << bits)
    header = {"site": SITE, "version": 3, "intercept": -3.9, "hash_bits": bits,
              "federation": RoundConfig().for_devices(), "settings": {"rules": {}}}
    times = {}
    for form in FORMS:
        for coding in model_answers.CODINGS:
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                model_answers.build(header, idx, val, form, coding)
                best = min(best, time.perf_counter() - started)
            times[f"{form}, {coding}"] = best * 1000
    return times
