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
- `wire`: on each shape, a site made with the defaults (`sync_server.sites.DEFAULT_HASH_BITS`,
  the default round config: noise on, a bucket published only where the round's curvature
  stands above its noise) after `ROUNDS` rounds of `DEVICES` real devices, each an
  `edge.Personalizer` that merges the newest model, meets its visitor on `VISITS` visits and
  sends its evidence (`delta()`) with a token, exactly as bench federated_quality's devices do
  (`federated_quality.Run`; every item a candidate on every visit); its model fetched through
  the real app in each form and coding, the bytes of each answer's body as sent; the buckets
  each version publishes; per device and month for a visitor who comes every day (one
  download a day at most) and for one online all month (a download per check, hourly at the
  defaults: the most it can take, were a new version published every hour; at the defaults one
  is published per 1,000 devices, or a month).
- `build_ms` and `bytes_every_bucket_published`: a model with a weight and a precision in every
  bucket, the most a version can hold, at the default hash space and at 2^18, the old default:
  the time to build each answer (what a request waits for once per version, in a worker
  thread) and its bytes.
- `database`: the bytes in use in SQLite after each of the same rounds, with the default retention
  and without it (nothing pruned).
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
from bench import Progress, bandits, federated_quality
from sync_server import model_answers, posterior
from sync_server.app import create_app
from sync_server.config import Settings
from sync_server.demo.simulation import DEFAULT_ARCHETYPES, DEFAULT_CONTEXT_EFFECTS, DEFAULT_ITEMS, Item, Site
from sync_server.records import RoundConfig
from sync_server.sites import DEFAULT_HASH_BITS
from sync_server.storage import Store

HASH_BITS = (10, 12, 14, 16, 18, 24)
SEEDS = (1, 2, 3)
FEATURES_AT = 24  # few collisions: the buckets used are the features
SHOWN = 20  # candidates per visit
SEED = 1
SITE = "shop"  # build_ms's model
ROUNDS = 6
DEVICES = 100  # per round (the default target is 1,000; `bytes_every_bucket_published` is the most any round can make)
VISITS = 8  # per device and round
GOAL_BYTES = 100_000
VISITS_PER_MONTH, ROUNDS_PER_MONTH = 30, 30 * 24  # a daily visitor; a device online all month looks hourly (check_seconds)
FORMS = {"json": "application/json", "compact": model_answers.FORMS["compact"]}
CODINGS = {"identity": "identity", "gzip": "gzip", "br": "br"}


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    visits, seeds = (500, SEEDS[:1]) if quick else (10_000, SEEDS)
    rounds = 2 if quick else ROUNDS
    full = {f"2^{bits}": every_bucket(bits) for bits in (DEFAULT_HASH_BITS, 18)}
    figures = {
        "hash_space": {name: hash_space(site, visits, seeds, progress, name) for name, site in shapes().items()},
        **wire_and_database(rounds, progress),
        "build_ms": {size: times for size, (times, _) in full.items()},
        "bytes_every_bucket_published": {size: sizes for size, (_, sizes) in full.items()},
    }
    params = {"hash_bits_tried": list(HASH_BITS), "visits": visits, "shown_per_visit": SHOWN, "seeds": list(seeds),
              "default_hash_bits": DEFAULT_HASH_BITS, "rounds": rounds, "devices_per_round": DEVICES,
              "visits_per_device": VISITS, "round_config": dataclasses.asdict(RoundConfig()),
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
    """Per shape: bytes per version on the wire, and in the database per round, with and
    without retention, after the same real rounds."""
    wire, month, published, database, in_use = {}, {}, {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, site) in enumerate(shapes().items()):
            shape = federated_quality.Shape(site, rounds=rounds, devices=DEVICES, visits=VISITS)
            kept, published[name] = _rounds(shape, Path(tmp) / f"{n}.db", RoundConfig(), progress, f"{name}, rounds")
            everything, _ = _rounds(shape, Path(tmp) / f"{n}-all.db", RoundConfig(versions_kept=10 ** 6), progress,
                                    f"{name}, rounds (nothing pruned)")
            in_use[name] = {"default retention": kept, "nothing pruned": everything}
            database[name] = {retention: after[-1] - after[-2] for retention, after in in_use[name].items()}
            wire[name] = _downloads(Path(tmp) / f"{n}.db")
            smallest = min(wire[name]["compact, br"], wire[name]["compact, gzip"])
            month[name] = {"daily visitor": VISITS_PER_MONTH * smallest, "online all month": ROUNDS_PER_MONTH * smallest}
    return {
        "bytes_per_version": wire,
        "bytes_per_device_per_month": month,
        "buckets_published_after_each_round": published,
        "meets_goal": all(w["compact, br"] <= GOAL_BYTES and w["compact, gzip"] <= GOAL_BYTES for w in wire.values()),
        "database_bytes_per_round": database,  # at the end
        "database_bytes_after_each_round": in_use,
    }


def _rounds(shape: federated_quality.Shape, path: Path, config: RoundConfig, progress: Progress,
            desc: str) -> tuple[list[int], list[int]]:
    """`shape.rounds` rounds of real devices on a new site at the default hash space (as in
    bench federated_quality); the database's bytes in use after each, and the buckets each
    version publishes."""
    run = federated_quality.Run("private", shape, config, path, hash_bits=DEFAULT_HASH_BITS)
    in_use, published = [], []
    for round_ in progress(range(shape.rounds), total=shape.rounds, desc=desc):
        run.round(round_, shape.visitors(round_), shape.candidates(round_))
        in_use.append(_bytes_in_use(run.store))
        version = run.store.round_state(federated_quality.SLOT).version
        if version != round_ + 1:
            raise RuntimeError(f"round {round_ + 1} did not close")
        published.append(len(run.store.model_arrays(federated_quality.SLOT, version)[1]))
    return in_use, published


def _downloads(db: Path) -> dict[str, int]:
    """The newest model fetched through the real app in each form and coding: each body's bytes as sent."""
    client = TestClient(create_app(Settings(db_path=db, demo_dir=None)))
    wire = {}
    for form, accept in FORMS.items():
        for coding, accept_encoding in CODINGS.items():
            answer = client.get(f"/v1/sites/{federated_quality.SLOT}/model",
                                headers={"accept": accept, "accept-encoding": accept_encoding})
            answer.raise_for_status()
            wire[f"{form}, {coding}"] = answer.num_bytes_downloaded
    return wire


def _bytes_in_use(store: Store) -> int:
    """Pages SQLite holds data in (freed pages are reused, so this is what the file grows by)."""
    pages, free, size = (store.db.execute(f"PRAGMA {name}").fetchone()[0]
                         for name in ("page_count", "freelist_count", "page_size"))
    return (pages - free) * size


def every_bucket(bits: int, repeats: int = 3) -> tuple[dict, dict]:
    """A model with a weight and a precision in every one of its 2^bits buckets, as the server
    builds its answers (the most a version can hold): the milliseconds to build each (best of
    `repeats`), and each answer's bytes."""
    rng = np.random.default_rng(SEED)
    idx, val = np.arange(1 << bits, dtype=np.int32), rng.normal(0, 0.05, 1 << bits)
    precisions = posterior.PRIOR_PRECISION + rng.gamma(1.0, 5.0, 1 << bits)  # posterior precisions, 3 digits as served
    header = {"site": SITE, "version": 3, "intercept": -3.9, "hash_bits": bits,
              "precisions": [[b, float(f"{p:.3g}")] for b, p in zip(idx.tolist(), precisions.tolist())],
              "federation": RoundConfig().for_devices(), "settings": {"rules": {}}}
    times, sizes = {}, {}
    for form in FORMS:
        for coding in model_answers.CODINGS:
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                answer = model_answers.build(header, idx, val, form, coding)
                best = min(best, time.perf_counter() - started)
            times[f"{form}, {coding}"], sizes[f"{form}, {coding}"] = best * 1000, len(answer.body)
    return times, sizes
