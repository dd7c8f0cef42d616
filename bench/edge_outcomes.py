"""Slots that optimize conversions against slots that optimize clicks, where the two disagree.

The site is `sync_server.demo.simulation.Site.default()` (20 items, hidden visitor types), with
orders on top: a visitor who clicks an item then orders it with a probability set by the
item's format (`CONVERTS`: videos are clickbait, clicked often and seldom bought; guides
the other way round), for a value set by its price (`VALUE`). The engine (its default
`Config`) shows one item per visit, learns the click at once, and hears of the order a
minute later through `p13n.track("convert", {goal, value})`'s path, `Personalizer.learn`;
visits are a day apart, so a click no order follows leaves the attribution window before
the next visit. Every contestant meets the same visits, clicks and orders on each seed.

Contestants: `random` (the floor) and the engine with each slot objective: `click`,
`convert:order` and `value:order`. Reported per contestant and seed: CTR, orders and value
per 1,000 visits (expected, from the simulation's probabilities, which is less noisy than
the draws), and the ratios of the conversion- and value-optimized slots to the
click-optimized one.
"""

from __future__ import annotations

import dataclasses
import random
import statistics

import edge
from bench import Progress
from edge.objectives import ATTRIBUTION_SECONDS
from edge.profile import Profile
from sync_server.demo.simulation import Site

SEEDS = (1, 2, 3)
CONVERTS = {"format:video": 0.02, "format:deal": 0.15, "format:article": 0.3, "format:guide": 0.6}  # P(order | click)
VALUE = {"price:low": 10.0, "price:mid": 50.0, "price:high": 200.0}
OBJECTIVES = ("click", "convert:order", "value:order")
SLOT = "shelf"


@dataclasses.dataclass(frozen=True)
class Shop:
    """What an item's click leads to: the chance of an order, and its value."""

    converts: dict[str, float]
    value: dict[str, float]

    @classmethod
    def of(cls, site: Site) -> Shop:
        def pick(item, table):
            return next(table[f] for f in item.features if f in table)

        return cls({i.id: pick(i, CONVERTS) for i in site.items}, {i.id: pick(i, VALUE) for i in site.items})


class Contestant:
    """The engine with one objective for its slot, or none (random)."""

    def __init__(self, objective: str | None, seed: int) -> None:
        self.objective = objective
        self.engine = edge.Personalizer(edge.Config(seed=seed))
        self.rng = random.Random(seed)
        self.clock = 0.0
        self.ctr = self.orders = self.value = 0.0

    def visit(self, visit, candidates: list[dict], shop: Shop, draws: tuple[float, float]) -> None:
        self.clock += ATTRIBUTION_SECONDS + 60.0  # a new visitor: what the last one clicked has expired
        if self.objective is None:
            item = self.rng.choice(candidates)["id"]
        else:
            self.engine.profile = Profile()
            decision = self.engine.decide(SLOT, candidates, visit.context, at=self.clock, size=1, objective=self.objective)
            item = decision.ranking[0]
        clicked, ordered = draws[0] < visit.ctr[item], draws[1] < shop.converts[item]
        if self.objective is not None and clicked:
            self.engine.learn({"type": "click", "decision": decision.id, "variant": item, "at": self.clock + 1})
            if ordered:
                self.engine.learn({"type": "convert", "goal": "order", "value": shop.value[item], "at": self.clock + 60})
        self.ctr += visit.ctr[item]
        self.orders += visit.ctr[item] * shop.converts[item]
        self.value += visit.ctr[item] * shop.converts[item] * shop.value[item]

    def row(self, visits: int) -> dict:
        return {"ctr": self.ctr / visits, "orders_per_1000": 1000 * self.orders / visits,
                "value_per_1000": 1000 * self.value / visits}


def run_seed(n: int, seed: int, progress: Progress) -> dict[str, dict]:
    site = Site.default()
    shop, candidates = Shop.of(site), site.candidates()
    names = {"random": None, **{f"edge {o}": o for o in OBJECTIVES}}
    players = {name: Contestant(objective, seed) for name, objective in names.items()}
    draws = random.Random(seed)
    for visit in progress(site.visits(n, seed), total=n, desc=f"visits, seed {seed}"):
        pair = (draws.random(), draws.random())  # the same click and order draws for everyone
        for player in players.values():
            player.visit(visit, candidates, shop, pair)
    return {name: player.row(n) for name, player in players.items()}


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    n, seeds = (3_000, SEEDS[:1]) if quick else (30_000, SEEDS)
    tables = [run_seed(n, seed, progress) for seed in seeds]
    mean = {name: {m: statistics.mean(t[name][m] for t in tables) for m in row} for name, row in tables[0].items()}
    figures = {"contestants (mean over seeds)": mean}
    for objective in OBJECTIVES[1:]:
        figures[f"{objective} over click"] = {
            measure: [t[f"edge {objective}"][measure] / t["edge click"][measure] for t in tables]
            for measure in ("orders_per_1000", "value_per_1000", "ctr")
        }  # one ratio per seed
    params = {"visits": n, "seeds": list(seeds), "items": 20, "converts": CONVERTS, "value": VALUE,
              "attribution_seconds": ATTRIBUTION_SECONDS, "edge_config": dataclasses.asdict(edge.Config())}
    return figures, params
