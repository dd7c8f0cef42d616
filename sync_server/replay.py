"""How the current global model would have done, replayed on a site's logged sample with River.

Raw events never leave the devices, so the server has no traffic of its own to learn from.
A site can give it a *logged sample* instead: impressions it logged while it showed its
variants uniformly at random (an A/B/n test, say), one JSON object a line:

    {"slot": "picks", "context": {"device": "mobile", "hour": 20},
     "candidates": [{"id": "tent", "features": ["topic:camping"]}, ...],
     "shown": "tent", "clicked": false}

The global weights go into a `river.linear_model.LogisticRegression`, a greedy River policy
picks the variant that model scores highest for each logged context, and
`river.bandit.evaluate_offline` replays it (Li et al. 2011): the CTR over the impressions
where the policy picks what the log shows is unbiased for the policy, because the logging
was uniform. Context and candidates become features exactly as `edge` makes them for a
visitor without a profile. The policy stays frozen: this measures the model as published.

>>> rows = [{"slot": "s", "context": {}, "candidates": [{"id": "a", "features": ["x"]},
...          {"id": "b", "features": ["y"]}], "shown": shown, "clicked": clicked}
...         for shown, clicked in [("a", True), ("b", False), ("a", False), ("a", True)]]
>>> sample = LoggedSample.parse(rows)
>>> result = replay(sample, intercept=0.0, weights=[[Hasher(12)("x"), 1.0]], hash_bits=12)["s"]
>>> result["matched"], result["policy_ctr"], result["logged_ctr"]
(3, 0.6666666666666666, 0.5)
"""

from __future__ import annotations

import dataclasses
import math

from river import bandit, linear_model, stats, utils

from edge.features import Hasher, candidate_tokens, context_tokens, crossed_names
from sync_server.checks import nests_deeper

MAX_ROWS = 100_000
MAX_DEPTH = 5  # a row nests 4 levels (the row, its candidates, a candidate, its features)
ROW_KEYS = {"slot", "context", "candidates", "shown", "clicked"}
Z95 = 1.959964


@dataclasses.dataclass(frozen=True)
class Impression:
    slot: str
    context: dict
    candidates: dict[str, list[str]]  # variant id -> its features, in the page's order
    shown: str
    clicked: bool


@dataclasses.dataclass(frozen=True)
class LoggedSample:
    impressions: list[Impression]

    @classmethod
    def parse(cls, rows: object) -> LoggedSample:
        """Check every row; ValueError naming the first bad one (row numbers count from 1)."""
        if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_ROWS:
            raise ValueError(f"a logged sample is a list of 1 to {MAX_ROWS} impressions")
        impressions = []
        for number, row in enumerate(rows, 1):
            try:
                impressions.append(_impression(row))
            except ValueError as error:
                raise ValueError(f"row {number}: {error}") from None
        return cls(impressions)

    def to_rows(self) -> list[dict]:
        return [{"slot": i.slot, "context": i.context, "shown": i.shown, "clicked": i.clicked,
                 "candidates": [{"id": v, "features": f} for v, f in i.candidates.items()]}
                for i in self.impressions]


def _impression(row: object) -> Impression:
    if not isinstance(row, dict) or row.keys() != ROW_KEYS:
        raise ValueError(f"an impression is an object with exactly {sorted(ROW_KEYS)}")
    if nests_deeper(row, MAX_DEPTH):
        raise ValueError(f"an impression nests more than {MAX_DEPTH} levels deep")
    slot, context, candidates, shown, clicked = (row[k] for k in ("slot", "context", "candidates", "shown", "clicked"))
    if not isinstance(slot, str) or not slot:
        raise ValueError(f"slot must be a non-empty string, got {slot!r}")
    if not isinstance(context, dict):
        raise ValueError(f"context must be an object, got {context!r}")
    context_tokens(context)  # raises on a malformed context
    if not isinstance(candidates, list) or not candidates:
        raise ValueError("candidates must be a non-empty list")
    features = {}
    for candidate in candidates:
        candidate_tokens(slot, candidate if isinstance(candidate, dict) else {})  # raises on a malformed one
        features[candidate["id"]] = list(candidate["features"])
    if not isinstance(shown, str) or shown not in features:
        raise ValueError(f"shown must be one of the candidates' ids, got {shown!r}")
    if not isinstance(clicked, bool):
        raise ValueError(f"clicked must be true or false, got {clicked!r}")
    return Impression(slot, context, features, shown, clicked)


class GlobalModelPolicy(bandit.base.ContextualPolicy):
    """Greedy on a River logistic regression that holds the global model's weights.

    The context River hands to `pull` is the impression; each arm's features are the
    hashed crosses of its features with the visit's context, as on a device.
    """

    def __init__(self, intercept: float, weights: list[list], hash_bits: int) -> None:
        super().__init__()
        self.model = linear_model.LogisticRegression()
        self.model.intercept = intercept
        self.model._weights = utils.VectorDict({int(bucket): weight for bucket, weight in weights})
        self.hasher = Hasher(hash_bits)

    def _pull(self, arm_ids: list[str], context: dict) -> str:
        impression: Impression = context["impression"]
        visit = context_tokens(impression.context)
        scores = {arm: self.model.predict_proba_one(self._features(impression, visit, arm))[True] for arm in arm_ids}
        return max(arm_ids, key=scores.__getitem__)  # ties go to the page's order

    def _features(self, impression: Impression, visit: list[str], arm: str) -> dict[int, float]:
        own = candidate_tokens(impression.slot, {"id": arm, "features": impression.candidates[arm]})
        return dict.fromkeys(map(self.hasher, crossed_names(visit, own)), 1.0)


def replay(sample: LoggedSample, intercept: float, weights: list[list], hash_bits: int) -> dict[str, dict]:
    """Per slot: the replayed CTR of the global model's greedy policy with its 95 % Wilson
    interval, the impressions it matched, and the logged (uniform random) CTR it beats or not."""
    by_slot: dict[str, list[Impression]] = {}
    for impression in sample.impressions:
        by_slot.setdefault(impression.slot, []).append(impression)
    results = {}
    for slot, impressions in sorted(by_slot.items()):
        policy = GlobalModelPolicy(intercept, weights, hash_bits)
        history = ((list(i.candidates), {"impression": i}, i.shown, float(i.clicked)) for i in impressions)
        mean, matched = bandit.evaluate_offline(policy, history, reward_stat=stats.Mean())
        clicks = sum(i.clicked for i in impressions)
        ctr = mean.get() if matched else None
        logged = clicks / len(impressions)
        results[slot] = {"impressions": len(impressions), "matched": matched, "policy_ctr": ctr,
                         "ci": wilson(round(ctr * matched), matched) if matched else None, "logged_ctr": logged,
                         "logged_ci": wilson(clicks, len(impressions)),
                         "lift": ctr / logged if ctr is not None and logged else None}
    return results


def wilson(successes: int, n: int) -> list[float]:
    """The 95 % Wilson score interval of a proportion, sound even with a handful of successes.

    >>> [round(x, 3) for x in wilson(5, 100)], wilson(0, 10)[0]
    ([0.022, 0.112], 0.0)
    """
    if n < 1:
        raise ValueError(f"a proportion needs at least one trial, got {n}")
    p, z2 = successes / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else centre - half  # exactly 0, not rounding noise above it
    return [low, min(1.0, centre + half)]
