"""Off-policy evaluation of the engine on real logs: the Open Bandit Dataset sample.

ZOZOTOWN's fashion site showed items chosen uniformly at random and logged the clicks
(Saito et al. 2021). The 10,000-row sample of each campaign ships inside the `obp` source
distribution on PyPI; this benchmark downloads it into `bench/.cache/` once and extracts
the CSVs there, never into the repository.

The engine walks through the log in time order. For each logged impression it chooses
the item it would show for that visitor and moment, then learns from what was really shown
and clicked, as it would from a site's randomised traffic. Its click-through rate is then
estimated two ways, each with a 95 % interval:

- replay (Li et al. 2011): the CTR over the impressions where the log shows the engine's
  choice, which is unbiased because the logging policy was uniformly random;
- IPS: the mean over all impressions of `click · [choice == logged] / propensity`; the
  logging policy gave every item the same propensity, so its interval is a proportion's.

Both are set against the logged random policy's own CTR (`lift` is replay over logged), and
so is non-contextual popularity (Thompson sampling per item) evaluated the same way. The
sample holds ~0.4 % clicks, so the intervals are wide: each campaign gives a few hundred
matched impressions and a handful of clicks.
"""

from __future__ import annotations

import csv
import datetime
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import edge
from bench import Progress, bandits
from sync_server.replay import wilson

OBP = "obp==0.4.1"
CACHE = Path(__file__).parent / ".cache"
CAMPAIGNS = ("all", "men", "women")
ENGINE = edge.Config(seed=1)


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    campaigns = ("men",) if quick else CAMPAIGNS
    rows = 2_000 if quick else None
    logged, estimates = {}, {}
    for campaign in campaigns:
        log, items = load(campaign)
        log = log[:rows]
        clicks = sum(row["click"] for row in log)
        logged[campaign] = {"ctr": clicks / len(log), "ci": wilson(clicks, len(log)), "rows": len(log), "items": len(items)}
        for name, make in contestants().items():
            estimate = evaluate(make(), log, items, progress, f"{campaign}: {name}")
            replay, baseline = estimate["replay_ctr"], logged[campaign]["ctr"]
            lift = replay / baseline if replay is not None and baseline else None
            estimates[f"{campaign}: {name}"] = {**estimate, "lift": lift}
    params = {
        "dataset": f"Open Bandit Dataset sample, uniformly random logging policy, from the {OBP} sdist",
        "campaigns": list(campaigns),
        "context": "hour and weekday of the impression; the four user features as declared interests",
        "item_features": "the three categorical item features, and the numeric one rounded",
        "engine_config": repr(ENGINE),
    }
    return {"logged": logged, "estimates": estimates}, params


def contestants() -> dict[str, Callable[[], bandits.Contestant]]:
    return {f"edge {ENGINE.policy}": lambda: bandits.Engine(ENGINE), "popularity (Thompson)": bandits.Popularity}


def evaluate(contestant: bandits.Contestant, log: list[dict], items: list[dict], progress, desc) -> dict:
    """Replay and IPS estimates of `contestant`'s CTR on `log`, learning as it goes."""
    matched = matched_clicks = 0
    for row in progress(log, desc=desc):
        choice = contestant.choose(row["context"], items)
        if choice == row["item"]:
            matched += 1
            matched_clicks += row["click"]
        contestant.learn(row["context"], row["item"], row["click"])
    # Uniform logging gives every row the same propensity, so IPS is a scaled proportion.
    propensity = log[0]["propensity"]
    return {
        "replay_ctr": matched_clicks / matched if matched else None,  # None: no match, no estimate
        "replay_ci": wilson(matched_clicks, matched) if matched else None,
        "ips_ctr": matched_clicks / len(log) / propensity,
        "ips_ci": [bound / propensity for bound in wilson(matched_clicks, len(log))],
        "matched": matched,
        "matched_clicks": matched_clicks,
    }


def load(campaign: str) -> tuple[list[dict], list[dict]]:
    """The campaign's log, as engine contexts in time order, and its items as candidates."""
    folder = _extract() / campaign
    with open(folder / "item_context.csv", newline="") as f:
        items = [_item(row) for row in csv.DictReader(f)]
    with open(folder / f"{campaign}.csv", newline="") as f:
        log = [_impression(row) for row in csv.DictReader(f)]
    propensities = {row["propensity"] for row in log}
    if len(propensities) != 1:
        raise ValueError(f"campaign {campaign!r} was not logged uniformly at random: propensities {propensities}")
    return sorted(log, key=lambda row: row["when"]), items


def _item(row: dict) -> dict:
    # item_feature_0 is a standardised number; bucket it to a word like the others.
    level = round(float(row["item_feature_0"]))
    features = [f"level:{level}", *(f"f{i}:{row[f'item_feature_{i}'][:8]}" for i in (1, 2, 3))]
    return {"id": row["item_id"], "features": features}


def _impression(row: dict) -> dict:
    when = datetime.datetime.fromisoformat(row["timestamp"])
    context = {
        "hour": when.hour,
        "weekday": when.isoweekday() % 7,  # the engine counts days as JavaScript does, Sunday = 0
        "interests": [f"u{i}-{row[f'user_feature_{i}'][:8]}" for i in range(4)],
    }
    return {
        "when": when,
        "context": context,
        "item": row["item_id"],
        "click": row["click"] == "1",
        "propensity": float(row["propensity_score"]),
    }


def _extract() -> Path:
    """Download the obp sdist once and extract its random-policy CSVs; return their folder."""
    target = CACHE / "obd" / "random"
    if (target / "women" / "women.csv").exists():
        return target
    CACHE.mkdir(exist_ok=True)
    archives = sorted(CACHE.glob("obp-*.tar.gz"))
    if not archives:
        print(f"Downloading the {OBP} source distribution from PyPI into {CACHE} …", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", OBP,
             "--dest", str(CACHE)],
            check=True,
        )
        archives = sorted(CACHE.glob("obp-*.tar.gz"))
    with tarfile.open(archives[-1]) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if "random" in parts and member.name.endswith(".csv"):
                member.name = str(Path(*parts[parts.index("random") + 1:]))
                archive.extract(member, target, filter="data")
    return target


