"""A simulated site: visitors whose click probabilities are known, for benchmarks and demos.

Each visitor belongs to a hidden *archetype* (a commuter, a bargain hunter, ...) that sets
how the visit looks (device, hour, referrer, declared interests) and what they click. A
policy sees only the visit's context, in the engine's format, and picks an item. Because
the simulation knows every distribution, it knows the probability of a click on every item
given what a policy can see, so it can tell the best item's click-through rate and hence
the regret of any choice. Everything is drawn from one seed: the same seed gives the same
visits and the same clicks, so policies compared on it face exactly the same visitors.

>>> site = Site.default()
>>> visit = next(site.visits(1, seed=0))
>>> visit.context
{'device': 'mobile', 'hour': 22, 'weekday': 4, 'referrer': 'social', 'page': 'home', 'interests': []}
>>> visit.archetype                       # hidden from the policy
'sports_fan'
>>> best = max(visit.ctr, key=visit.ctr.get)
>>> best, site.items[1].features, round(visit.best_ctr, 3)
('item01', ('topic:sports', 'price:mid', 'format:video'), 0.072)
>>> round(visit.regret("item05"), 3)      # expected clicks lost by showing item05 instead
0.043
>>> visit.click(best) == next(site.visits(1, seed=0)).click(best)   # same seed, same visitor
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
from collections.abc import Iterator, Mapping

from edge.features import context_tokens

DAYS_OF_WEEKEND = (0, 6)  # JavaScript's getDay(): Sunday and Saturday
DAYS_OF_WORKWEEK = (1, 2, 3, 4, 5)
CONTEXT_FIELDS = ("device", "hour", "weekday", "referrer", "page", "interests")


@dataclasses.dataclass(frozen=True)
class Item:
    """Something a slot can show, described by `name:value` features."""

    id: str
    features: tuple[str, ...]

    def candidate(self) -> dict:
        """The item as the engine's `decide` takes it."""
        return {"id": self.id, "features": list(self.features)}


@dataclasses.dataclass(frozen=True)
class Archetype:
    """A kind of visitor: how their visits look and what they like.

    Weights need not sum to one. `tastes` adds log-odds of a click to every item with
    that feature; an interest in `interests` is declared on each visit with probability
    `declare`.
    """

    name: str
    share: float
    devices: Mapping[str, float]
    hours: tuple[int, ...]
    weekend: float
    referrers: Mapping[str, float]
    pages: Mapping[str, float]
    interests: tuple[str, ...]
    tastes: Mapping[str, float]
    declare: float = 0.3

    def draw_context(self, rng: random.Random) -> dict:
        weekday = rng.choice(DAYS_OF_WEEKEND if rng.random() < self.weekend else DAYS_OF_WORKWEEK)
        return {
            "device": _draw(rng, self.devices),
            "hour": rng.choice(self.hours),
            "weekday": weekday,
            "referrer": _draw(rng, self.referrers),
            "page": _draw(rng, self.pages),
            "interests": [i for i in self.interests if rng.random() < self.declare],
        }

    def likelihood(self, context: dict) -> float:
        """The probability that this archetype produces `context`."""
        weekend = context["weekday"] in DAYS_OF_WEEKEND
        days = len(DAYS_OF_WEEKEND) if weekend else len(DAYS_OF_WORKWEEK)
        declared = set(context["interests"])
        if not declared <= set(self.interests):
            return 0.0
        p = (self.weekend if weekend else 1 - self.weekend) / days
        p *= self.hours.count(context["hour"]) / len(self.hours)
        for weights, value in ((self.devices, context["device"]), (self.referrers, context["referrer"]),
                               (self.pages, context["page"])):
            p *= weights.get(value, 0.0) / sum(weights.values())
        for interest in self.interests:
            p *= self.declare if interest in declared else 1 - self.declare
        return p


@dataclasses.dataclass(frozen=True)
class Visit:
    """One visit: what a policy sees (`context`), who it really is, and the click odds."""

    context: dict
    archetype: str
    ctr: dict[str, float]  # item id -> probability of a click, given the context
    draws: dict[str, float]  # item id -> the uniform draw that decides a click on it
    visitor: int | None = None  # who came, if visitors come back (see `sync_server.demo.simulated_sites`)

    @property
    def best_ctr(self) -> float:
        return max(self.ctr.values())

    def click(self, item: str) -> bool:
        """Whether the visitor clicks `item` if shown it; the same answer every time."""
        return self.draws[self._known(item)] < self.ctr[item]

    def regret(self, item: str) -> float:
        """Expected clicks lost by showing `item` rather than the best one."""
        return self.best_ctr - self.ctr[self._known(item)]

    def _known(self, item: str) -> str:
        if item not in self.ctr:
            raise KeyError(f"item {item!r} is not on this site; it has {sorted(self.ctr)}")
        return item


class Site:
    """Items, archetypes, and the rules that turn them into visits and clicks.

    A click's log-odds are `logit(base_ctr)`, plus the archetype's taste for each of the
    item's features, plus `context_effects[(context token, item feature)]` for the visit's
    context tokens (as `edge.features.context_tokens` names them, e.g. `daypart:evening`).
    """

    def __init__(
        self,
        items: list[Item],
        archetypes: list[Archetype],
        base_ctr: float = 0.01,
        context_effects: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        if not items or not archetypes:
            raise ValueError("a site needs at least one item and one archetype")
        if len({item.id for item in items}) != len(items):
            raise ValueError("item ids must be unique")
        if len({a.name for a in archetypes}) != len(archetypes):
            raise ValueError("archetype names must be unique")
        if not 0 < base_ctr < 1:
            raise ValueError(f"base_ctr must be between 0 and 1, got {base_ctr}")
        self.items = items
        self.archetypes = archetypes
        self.base_ctr = base_ctr
        self.context_effects = dict(context_effects or {})
        self._taste = {
            (a.name, item.id): sum(a.tastes.get(f, 0.0) for f in item.features)
            for a in archetypes for item in items
        }
        # Visits repeat contexts often; the exact posterior over archetypes is worth caching.
        self._ctr_for = functools.lru_cache(maxsize=65536)(self._ctr_for_key)

    @classmethod
    def default(cls) -> Site:
        """A small shop of 20 items and five kinds of visitor, with click rates of 1–5 %."""
        return cls(DEFAULT_ITEMS, DEFAULT_ARCHETYPES, context_effects=DEFAULT_CONTEXT_EFFECTS)

    def candidates(self) -> list[dict]:
        return [item.candidate() for item in self.items]

    def visits(self, n: int, seed: int = 0) -> Iterator[Visit]:
        """`n` visits drawn from `seed`; the same seed always gives the same visits."""
        rng = random.Random(seed)
        for _ in range(n):
            yield self.visit(rng)

    def visitor(self, n: int, seed: int = 0) -> list[Visit]:
        """`n` visits of one visitor, as their device sees them: one archetype throughout, and
        clicks that follow that visitor's own tastes (its `ctr` is theirs, not a mix).

        >>> visits = Site.default().visitor(3, seed=1)
        >>> [v.archetype for v in visits]
        ['commuter', 'commuter', 'commuter']
        """
        rng = random.Random(seed)
        archetype = self.draw_archetype(rng)
        return [self.visit(rng, archetype) for _ in range(n)]

    def visit(self, rng: random.Random, archetype: Archetype | None = None) -> Visit:
        """One visit drawn from `rng`: of a new visitor, whose kind a policy can only guess
        from the context (`ctr` mixes the kinds that fit it), or of a visitor of a known
        `archetype`, whose clicks follow that kind's own tastes."""
        known = archetype is not None
        archetype = archetype or self.draw_archetype(rng)
        context = archetype.draw_context(rng)
        draws = {item.id: rng.random() for item in self.items}
        if not known:
            return Visit(context, archetype.name, self.ctr(context), draws)
        ctr = {item.id: _sigmoid(logit + self._taste[archetype.name, item.id])
               for item, logit in zip(self.items, self._logits(context))}
        return Visit(context, archetype.name, ctr, draws)

    def draw_archetype(self, rng: random.Random) -> Archetype:
        return rng.choices(self.archetypes, weights=[a.share for a in self.archetypes])[0]

    def ctr(self, context: dict) -> dict[str, float]:
        """Each item's click probability given `context` alone, over the archetypes that fit it."""
        missing = set(CONTEXT_FIELDS) - set(context)
        if missing:
            raise ValueError(f"context lacks {sorted(missing)}; a simulated visit has all of {list(CONTEXT_FIELDS)}")
        key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in context.items()))
        return dict(self._ctr_for(key))

    def _ctr_for_key(self, key: tuple) -> tuple[tuple[str, float], ...]:
        context = {k: list(v) if isinstance(v, tuple) else v for k, v in key}
        posterior = [(a, a.share * a.likelihood(context)) for a in self.archetypes]
        total = sum(w for _, w in posterior)
        if total == 0:
            raise ValueError(f"no archetype of this site produces the context {context}")
        ctr = []
        for item, logit in zip(self.items, self._logits(context)):
            p = sum(w * _sigmoid(logit + self._taste[a.name, item.id]) for a, w in posterior) / total
            ctr.append((item.id, p))
        return tuple(ctr)

    def _logits(self, context: dict) -> list[float]:
        """Each item's log-odds of a click in `context`, before any archetype's tastes."""
        tokens = context_tokens(context)
        base = math.log(self.base_ctr / (1 - self.base_ctr))
        return [base + sum(self.context_effects.get((t, f), 0.0) for t in tokens for f in item.features)
                for item in self.items]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def _draw(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _shop_items() -> list[Item]:
    topics = ("news", "sports", "tech", "travel", "food")
    prices = ("low", "mid", "high")
    formats = ("article", "video", "deal", "guide")
    return [
        Item(f"item{i:02d}", (f"topic:{topics[i % 5]}", f"price:{prices[i % 3]}", f"format:{formats[i % 4]}"))
        for i in range(20)
    ]


DEFAULT_ITEMS = _shop_items()

DEFAULT_ARCHETYPES = [
    Archetype(
        "commuter", share=0.25, devices={"mobile": 0.85, "desktop": 0.1, "tablet": 0.05},
        hours=(6, 7, 7, 8, 8, 9, 17, 18, 18, 19), weekend=0.1,
        referrers={"social": 0.5, "direct": 0.3, "search": 0.2}, pages={"home": 0.6, "article": 0.4},
        interests=("news", "tech"),
        tastes={"topic:news": 0.9, "topic:tech": 0.5, "format:article": 0.3, "price:high": -0.5},
    ),
    Archetype(
        "bargain_hunter", share=0.25, devices={"mobile": 0.5, "desktop": 0.5},
        hours=tuple(range(10, 23)), weekend=0.35,
        referrers={"search": 0.6, "email": 0.3, "direct": 0.1}, pages={"listing": 0.7, "home": 0.3},
        interests=("food", "tech"),
        tastes={"format:deal": 1.0, "price:low": 0.6, "price:high": -0.8},
    ),
    Archetype(
        "weekend_planner", share=0.15, devices={"desktop": 0.5, "tablet": 0.4, "mobile": 0.1},
        hours=tuple(range(9, 22)), weekend=0.75,
        referrers={"search": 0.5, "email": 0.3, "direct": 0.2}, pages={"home": 0.5, "article": 0.5},
        interests=("travel", "food"),
        tastes={"topic:travel": 1.1, "topic:food": 0.4, "format:guide": 0.5, "price:high": 0.2},
    ),
    Archetype(
        "sports_fan", share=0.2, devices={"mobile": 0.6, "desktop": 0.3, "tablet": 0.1},
        hours=(12, 13, 18, 19, 20, 20, 21, 21, 22), weekend=0.4,
        referrers={"social": 0.6, "direct": 0.4}, pages={"article": 0.6, "home": 0.4},
        interests=("sports",),
        tastes={"topic:sports": 1.2, "format:video": 0.5, "topic:news": 0.2},
    ),
    Archetype(
        "browser", share=0.15, devices={"mobile": 0.5, "desktop": 0.4, "tablet": 0.1},
        hours=tuple(range(24)), weekend=2 / 7,
        referrers={"search": 0.4, "direct": 0.3, "social": 0.3}, pages={"home": 0.5, "listing": 0.3, "article": 0.2},
        interests=("news", "food", "travel"),
        tastes={"topic:food": 0.3, "format:video": 0.2},
    ),
]

# Some tastes hold for everyone at certain times or on certain devices.
DEFAULT_CONTEXT_EFFECTS = {
    ("daypart:evening", "format:video"): 0.4,
    ("device:mobile", "format:guide"): -0.4,
    ("weekend", "topic:travel"): 0.3,
    ("referrer:email", "format:deal"): 0.4,
}
