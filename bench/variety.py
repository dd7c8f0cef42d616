"""What variety costs in clicks and what it gains in coverage and diversity.

On the simulated outlet (`sync_server.demo.simulated_sites.SITES["outlet"]`: 40 items, 10 of them
offered per visit; here 200 visitors who come back, some 30 visits each, with their own profile
in the engine, so that a profile has time to narrow what a visitor sees) a
slot shows 3 items per visit and the visitor may click any of them. The default engine runs
once per variety setting (`SETTINGS`), on the same visits and clicks:

- `none`: the default engine, no variety rule;
- `variety w`: the slot's editor rule `{"variety": w}` (`edge.variety.spread`, MMR);
- `min_explore s`: `Config(min_explore=s)`, a floor on exploration (`edge.variety.explore`);
- `visitor asks for variety`: every visitor ticked "Show me more variety"
  (`Personalizer.declare_variety`: weight 1 and an exploration share of 0.1).

Reported per setting: the click-through rate per impression (and its expected value), and its
ratio to `none`; `intra_list_diversity`, the mean over slates of the mean pairwise distance
(1 − Jaccard similarity of their features) of the items shown together; `catalog_coverage`,
the share of the 40 items shown at least once in the last quarter of the visits; and
`visitor_coverage`, the mean over returning visitors of the share of the items they were
offered that they were ever shown: how far each visitor's own view of the shop reaches.
"""

from __future__ import annotations

import dataclasses
import statistics
from itertools import combinations

import edge
from bench import Progress
from edge.profile import Profile
from sync_server.demo.simulated_sites import SITES

SITE = "outlet"
TRAFFIC = dataclasses.replace(SITES[SITE], visitors=200)
SLOT = "picks"
SHOWN = 3
SEEDS = (1, 2)
SECONDS_BETWEEN_VISITS = 60.0
SETTINGS: dict[str, dict] = {
    "none": {},
    "variety 0.5": {"rule": 0.5},
    "variety 1": {"rule": 1.0},
    "variety 2": {"rule": 2.0},
    "min_explore 0.05": {"min_explore": 0.05},
    "visitor asks for variety": {"visitor": True},
}


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    n = 800 if quick else 6_000
    seeds = SEEDS[:1] if quick else SEEDS
    rows = {name: [] for name in SETTINGS}
    for seed in seeds:
        visits = list(progress(TRAFFIC.visits(n, seed), total=n, desc=f"visits, seed {seed}"))
        for name, setting in progress(SETTINGS.items(), total=len(SETTINGS), desc="settings"):
            rows[name].append(play(setting, visits))
    table = {name: {key: statistics.fmean(r[key] for r in runs) for key in runs[0]} for name, runs in rows.items()}
    for row in table.values():
        row["ctr_vs_none"] = row["ctr"] / table["none"]["ctr"]
        row["expected_ctr_vs_none"] = row["expected_ctr"] / table["none"]["expected_ctr"]
    params = {"site": SITE, "visitors": TRAFFIC.visitors, "shown": SHOWN, "visits": n, "seeds": list(seeds), "settings": SETTINGS,
              "edge_config": dataclasses.asdict(edge.Config())}
    return {"settings": table}, params


def play(setting: dict, visits: list) -> dict:
    """One engine with `setting` over the visits: its CTR, diversity and coverage."""
    engine = edge.Personalizer(edge.Config(min_explore=setting.get("min_explore", 0.0), seed=1))
    if "rule" in setting:
        engine.configure({"rules": {"slots": {SLOT: {"variety": setting["rule"]}}}})
    profiles: dict[int, Profile] = {}
    clicks = expected = diversity = 0.0
    offered: dict[int, set[str]] = {}
    seen: dict[int, set[str]] = {}
    late: set[str] = set()
    for t, (visit, candidates) in enumerate(visits):
        engine.profile = profiles.setdefault(visit.visitor, Profile())
        engine.declare_variety(setting.get("visitor", False))
        at = t * SECONDS_BETWEEN_VISITS
        decision = engine.decide(SLOT, candidates, visit.context, at=at, size=SHOWN)
        features = {c["id"]: frozenset(c["features"]) for c in candidates}
        for item in decision.ranking:
            expected += visit.ctr[item]
            if visit.click(item):
                clicks += 1
                engine.learn({"type": "click", "decision": decision.id, "variant": item, "at": at})
        slate = [features[item] for item in decision.ranking]
        diversity += statistics.fmean(1 - len(a & b) / len(a | b) for a, b in combinations(slate, 2))
        offered.setdefault(visit.visitor, set()).update(features)
        seen.setdefault(visit.visitor, set()).update(decision.ranking)
        if t >= len(visits) * 3 // 4:
            late.update(decision.ranking)
    impressions = len(visits) * SHOWN
    return {
        "ctr": clicks / impressions,
        "expected_ctr": expected / impressions,
        "intra_list_diversity": diversity / len(visits),
        "catalog_coverage": len(late) / len(TRAFFIC.site.items),
        "visitor_coverage": statistics.fmean(len(seen[v]) / len(offered[v]) for v in offered),
    }
