"""How well each policy learns what visitors click, on the simulated site.

Every contestant meets the same 100k visits (5k with --quick) of
`sync_server.demo.simulation.Site.default()`, shows one of its 20 items per visit and learns
from the click or its absence. Reported per contestant: the cumulative click-through rate;
the expected CTR of its choices, also as a share of the best achievable from the visit's
context; the regret (expected clicks lost to the best choice, summed over visits); and the
cost of deciding and of learning in µs, also as a ratio to the best River LinUCB.

What each contestant gets, so that the comparison is fair:

- `random`, the floor; `popularity (Thompson)`, Beta-Bernoulli Thompson sampling per item,
  blind to the context: what plain A/B/n optimisation gives.
- `river LinUCBDisjoint α=…`: River's `bandit.LinUCBDisjoint`, a ridge regression per item
  over the context's tokens one-hot (the same tokens the engine sees) plus a bias. Its
  `alpha` is its one knob and the default (1) explores far too much at CTRs of a few per
  cent, so it runs with each alpha of `RIVER_ALPHAS`, in this same run; its best counts.
- `vw …`: Vowpal Wabbit's `--cb_explore_adf` with `-q ca` (context × item features, the
  crosses the engine learns on), with VW's defaults (MTR, ε = 0.05) and with the direct
  method and smaller ε (`VW_OPTIONS`), which did much better in trials (MTR's importance
  weights of 1/propensity make its steps wild when clicks are rare). Its best counts.
- `edge POLICY`: our engine with its default `Config` (FTRL-Proximal learner) and each
  policy it offers; `edge thompson` is the default. Every visit is a new visitor.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import edge
from bench import Progress, bandits
from edge import policies
from sync_server.demo.simulation import Site

SEED = 1
POINTS = 50  # points on each curve


RIVER_ALPHAS = (0.01, 0.03, 0.1, 1.0)
VW_OPTIONS = {"mtr ε=0.05 (defaults)": "", "dm ε=0.02": "--cb_type dm --epsilon 0.02",
              "dm ε=0.005": "--cb_type dm --epsilon 0.005"}


def contestants() -> dict[str, Callable[[], bandits.Contestant]]:
    """Name -> a function making a fresh contestant; our engine once per policy it offers."""
    makers: dict[str, Callable[[], bandits.Contestant]] = {
        "random": bandits.Random,
        "popularity (Thompson)": bandits.Popularity,
    }
    for alpha in RIVER_ALPHAS:
        makers[f"river LinUCBDisjoint α={alpha}"] = lambda alpha=alpha: bandits.RiverLinUCB(alpha)
    for label, options in VW_OPTIONS.items():
        makers[f"vw cb_explore_adf {label}"] = lambda options=options: bandits.VowpalWabbit(options)
    for policy in policies.BY_NAME:
        config = edge.Config(policy=policy, seed=SEED)
        makers[f"edge {policy}"] = lambda config=config: bandits.Engine(config)
    return makers


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    n = 5_000 if quick else 100_000
    site = Site.default()
    candidates = site.candidates()
    every = max(1, n // POINTS)
    # Everyone meets each visit in turn, so a busy machine slows them all alike.
    scores = {name: Scoreboard(make()) for name, make in contestants().items()}
    optimal = 0.0
    for t, visit in enumerate(progress(site.visits(n, SEED), total=n, desc="visits"), start=1):
        optimal += visit.best_ctr
        for score in scores.values():
            score.play(visit, candidates)
            if t % every == 0 or t == n:
                score.mark(t)
    optimal /= n
    table = {name: score.row(n) for name, score in scores.items()}
    best = {family: _best(table, family) for family in ("river", "vw", "edge")}
    river = table[best["river"]]
    for row in table.values():
        row["share_of_optimal"] = row["expected_ctr"] / optimal
        row["cost_vs_river_linucb"] = (row["decide_us"] + row["learn_us"]) / (river["decide_us"] + river["learn_us"])
    default = f"edge {edge.Config().policy}"
    figures = {
        "policies": table,
        "optimal_ctr": optimal,
        "best": max(table, key=lambda name: table[name]["expected_ctr"]),
        "best_of_each": best,
        "default_over_best_baseline": {
            "ctr": table[default]["ctr"] / max(table[best[f]]["ctr"] for f in ("river", "vw")),
            "expected_ctr": table[default]["expected_ctr"] / max(table[best[f]]["expected_ctr"] for f in ("river", "vw")),
        },
        "curves": {name: score.curve for name, score in scores.items()},
    }
    params = {
        "visits": n, "seed": SEED, "items": len(candidates), "river_alphas": list(RIVER_ALPHAS),
        "vw_args": {label: bandits.VowpalWabbit.BASE + " " + options for label, options in VW_OPTIONS.items()},
        "edge_config": dataclasses.asdict(edge.Config(seed=SEED)),
    }
    return figures, params


def _best(table: dict[str, dict], family: str) -> str:
    """The contestant of a family (its name's first word) with the best expected CTR."""
    return max((name for name in table if name.split()[0] == family), key=lambda name: table[name]["expected_ctr"])


class Scoreboard:
    """One contestant's clicks, regret and time, and their curves over the visits."""

    def __init__(self, contestant: bandits.Contestant) -> None:
        self.contestant = contestant
        self.clicks = self.expected = self.regret = 0.0
        self.choose_ns = self.learn_ns = 0
        self.curve = {"visits": [], "ctr": [], "regret": []}

    def play(self, visit, candidates: list[dict]) -> None:
        start = time.perf_counter_ns()
        item = self.contestant.choose(visit.context, candidates)
        chosen = time.perf_counter_ns()
        clicked = visit.click(item)
        self.contestant.learn(visit.context, item, clicked)
        self.learn_ns += time.perf_counter_ns() - chosen
        self.choose_ns += chosen - start
        self.clicks += clicked
        self.expected += visit.ctr[item]
        self.regret += visit.regret(item)

    def mark(self, visits: int) -> None:
        self.curve["visits"].append(visits)
        self.curve["ctr"].append(self.clicks / visits)
        self.curve["regret"].append(self.regret)

    def row(self, visits: int) -> dict:
        return {
            "ctr": self.clicks / visits,
            "expected_ctr": self.expected / visits,
            "regret": self.regret,
            "decide_us": self.choose_ns / visits / 1000,
            "learn_us": self.learn_ns / visits / 1000,
        }


def plot(figures: dict, params: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, (ctr, regret) = pyplot.subplots(1, 2, figsize=(12, 4.5))
    for name, curve in figures["curves"].items():
        ctr.plot(curve["visits"], [100 * c for c in curve["ctr"]], label=name)
        regret.plot(curve["visits"], curve["regret"], label=name)
    optimal = 100 * figures["optimal_ctr"]
    ctr.axhline(optimal, color="black", linestyle=":")
    ctr.annotate("best achievable (expected)", (0, optimal), xytext=(4, -12), textcoords="offset points")
    ctr.set(xlabel="visits", ylabel="cumulative CTR (%)", title="Click-through rate")
    regret.set(xlabel="visits", ylabel="expected clicks lost", title="Cumulative regret")
    regret.legend(fontsize="small", loc="upper left")  # the regret plot's empty corner
    fig.suptitle(f"Simulated site, {params['visits']:,} visits, {params['items']} items")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)
