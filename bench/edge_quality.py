"""How well each policy learns what visitors click, on simulated sites of different shapes.

The default policy and its settings must win on sites they were not tuned on, so every
contestant meets each site of `sync_server.demo.simulated_sites.SITES`, with several seeds:

- `shop`: the default shop, 20 items, five kinds of visitor, every visit a new visitor;
- `news`: 200 stories, 30 live at once, half of them replaced every two hours by new ones;
- `catalog`: 200 products clicked under 1 % of the time, a listing of 20 of them per visit;
- `outlet`: 40 items, a slot choosing among 10 of them per visit, six kinds of visitor
  unlike the shop's, 2,000 visitors who come back, and search intent (a declared interest
  triples the clicks on matching items).

On each visit a contestant shows one of the visit's candidates and learns from the click or
its absence; all contestants meet the same visits and the same clicks. Reported per site and
contestant, the mean over seeds of: the cumulative click-through rate; the expected CTR of its
choices (far less noisy than clicks), also as a share of the best achievable from what each
visit shows; the regret (expected clicks lost to the best choice); the cost of deciding and of
learning in µs. Per site, `default` compares our default (`edge.Config()`) with the best
outside baseline and with our best policy: the goal is to beat the one and come within 2 % of
the other, on every site. Both ratios are also given seed by seed, with the standard error of
their mean: one policy's expected CTR moves 5–15 % from seed to seed at 3,000 visits (an early
lucky or unlucky item steers what it learns next), so a ratio a few per cent either side of a
goal is within seed noise.

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
- `edge …`: our engine, each policy it offers with the default `Config` otherwise (`edge
  lin-ucb` is the default), and the settings in `EDGE_VARIANTS`. A returning visitor has
  their own profile in it, as on their own device; the baselines see the context only.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import statistics
import time
from collections.abc import Callable

import edge
from bench import Progress, bandits
from edge import policies
from sync_server.demo.simulated_sites import SITES, Traffic
from sync_server.demo.simulation import Visit

SEEDS = (1, 2, 3)
WORKERS = 4  # runs at once: on a shared machine, more of them get more of its time
POINTS = 50  # points on each curve
GOAL_WITHIN_BEST = 0.02  # the default's expected CTR within 2 % of our best policy's, on every site

RIVER_ALPHAS = (0.03, 0.1)  # the best two of 0.01, 0.03, 0.1 and 1 in earlier runs
VW_OPTIONS = {"mtr ε=0.05 (defaults)": "", "dm ε=0.02": "--cb_type dm --epsilon 0.02"}
# Settings of our own beyond each policy's defaults, tried on every site to choose the defaults by.
EDGE_VARIANTS = {
    "edge lin-ucb α=0.3": {"policy": "lin-ucb", "alpha": 0.3},
    "edge lin-ucb α=1": {"policy": "lin-ucb", "alpha": 1.0},
    "edge thompson prior_precision=50": {"policy": "thompson", "prior_precision": 50.0},
}


def contestants(seed: int) -> dict[str, Callable[[], bandits.Contestant]]:
    """Name -> a function making a fresh contestant; our engine once per policy and variant.

    Our engine draws (epsilon-greedy, Thompson) from the run's seed, as the baselines do, so a
    rerun gives the same figures: drawing from the OS moved one policy's figure by 11 %."""
    makers: dict[str, Callable[[], bandits.Contestant]] = {
        "random": bandits.Random,
        "popularity (Thompson)": bandits.Popularity,
    }
    for alpha in RIVER_ALPHAS:
        makers[f"river LinUCBDisjoint α={alpha}"] = lambda alpha=alpha: bandits.RiverLinUCB(alpha)
    for label, options in VW_OPTIONS.items():
        makers[f"vw cb_explore_adf {label}"] = lambda options=options: bandits.VowpalWabbit(options)
    settings = {f"edge {policy}": {"policy": policy} for policy in policies.BY_NAME} | EDGE_VARIANTS
    for name, values in settings.items():
        config = edge.Config(**values, seed=seed)
        makers[name] = lambda config=config: bandits.Engine(config)
    return makers


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    n = 1_500 if quick else 3_000
    seeds = SEEDS[:1] if quick else SEEDS
    default = f"edge {edge.Config().policy}"
    # Runs are independent: WORKERS of them at once, each in a process of its own.
    with concurrent.futures.ProcessPoolExecutor(max_workers=WORKERS) as pool:
        jobs = {(name, seed): pool.submit(play, name, n, seed) for name in SITES for seed in seeds}
        list(progress(concurrent.futures.as_completed(jobs.values()), total=len(jobs), desc="runs of a site and seed"))
    figures: dict = {name: summarize([jobs[name, seed].result() for seed in seeds], default) for name in SITES}
    figures["default_meets_goal"] = {name: figures[name]["default"]["meets_goal"] for name in SITES}
    params = {
        "visits": n, "seeds": list(seeds), "sites": {name: _shape(t) for name, t in SITES.items()},
        "river_alphas": list(RIVER_ALPHAS),
        "vw_args": {label: bandits.VowpalWabbit.BASE + " " + options for label, options in VW_OPTIONS.items()},
        "edge_config": dataclasses.asdict(edge.Config()), "edge_variants": EDGE_VARIANTS,
        "goal_within_best": GOAL_WITHIN_BEST,
    }
    return figures, params


def play(site: str, n: int, seed: int) -> dict:
    """One run of every contestant over `n` visits of a site: rows, optimal CTR, curves."""
    every = max(1, n // POINTS)
    # Everyone meets each visit in turn, so a busy machine slows them all alike.
    scores = {name: Scoreboard(make()) for name, make in contestants(seed).items()}
    optimal = 0.0
    for t, (visit, candidates) in enumerate(SITES[site].visits(n, seed), start=1):
        optimal += visit.best_ctr
        for score in scores.values():
            score.play(visit, candidates)
            if t % every == 0 or t == n:
                score.mark(t)
    return {"optimal_ctr": optimal / n, "rows": {name: score.row(n) for name, score in scores.items()},
            "curves": {name: score.curve for name, score in scores.items()}}


def summarize(runs: list[dict], default: str) -> dict:
    """A site's figures: each contestant's mean over the runs, the best of each family, and the default's standing."""
    optimal = statistics.fmean(r["optimal_ctr"] for r in runs)
    table = {}
    for name in runs[0]["rows"]:
        rows = [r["rows"][name] for r in runs]
        table[name] = {key: statistics.fmean(row[key] for row in rows) for key in rows[0]}
        table[name]["share_of_optimal"] = table[name]["expected_ctr"] / optimal
        table[name]["expected_ctr_by_seed"] = [row["expected_ctr"] for row in rows]
    best = {family: _best(table, family) for family in ("popularity", "river", "vw", "edge")}
    baseline = max((best[f] for f in ("popularity", "river", "vw")), key=lambda name: table[name]["expected_ctr"])
    ours = table[default]["expected_ctr"]
    over_baseline = ours / table[baseline]["expected_ctr"]
    of_best = ours / table[best["edge"]]["expected_ctr"]
    # Each seed's ratio, paired (the same visits and clicks): how far seed noise alone moves them.
    over_by_seed, of_best_by_seed = (_ratios(table, default, other) for other in (baseline, best["edge"]))
    return {
        "policies": table,
        "optimal_ctr": optimal,
        "best_of_each": best,
        "default": {
            "policy": default, "expected_ctr": ours,
            "best_baseline": baseline, "best_baseline_expected_ctr": table[baseline]["expected_ctr"],
            "best_edge": best["edge"], "best_edge_expected_ctr": table[best["edge"]]["expected_ctr"],
            "over_best_baseline": over_baseline, "share_of_best_edge": of_best,
            "over_best_baseline_by_seed": over_by_seed, "over_best_baseline_se": _standard_error(over_by_seed),
            "share_of_best_edge_by_seed": of_best_by_seed, "share_of_best_edge_se": _standard_error(of_best_by_seed),
            "meets_goal": over_baseline > 1 and of_best >= 1 - GOAL_WITHIN_BEST,
        },
        "curves": runs[0]["curves"],
    }


def _best(table: dict[str, dict], family: str) -> str:
    """The contestant of a family (its name's first word) with the best expected CTR."""
    return max((name for name in table if name.split()[0] == family), key=lambda name: table[name]["expected_ctr"])


def _ratios(table: dict[str, dict], ours: str, other: str) -> list[float]:
    """Our expected CTR over another contestant's, seed by seed."""
    return [a / b for a, b in zip(table[ours]["expected_ctr_by_seed"], table[other]["expected_ctr_by_seed"])]


def _standard_error(values: list[float]) -> float | None:
    """The standard error of the values' mean; None from a single value (a quick run)."""
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None


def _shape(traffic: Traffic) -> dict:
    return {"items": len(traffic.site.items), "live": traffic.live, "turnover": traffic.turnover,
            "shown": traffic.shown, "returning_visitors": traffic.visitors, "kinds_of_visitor": len(traffic.site.archetypes)}


class Scoreboard:
    """One contestant's clicks, regret and time, and their curves over the visits."""

    def __init__(self, contestant: bandits.Contestant) -> None:
        self.contestant = contestant
        self.clicks = self.expected = self.regret = 0.0
        self.choose_ns = self.learn_ns = 0
        self.curve = {"visits": [], "ctr": [], "regret": []}

    def play(self, visit: Visit, candidates: list[dict]) -> None:
        self.contestant.meet(visit.visitor)
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

    names = list(params["sites"])
    fig, axes = pyplot.subplots(1, len(names), figsize=(5 * len(names), 4.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        site = figures[name]
        for contestant, curve in site["curves"].items():
            ax.plot(curve["visits"], [100 * c for c in curve["ctr"]], label=contestant,
                    linewidth=2.5 if contestant == site["default"]["policy"] else 1)
        ax.axhline(100 * site["optimal_ctr"], color="black", linestyle=":")
        ax.set(xlabel="visits", ylabel="cumulative CTR (%)", title=f"{name} (seed {params['seeds'][0]})")
    axes[0][-1].legend(fontsize="x-small", loc="lower right")
    fig.suptitle(f"Simulated sites, {params['visits']:,} visits each")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)
