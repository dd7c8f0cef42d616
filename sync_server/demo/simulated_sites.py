"""Simulated sites of different shapes, for the benchmarks: a news site, a catalog, shops.

`sync_server.demo.simulation` says how visitors and clicks are simulated; this module holds the
sites built with it, and `Traffic`, how a site's visits come: which of its items are live on a
visit, how many of them a slot may show, and whether visitors come back.

>>> traffic = SITES["news"]
>>> visit, candidates = next(traffic.visits(1, seed=0))
>>> len(candidates), candidates[0]["id"]        # 30 live stories, named by their generation
(30, 'story000@0')
>>> sorted(visit.ctr) == sorted(c["id"] for c in candidates)
True
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

from sync_server.demo.simulation import (
    DEFAULT_ARCHETYPES,
    DEFAULT_CONTEXT_EFFECTS,
    Archetype,
    Item,
    Site,
    Visit,
)


def news() -> Site:
    """A news site: 200 articles over 8 topics and 4 formats, read by the shop's kinds of visitor."""
    topics = ("news", "sports", "tech", "travel", "food", "politics", "culture", "science")
    formats = ("article", "video", "live", "guide")
    items = [Item(f"story{i:03d}", (f"topic:{topics[i % 8]}", f"format:{formats[i // 8 % 4]}",
                                    f"length:{('short', 'long')[i // 32 % 2]}")) for i in range(200)]
    archetypes = [dataclasses.replace(a, tastes={**a.tastes, "topic:politics": 0.6 if a.name == "commuter" else -0.2,
                                                 "length:long": 0.5 if a.name == "weekend_planner" else -0.3})
                  for a in DEFAULT_ARCHETYPES]
    return Site(items, archetypes, base_ctr=0.02, context_effects={("daypart:morning", "length:short"): 0.5,
                                                                    **DEFAULT_CONTEXT_EFFECTS})


def boutique() -> Site:
    """A small shop: 8 products, three kinds of visitor."""
    items = [Item(f"p{i}", (f"kind:{('shoes', 'bags', 'coats', 'hats')[i % 4]}", f"price:{('low', 'high')[i // 4]}"))
             for i in range(8)]
    base = {a.name: a for a in DEFAULT_ARCHETYPES}
    archetypes = [
        dataclasses.replace(base["commuter"], tastes={"kind:shoes": 0.8, "price:high": -0.4}),
        dataclasses.replace(base["bargain_hunter"], tastes={"price:low": 0.9, "kind:bags": 0.4}),
        Archetype("stylist", share=0.2, devices={"desktop": 0.6, "mobile": 0.4}, hours=tuple(range(8, 23)),
                  weekend=0.5, referrers={"social": 0.7, "direct": 0.3}, pages={"home": 1.0},
                  interests=("fashion",), tastes={"kind:coats": 0.9, "kind:hats": 0.6, "price:high": 0.4}),
    ]
    return Site(items, archetypes, base_ctr=0.03, context_effects={("weekend", "kind:coats"): 0.3})


def catalog() -> Site:
    """A catalog of 200 products (10 kinds × 4 brands × 5 prices), each clicked rarely: under 1 %
    at base, and a listing shows 20 of them, so a product is seldom seen twice by a model."""
    kinds = ("lamp", "chair", "table", "rug", "shelf", "sofa", "bed", "desk", "mirror", "vase")
    brands = ("nordic", "atelier", "basic", "vintage")
    prices = ("budget", "low", "mid", "high", "luxury")
    items = [Item(f"sku{i:03d}", (f"kind:{kinds[i % 10]}", f"brand:{brands[i // 10 % 4]}", f"price:{prices[i // 40]}"))
             for i in range(200)]
    base = {a.name: a for a in DEFAULT_ARCHETYPES}
    archetypes = [
        dataclasses.replace(base["commuter"], tastes={"kind:lamp": 0.8, "kind:desk": 0.6, "price:luxury": -0.8}),
        dataclasses.replace(base["bargain_hunter"], tastes={"price:budget": 1.0, "price:low": 0.5, "brand:basic": 0.5,
                                                            "price:luxury": -1.2}),
        dataclasses.replace(base["weekend_planner"], tastes={"kind:sofa": 0.9, "kind:rug": 0.6, "brand:vintage": 0.7}),
        dataclasses.replace(base["browser"], tastes={"brand:nordic": 0.5, "kind:vase": 0.4}),
    ]
    return Site(items, archetypes, base_ctr=0.006, context_effects={("weekend", "kind:sofa"): 0.3,
                                                                     ("device:mobile", "price:luxury"): -0.4})


def outlet() -> Site:
    """A shop of 40 items whose visitors are not the default shop's: six kinds of them, and
    a declared interest is what they searched for (clicks on matching items triple)."""
    categories = ("running", "yoga", "hiking", "swim", "cycling", "tennis", "golf", "ski")
    items = [Item(f"sku{i:02d}", (f"category:{categories[i % 8]}", f"price:{('low', 'mid', 'high')[i % 3]}",
                                  f"audience:{('women', 'men', 'kids', 'all', 'pro')[i // 8]}")) for i in range(40)]
    hours = tuple(range(7, 23))

    def kind(name, share, device, interests, tastes, **overrides) -> Archetype:
        other = "desktop" if device != "desktop" else "mobile"
        values = {"devices": {device: 0.7, other: 0.3}, "hours": hours, "weekend": 0.3, "interests": interests,
                  "referrers": {"search": 0.5, "direct": 0.3, "email": 0.2}, "pages": {"listing": 0.6, "home": 0.4},
                  "tastes": tastes, "declare": 0.35}
        return Archetype(name, share, **{**values, **overrides})

    archetypes = [
        kind("runner", 0.22, "mobile", ("running",), {"category:running": 1.0, "audience:women": 0.3}),
        kind("yogi", 0.18, "mobile", ("yoga", "swim"), {"category:yoga": 1.1, "category:swim": 0.4, "price:high": 0.3},
             hours=(6, 7, 8, 18, 19, 20, 21)),
        kind("parent", 0.18, "desktop", ("swim", "cycling"), {"audience:kids": 1.2, "price:low": 0.5, "price:high": -0.6},
             weekend=0.6),
        kind("pro", 0.12, "desktop", ("cycling", "tennis"), {"audience:pro": 1.1, "price:high": 0.6, "price:low": -0.5},
             referrers={"direct": 0.6, "search": 0.4}),
        kind("outdoors", 0.15, "tablet", ("hiking", "ski"), {"category:hiking": 0.9, "category:ski": 0.8}, weekend=0.7),
        kind("golfer", 0.15, "desktop", ("golf",), {"category:golf": 1.3, "audience:men": 0.3},
             referrers={"email": 0.5, "direct": 0.5}),
    ]
    search = {(f"interest:{c}", f"category:{c}"): 1.1 for c in categories}
    return Site(items, archetypes, base_ctr=0.015, context_effects={**search, ("device:mobile", "price:high"): -0.3})


@dataclasses.dataclass(frozen=True)
class Traffic:
    """How a site's visits come.

    - `live`: how many items are live at once (None: all). They rotate: every `turnover` visits
      the older half makes way for items not live before, each a new id (`item@generation`):
      stories that live for hours, never seen again.
    - `shown`: how many of the live items a visit's slot may choose from, drawn at random (a
      listing page of some of them); None: all.
    - `visitors`: how many visitors come back again and again (each keeps one hidden kind and
      clicks as it does); None: every visit is a new visitor.
    """

    site: Site
    live: int | None = None
    turnover: int = 120
    shown: int | None = None
    visitors: int | None = None

    def visits(self, n: int, seed: int = 0) -> Iterator[tuple[Visit, list[dict]]]:
        """`n` visits, each with the candidates its slot chooses from; a visit's `ctr` and
        `draws` cover exactly those. Returning visitors are in `Visit.visitor`."""
        rng = random.Random(seed)
        kinds = [self.site.draw_archetype(rng) for _ in range(self.visitors or 0)]
        for t in range(n):
            visitor = rng.randrange(len(kinds)) if kinds else None
            visit = self.site.visit(rng, kinds[visitor] if kinds else None)
            names = self._live(t)
            if self.shown is not None and self.shown < len(names):
                names = dict(rng.sample(sorted(names.items()), self.shown))
            items = {item.id: item for item in self.site.items}
            yield (dataclasses.replace(visit, ctr={name: visit.ctr[item] for name, item in names.items()},
                                       draws={name: visit.draws[item] for name, item in names.items()}, visitor=visitor),
                   [{"id": name, "features": list(items[item].features)} for name, item in names.items()])

    def _live(self, t: int) -> dict[str, str]:
        """The items live on visit `t`: candidate id -> the site's item id."""
        items = [item.id for item in self.site.items]
        if self.live is None:
            return dict(zip(items, items))
        half = max(1, self.live // 2)
        first = t // self.turnover * half  # each turnover, the oldest half goes and as many new come
        return {f"{items[k % len(items)]}@{k // len(items)}": items[k % len(items)] for k in range(first, first + self.live)}


SITES = {
    "shop": Traffic(Site.default()),
    "news": Traffic(news(), live=30, turnover=120),
    "catalog": Traffic(catalog(), shown=20),
    "outlet": Traffic(outlet(), shown=10, visitors=2_000),
}
