"""Model quality with differential privacy on and off, over a simulated year of federated rounds.

The site is the edge benchmarks' shop (`sync_server.simulation.Site.default()`). Every month
DEVICES visitors come, each on their own device running `edge.Personalizer` through its public
API only: the device merges the newest global model (`merge_global`), shows one of the 20
items on each of the visitor's VISITS visits that month (`decide`), learns from their clicks
(`learn`), and at the month's end sends its clipped delta (`delta`). The server's own code takes
the deltas (`updates.parse_update`, `Store.add_updates`) and closes the month's round
(`rounds.close_round`: re-clipping, the mean, Gaussian noise on every bucket, the RDP
accountant): 12 rounds make the year. A visitor's clicks follow their own archetype's tastes
(`Site.visitor`).

Three runs meet exactly the same visitors, clicks and exploration draws:

- `local only`: devices never federate; each starts from an empty model;
- `federated, no noise`: DP-FedAvg with σ = 0 (no privacy guarantee: ε is infinite);
- `federated, private`: σ as small as keeps the accountant's ε after the year at most 2 at
  δ = 1e-6, counting every device as taking part in every round (no amplification).

Reported per run: the CTR (clicks per visit) and the expected CTR (the chosen item's click
probability, which has far less sampling noise) over the year and over its last quarter, and
ε; and the expected CTR of always showing each visitor their best item. Goal: the private
run's CTR, expected CTR and last-quarter expected CTR all within 5 % of the non-private run's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import orjson

import edge
from bench import Progress
from sync_server.privacy import epsilon
from sync_server.rounds import RoundConfig, close_round
from sync_server.simulation import Site
from sync_server.storage import Store
from sync_server.tokens import TokenKeys
from sync_server.updates import parse_update

SITE = "shop"
SLOT = "hero"
HASH_BITS = 12  # noise makes the global model dense, and every device merges all of it
ROUNDS = 12  # monthly
DEVICES = 1_000  # per round
VISITS = 10  # per device and month
SECONDS_BETWEEN_VISITS = 86_400.0 * 3
CLIP_NORM = 0.5  # devices clip to it, and the server again
LEARNING_RATE = 15.0  # the server's step on the mean delta: a month of one visitor teaches little
TARGET_EPSILON, DELTA = 2.0, 1e-6
GOAL_SHARE = 0.95
SEED = 1


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    devices = 100 if quick else DEVICES
    sigma = noise_multiplier(TARGET_EPSILON, ROUNDS, DELTA)
    site = Site.default()
    runs = {"local only": None, "federated, no noise": 0.0, "federated, private": sigma}
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: _year(site, Path(tmp) / f"{number}.db", devices, sigma, progress, name)
                   for number, (name, sigma) in enumerate(runs.items())}
    plain, private = results["federated, no noise"], results["federated, private"]
    shares = {f"private_{figure}_share_of_non_private": private[figure] / plain[figure]
              for figure in ("ctr", "expected_ctr", "last_quarter_expected_ctr")}
    figures = {
        "runs": results,
        **shares,
        "best_possible_expected_ctr": _best_possible(site, devices),
        # Expected CTR: realized clicks on ~120k visits have a sampling error near 2 %.
        "meets_goal": min(shares.values()) >= GOAL_SHARE and private["epsilon"] <= TARGET_EPSILON,
    }
    params = {"rounds": ROUNDS, "devices_per_round": devices, "visits_per_device": VISITS, "hash_bits": HASH_BITS,
              "clip_norm": CLIP_NORM, "server_learning_rate": LEARNING_RATE, "noise_multiplier": sigma,
              "target_epsilon": TARGET_EPSILON, "delta": DELTA, "goal_share": GOAL_SHARE, "seed": SEED,
              "accounting": "RDP, every device in every round (no amplification by sampling)"}
    return figures, params


def noise_multiplier(target: float, rounds: int, delta: float) -> float:
    """The smallest σ (to 0.1 %) whose ε after `rounds` rounds is at most `target`."""
    low, high = 0.1, 1_000.0
    while high / low > 1.001:
        middle = (low * high) ** 0.5
        low, high = (middle, high) if epsilon([middle] * rounds, delta) > target else (low, middle)
    return high


def _year(site: Site, db: Path, devices: int, sigma: float | None, progress: Progress, name: str) -> dict:
    """One run over the year; `sigma` None: no federation."""
    store = Store(db)
    store.create_site(SITE, hash_bits=HASH_BITS)
    store.set_round_config(SITE, RoundConfig(
        min_devices=1, target_devices=1, max_staleness=0, clip_norm=CLIP_NORM, learning_rate=LEARNING_RATE,
        noise_multiplier=sigma or 0.0, delta=DELTA))
    rng = np.random.default_rng(SEED)
    keys = TokenKeys(bytes(32))  # the devices' participation tokens, one per update
    candidates = site.candidates()
    clicks, expected = np.zeros(ROUNDS), np.zeros(ROUNDS)  # by month
    for month in progress(range(ROUNDS), total=ROUNDS, desc=f"{name}, months"):
        model = _global_model(store) if sigma is not None else None
        updates = []
        for device in range(devices):
            engine = edge.Personalizer(edge.Config(hash_bits=HASH_BITS, clip_norm=CLIP_NORM,
                                                   seed=SEED + month * devices + device))
            if model is not None:
                engine.merge_global(model)
            got, chance = _visits(engine, site.visitor(VISITS, seed=month * devices + device), candidates)
            clicks[month] += got
            expected[month] += chance
            if model is not None:
                delta = {**engine.delta(), "token": keys.mint(SITE, model["version"] + 1)}
                updates.append(parse_update(delta, 1 << HASH_BITS, model["version"], 0))
        if sigma is not None:
            store.add_updates([(SITE, update) for update in updates])
            close_round(store, SITE, rng)
    monthly = devices * VISITS
    quarter = slice(ROUNDS * 3 // 4, ROUNDS)
    spent = store.round_state(SITE).epsilon if sigma is not None else 0.0
    return {"ctr": float(clicks.sum() / (ROUNDS * monthly)), "expected_ctr": float(expected.sum() / (ROUNDS * monthly)),
            "last_quarter_ctr": float(clicks[quarter].mean() / monthly),
            "last_quarter_expected_ctr": float(expected[quarter].mean() / monthly),
            "epsilon": spent if np.isfinite(spent) else None, "visits": ROUNDS * monthly,
            "monthly_expected_ctr": (expected / monthly).tolist()}


def _best_possible(site: Site, devices: int) -> float:
    """The expected CTR of always showing each visitor the item they are likeliest to click."""
    visits = [visit for month in range(ROUNDS) for device in range(devices)
              for visit in site.visitor(VISITS, seed=month * devices + device)]
    return sum(visit.best_ctr for visit in visits) / len(visits)


def _global_model(store: Store) -> dict:
    """The newest model as a device receives it (through JSON, as over HTTP)."""
    version = store.round_state(SITE).version
    intercept, weights = store.model(SITE, version)
    return orjson.loads(orjson.dumps({"version": version, "intercept": intercept, "weights": weights}))


def _visits(engine: edge.Personalizer, visits, candidates: list[dict]) -> tuple[int, float]:
    """Show one item on each visit and learn from the clicks; the clicks and their expected number."""
    clicks, expected, at = 0, 0.0, 0.0
    for visit in visits:
        at += SECONDS_BETWEEN_VISITS
        decision = engine.decide(SLOT, candidates, visit.context, at=at, size=1)
        item = decision.ranking[0]
        expected += visit.ctr[item]
        if visit.click(item):
            clicks += 1
            engine.learn({"type": "click", "decision": decision.id, "variant": item, "at": at})
    return clicks, expected


def plot(figures: dict, params: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, ax = pyplot.subplots(figsize=(7, 4.5))
    for name, run in figures["runs"].items():
        label = f"{name} (ε = {run['epsilon']:.2f})" if name.endswith("private") else name
        ax.plot(range(1, params["rounds"] + 1), [100 * c for c in run["monthly_expected_ctr"]], marker="o",
                label=label)
    ax.axhline(100 * figures["best_possible_expected_ctr"], color="black", linestyle=":")
    ax.annotate("best possible", (1, 100 * figures["best_possible_expected_ctr"]), xytext=(0, -12),
                textcoords="offset points")
    ax.set(xlabel="month", ylabel="expected CTR (%)",
           title=f"A year of monthly rounds, {params['devices_per_round']:,} devices each")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)
