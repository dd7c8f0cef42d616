"""How much of what a shared model learns federated learning passes on, privately, on three sites.

Each simulated site (`SITES`) has a year of rounds. In every round its DEVICES visitors come,
each on their own device running `edge.Personalizer` through its public API only: the device
merges the newest global model (`merge_global`: its weights and precisions become the device's
prior), shows one of the live items on each of the visitor's visits that round (`decide`), learns
from their clicks (`learn`), and at the round's end sends its clipped evidence about the global
model (`delta`). The server's own code takes the updates (`updates.parse_update`,
`Store.add_updates`) and closes the round (`rounds.close_round`: re-clipping, the sums, Gaussian
noise on every bucket, the noise-aware posterior step, the per-visitor accountant). A visitor's
clicks follow their own archetype's tastes (`Site.visitor`). Each simulated visitor is around
for one round, so joins one round; the accountant charges every visitor the site's cap of
`device_rounds_per_year` rounds (one at the defaults).

Four runs meet exactly the same visitors, clicks and exploration draws:

- `local`: devices never federate; each starts from an empty model;
- `shared`: one engine learns from every visitor's events, in order (each visitor keeps their
  own profile): what a central server seeing everything would learn, the upper reference;
- `federated`: the shipped round config without noise (σ = 0, no guarantee);
- `private`: the shipped round config as is (σ, the cap k, ε ≤ 2 per visitor-year at δ = 1e-6).

Reported per site and run: the expected CTR (the chosen item's click probability, far less
noisy than clicks) over the year and per round, and ε; per site `transfer_share` = (private −
local) / (shared − local), and the smallest per-round margin of private over local, which the
small site must keep ≥ 0 (noise must never make a device worse than learning alone).

Every site runs a year of twelve rounds, at the size a round of the shipped config has: 1,000
devices (the shop, and the news site, whose stories live for 2,000 visitors, so half the live
ones are new every round), and the small site's 250 (its 3,000 visitors a year, a round at
`min_devices`); and the shop with five times its visitors, in rounds of 5,000 (the noise on a
round's sums does not grow with it, so a larger site keeps more). Each of SEEDS is a year of
other visitors, clicks, exploration and noise (the larger shop runs the first only);
shares are the seeds' mean, each seed's beside it. Scaled to the machine (2 slow cores,
shared): few visits per visitor, and a hash space of HASH_BITS (2^12 buckets) rather than the
shipped 2^14.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import orjson

import edge
from bench import Progress
from edge.profile import Profile
from sync_server.demo.simulated_sites import boutique, news
from sync_server.demo.simulation import Site
from sync_server.records import RoundConfig, Update
from sync_server.rounds import close_round
from sync_server.storage import Store
from sync_server.tokens import TokenKeys
from sync_server.updates import parse_update

SLOT = "hero"
HASH_BITS = 12
SECONDS_BETWEEN_VISITS = 86_400.0
TARGET_EPSILON, DELTA = 2.0, 1e-6
GOAL_SHARE = 0.8
SEEDS = (1, 2)
WORKERS = 2  # years at once, each in a process of its own: the machine's cores


@dataclasses.dataclass(frozen=True)
class Shape:
    """A simulated site: its visitors and items, how many rounds a year, how many devices and
    visits per round, how many items are live at once, and after how many visitors half of
    those are new (news stories live for a while)."""

    site: Site
    rounds: int
    devices: int
    visits: int
    live: int | None = None  # items live at once; None: all, always
    turnover: int = 1_000  # visitors after which half the live items are new
    seeds: int = len(SEEDS)  # years run, each of its own seed

    def candidates(self, round_: int) -> list[dict]:
        items = self.site.candidates()
        if self.live is None:
            return items
        start = round_ * self.devices // self.turnover * self.live // 2 % len(items)
        return [items[(start + i) % len(items)] for i in range(self.live)]

    def visitors(self, round_: int, seed: int = SEEDS[0]) -> list:
        """The visitors of `round_` in the year of `seed`, each with their visits: the same for every run."""
        first = (seed - SEEDS[0]) * 1_000_003 + round_ * self.devices
        return [self.site.visitor(self.visits, seed=first + d) for d in range(self.devices)]


def sites(quick: bool) -> dict[str, Shape]:
    """The three sites; --quick keeps a tenth of the devices and a third of the rounds."""
    scale, rounds = (10, 3) if quick else (1, 1)
    return {
        "shop": Shape(Site.default(), rounds=12 // rounds, devices=1_000 // scale, visits=8),
        "news": Shape(news(), rounds=12 // rounds, devices=1_000 // scale, visits=8, live=30, turnover=1_000 // scale),
        "small": Shape(boutique(), rounds=12 // rounds, devices=250 // scale, visits=8),  # 3,000 visitors a year
        # The shop with five times the visitors (60,000 a year): one year, for the machine's sake.
        "shop, 5x": Shape(Site.default(), rounds=12 // rounds, devices=5_000 // scale, visits=8, seeds=1),
    }


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    shapes, seeds = sites(quick), SEEDS[:1] if quick else SEEDS
    shipped = RoundConfig()
    configs = {"local": None, "shared": None, "federated": dataclasses.replace(
        shipped, noise_multiplier=0.0, epsilon_budget=None), "private": shipped}
    # Years are independent: WORKERS of them at once, each in a process of its own, the longest first.
    years = [(name, seed) for name, shape in shapes.items() for seed in seeds[:shape.seeds]]
    years.sort(key=lambda year: -shapes[year[0]].devices)
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ProcessPoolExecutor(max_workers=WORKERS) as pool:
        jobs = {(name, seed): pool.submit(_year, name, quick, configs, seed, Path(tmp) / f"{name}-{seed}")
                for name, seed in years}
        list(progress(concurrent.futures.as_completed(jobs.values()), total=len(jobs), desc="years of a site and seed"))
    figures, plans = {}, {}
    for name, shape in shapes.items():
        figures[name] = _summary([jobs[name, seed].result() for seed in seeds[:shape.seeds]])
        plans[name] = {"rounds": shape.rounds, "devices_per_round": shape.devices, "visits_per_device": shape.visits,
                       "items": len(shape.site.items), "live_items": shape.live or len(shape.site.items),
                       "visitors_per_year": shape.rounds * shape.devices, "seeds": list(seeds[:shape.seeds])}
    figures["meets_goal"] = all(figures[n]["transfer_share"] >= GOAL_SHARE for n in shapes) and all(
        figures[n]["worst_round_private_minus_local"] >= 0 and figures[n]["private"]["epsilon"] <= TARGET_EPSILON
        for n in shapes)
    params = {"sites": plans, "hash_bits": HASH_BITS, "round_config": dataclasses.asdict(shipped),
              "target_epsilon": TARGET_EPSILON, "delta": DELTA, "goal_share": GOAL_SHARE, "seeds": list(seeds),
              "accounting": "exact (Gaussian DP), per visitor: the k = device_rounds_per_year least noisy rounds of any 365 days"}
    return figures, params


def _year(site: str, quick: bool, configs: dict, seed: int, db: Path) -> dict:
    """Each run's results over the year of `seed` on `site` (by name: a Site does not pickle)."""
    shape = sites(quick)[site]
    runs = {run: Run(run, shape, config, db.with_name(f"{db.name}-{run}.db"), seed=seed) for run, config in configs.items()}
    for round_ in range(shape.rounds):
        candidates, visitors = shape.candidates(round_), shape.visitors(round_, seed)
        for one in runs.values():
            one.round(round_, visitors, candidates)
    return {run: one.results() for run, one in runs.items()}


def _summary(years: list[dict]) -> dict:
    """A site's figures over its years (one per seed): shares and CTRs averaged, each year's share beside them."""
    def share(year: dict, run: str) -> float:
        local = year["local"]["expected_ctr"]
        return (year[run]["expected_ctr"] - local) / (year["shared"]["expected_ctr"] - local)

    runs = list(years[0])
    margins = [p - q for year in years for p, q in zip(year["private"]["by_round"], year["local"]["by_round"])]
    return {
        **{run: {"expected_ctr": float(np.mean([y[run]["expected_ctr"] for y in years])),
                 "epsilon": years[0][run]["epsilon"]} for run in runs},  # the same config every year
        "transfer_share": float(np.mean([share(y, "private") for y in years])),
        "transfer_share_per_seed": [share(y, "private") for y in years],
        "federated_share": float(np.mean([share(y, "federated") for y in years])),
        "federated_share_per_seed": [share(y, "federated") for y in years],
        "worst_round_private_minus_local": min(margins),
        "by_round": {run: np.mean([y[run]["by_round"] for y in years], axis=0).tolist() for run in runs},
    }


class Run:
    """One of a site's runs over the year: federated through a server store if `config`,
    else each device alone (`local`) or one engine for everyone (`shared`), over 2^`hash_bits` buckets."""

    def __init__(self, name: str, shape: Shape, config: RoundConfig | None, db: Path, hash_bits: int = HASH_BITS,
                 seed: int = SEEDS[0]) -> None:
        self.shape, self.store, self.hash_bits, self.seed = shape, None, hash_bits, seed
        if config is not None:
            self.store = Store(db)
            self.store.create_site(SLOT, hash_bits=hash_bits)
            self.store.set_round_config(SLOT, dataclasses.replace(
                config, min_devices=shape.devices, target_devices=shape.devices, max_staleness=0))
        self.device_config = edge.Config(hash_bits=hash_bits, clip_norm=config.clip_norm if config else 1.0)
        self.central = edge.Personalizer(edge.Config(hash_bits=hash_bits, seed=seed)) if name == "shared" else None
        self.rng = np.random.default_rng(seed)
        self.keys = TokenKeys(bytes(32))  # the devices' participation tokens, one per update
        self.expected = np.zeros(shape.rounds)

    def round(self, round_: int, visitors: list, candidates: list[dict]) -> list[Update]:
        """Every visitor's visits on their device, then the round closed; the updates the devices sent."""
        model = _global_model(self.store) if self.store else None
        updates = []
        for device, visits in enumerate(visitors):
            engine = self.central
            if engine is None:
                seed = self.seed * 1_000_003 + round_ * len(visitors) + device
                engine = edge.Personalizer(dataclasses.replace(self.device_config, seed=seed))
            else:
                engine.profile = Profile()  # everyone's learning, each visitor's own profile
            if model is not None:
                engine.merge_global(model)
            self.expected[round_] += _visits(engine, visits, candidates)
            if model is not None and engine.samples:
                delta = {**engine.delta(), "token": self.keys.mint(SLOT, model["version"] + 1)}
                updates.append(parse_update(delta, 1 << self.hash_bits, model["version"], 0))
        if self.store:
            self.store.add_updates([(SLOT, update) for update in updates])
            close_round(self.store, SLOT, self.rng)
        return updates

    def results(self) -> dict:
        by_round = self.expected / (self.shape.devices * self.shape.visits)
        spent = self.store.round_state(SLOT).epsilon if self.store else 0.0
        return {"expected_ctr": float(by_round.mean()), "by_round": by_round.tolist(),
                "epsilon": spent if math.isfinite(spent) else None}


def _global_model(store: Store) -> dict:
    """The newest model as a device receives it (through JSON, as over HTTP)."""
    state = store.round_state(SLOT)
    intercept, weights = store.model(SLOT, state.version)
    _, idx, precisions = store.model_precisions(SLOT, state.version)
    return orjson.loads(orjson.dumps({"version": state.version, "intercept": intercept, "weights": weights,
                                      "precisions": list(zip(idx.tolist(), precisions.tolist()))}))


def _visits(engine: edge.Personalizer, visits, candidates: list[dict]) -> float:
    """Show one item on each visit and learn from the clicks; the expected number of clicks."""
    expected, at = 0.0, 0.0
    for visit in visits:
        at += SECONDS_BETWEEN_VISITS
        decision = engine.decide(SLOT, candidates, visit.context, at=at, size=1)
        item = decision.ranking[0]
        expected += visit.ctr[item]
        if visit.click(item):
            engine.learn({"type": "click", "decision": decision.id, "variant": item, "at": at})
    return expected


def plot(figures: dict, params: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = list(params["sites"])
    fig, axes = pyplot.subplots(1, len(names), figsize=(5 * len(names), 4.2))
    for ax, name in zip(axes, names):
        site = figures[name]
        for run, curve in site["by_round"].items():
            label = f"{run} (ε = {site[run]['epsilon']:.2f})" if run == "private" else run
            ax.plot(range(1, len(curve) + 1), [100 * c for c in curve], marker=".", label=label)
        ax.set(xlabel="round", ylabel="expected CTR (%)",
               title=f"{name}: transfer share {site['transfer_share']:.2f}")
        ax.legend(fontsize="small")
    fig.suptitle("A year of rounds: local, shared, federated and private")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)
