"""Federated client math: what a device sends the server, and how it takes the answer.

A device sends *evidence* about the global model it merged: for the examples it learned
since, the log loss's gradient and curvature at the GLOBAL weights, summed per bucket,

    g = Σ (y − p) x        h = Σ p (1 − p) x²        p = σ(global logit of x)

the sufficient statistics of the diagonal Laplace posterior that Thompson sampling keeps
(Chapelle & Li 2011). The server sums them over devices and takes one Newton step per
bucket (`sync_server/rounds.py`), so a thousand devices' evidence adds up as if one engine
had seen all their examples; a mean of local models' deltas does not (bench
federated_quality, README). The vector (g, h) is L2-clipped as a whole, so no single
visitor can move the global model far (the clip norm is the sensitivity the privacy
noise is calibrated to).

>>> evidence = Evidence()
>>> evidence.add({7: 1.0, 9: 1.0}, True, p=0.25)     # a click the global model thought unlikely
>>> evidence.add({7: 1.0}, False, p=0.5)
>>> evidence.update()      # the curvature is sent times CURVATURE_SCALE (10)
{'intercept': 0.25, 'idx': [7, 9], 'val': [0.25, 0.75], 'intercept_curvature': 4.375, 'curvature': [4.375, 1.875]}
>>> clip({"intercept": 3.0, "idx": [9], "val": [4.0]}, 1.0)["val"]
[0.8]

The published model is the server's posterior: its weights and, per bucket, the precision
it has them with (the privacy noise already weighed in). A device takes it as its prior:
its model is the global model plus what it learned on its own, the personal residual,

    w_local' = w_global_new + (w_local − w_global_old)

>>> old = GlobalModel(version=3, intercept=0.0, weights={7: 0.5})
>>> mine = LinearModel(intercept=0.5, weights={7: 0.5, 9: 2.0})
>>> new = GlobalModel(version=4, intercept=0.1, weights={7: 0.75, 8: -1.0})
>>> merge(mine.weights, old.weights, new.weights)
{7: 0.75, 9: 2.0, 8: -1.0}

and its policy's precisions start from the global ones (`Personalizer.merge_global`), so a
device exploits what the population learned instead of exploring as one learning alone.

A model from an older server may state a `noise_variance` (v) of its weights instead: the
device then takes each weight g as a noisy measurement whose spread over the buckets is s²
and starts from g · s² / (s² + v), estimating s² from the weights' mean square, as empirical
Bayes does (James & Stein), less a margin so that noise is not taken for signal.

>>> noisy = GlobalModel(version=5, weights={7: 0.8, 8: -0.4, 9: 0.2, 10: -0.2}, noise_variance=0.02)
>>> {k: round(w, 2) for k, w in noisy.prior().items()}    # mean square 0.22, v 0.02 (+ margin)
{7: 0.71, 8: -0.35, 9: 0.18, 10: -0.18}
>>> GlobalModel(version=5, weights={7: 0.2, 8: -0.2}, noise_variance=0.5).prior()    # all noise
{}
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable
from typing import Any

from edge.base import to_pairs
from edge.validation import finite, is_number, whole

# The curvature is sent times this public constant. Noise of the same size lands on every
# coordinate of both sums, and a click moves the gradient about 30 times as much as an
# impression moves the curvature (p(1 − p) ≈ 0.03): scaled, both stand as far above the noise
# within one clip norm (bench federated_quality). The server divides it back out.
CURVATURE_SCALE = 10.0

Delta = dict[str, Any]  # {"intercept": float, "idx": [int], "val": [float], "intercept_curvature"?, "curvature"?}


@dataclasses.dataclass(frozen=True)
class LinearModel:
    """The weights of a linear model over hashed features, and its intercept."""

    intercept: float = 0.0
    weights: dict[Hashable, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "weights": to_pairs(self.weights)}

    @classmethod
    def from_dict(cls, state: dict) -> LinearModel:
        return cls(state["intercept"], dict(state["weights"]))


@dataclasses.dataclass(frozen=True)
class GlobalModel(LinearModel):
    """A version of the site's global model, as `GET /v1/sites/{site}/model` serves it.

    `precisions` (optional on the wire) are the posterior precisions the global model
    was learned with; features without one take the policy's prior. `noise_variance`
    (optional, 0 if absent: no noise) is the variance of the privacy noise in each weight.
    """

    version: int = 0
    precisions: dict[Hashable, float] = dataclasses.field(default_factory=dict)
    noise_variance: float = 0.0

    def prior(self) -> dict[Hashable, float]:
        """The weights a device starts from: each shrunk toward 0 by how noisy the model is
        (see the module's docstring); weights shrunk to nothing are left out."""
        if not self.noise_variance or not self.weights:
            return self.weights
        mean_square = math.fsum(w * w for w in self.weights.values()) / len(self.weights)
        # Pure noise's mean square is v, give or take v·√(2/n): signal only counts beyond three
        # of those standard errors, or a model all noise would now and then pass for a signal.
        signal = mean_square - self.noise_variance * (1 + 3 * math.sqrt(2 / len(self.weights)))
        if signal <= 0:
            return {}
        shrink = signal / (signal + self.noise_variance)
        return {k: w * shrink for k, w in self.weights.items()}

    @classmethod
    def parse(cls, model: object, buckets: int) -> GlobalModel:
        """Read a served model (or a saved `to_dict`), raising ValueError naming the first problem."""
        if not isinstance(model, dict):
            raise ValueError(f"global model must be an object, got {type(model).__name__}")
        missing = {"version", "intercept", "weights"} - model.keys()
        if missing:
            raise ValueError(f"global model is missing {sorted(missing)}")
        version = model["version"]
        return cls(
            version=whole("global model version", version),
            intercept=finite("global model intercept", model["intercept"]),
            weights=_read_pairs("weights", model["weights"], buckets, positive=False),
            precisions=_read_pairs("precisions", model.get("precisions", []), buckets, positive=True),
            noise_variance=_variance(model.get("noise_variance", 0.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, **super().to_dict(), "precisions": to_pairs(self.precisions),
                "noise_variance": self.noise_variance}


class Evidence:
    """A device's gradient and curvature of the log loss at the global weights, per bucket,
    summed over the examples learned since it merged the global model (see the module)."""

    def __init__(self, intercept: tuple[float, float] = (0.0, 0.0), buckets: dict | None = None) -> None:
        self.intercept = intercept  # (gradient, curvature)
        self.buckets: dict[Hashable, tuple[float, float]] = buckets if buckets is not None else {}

    def add(self, x: dict, y: bool, p: float) -> None:
        """Count example `x` with label `y`, which the global model predicts at `p`."""
        residual, curvature = float(y) - p, p * (1.0 - p)
        self.intercept = (self.intercept[0] + residual, self.intercept[1] + curvature)
        buckets = self.buckets
        for k, v in x.items():
            g, h = buckets.get(k, (0.0, 0.0))
            buckets[k] = (g + residual * v, h + curvature * v * v)

    def update(self) -> Delta:
        """The evidence in the wire format the server reads (`sync_server/updates.py`), the
        curvature times CURVATURE_SCALE."""
        idx, scale = sorted(self.buckets), CURVATURE_SCALE
        return {"intercept": self.intercept[0], "idx": idx, "val": [self.buckets[k][0] for k in idx],
                "intercept_curvature": self.intercept[1] * scale, "curvature": [self.buckets[k][1] * scale for k in idx]}

    def to_dict(self) -> dict[str, Any]:
        return {"intercept": list(self.intercept), "buckets": [[k, list(gh)] for k, gh in self.buckets.items()]}

    @classmethod
    def from_dict(cls, state: dict) -> Evidence:
        return cls(tuple(state["intercept"]), {k: tuple(gh) for k, gh in state["buckets"]})


def norm(change: Delta) -> float:
    """The L2 norm of an update, gradient and curvature, intercepts included: the server clips the same vector."""
    return math.hypot(change["intercept"], *change["val"], change.get("intercept_curvature", 0.0),
                      *change.get("curvature", ()))


def clip(change: Delta, max_norm: float) -> Delta:
    """Scale `change` down to L2 norm `max_norm` if it is longer; shorter ones pass as they are."""
    if not (is_number(max_norm) and max_norm > 0):
        raise ValueError(f"clip norm must be a positive number, got {max_norm!r}")
    length = norm(change)
    if length <= max_norm:
        return change
    scale = max_norm / length
    clipped = {**change, "intercept": change["intercept"] * scale, "val": [v * scale for v in change["val"]]}
    if "curvature" in change:
        clipped["intercept_curvature"] = change["intercept_curvature"] * scale
        clipped["curvature"] = [h * scale for h in change["curvature"]]
    return clipped


def merge(local: dict, old: dict, new: dict, default: float = 0.0) -> dict:
    """`new + (local − old)` per key, where a missing key is `default`; entries equal to it are dropped."""
    merged = {}
    for k in dict.fromkeys([*local, *old, *new]):
        value = new.get(k, default) + (local.get(k, default) - old.get(k, default))
        if value != default:
            merged[k] = value
    return merged


def _variance(value: object) -> float:
    variance = finite("global model noise_variance", value)
    if variance < 0:
        raise ValueError(f"global model noise_variance must be >= 0, got {value!r}")
    return variance


def _read_pairs(name: str, pairs: object, buckets: int, positive: bool) -> dict[int, float]:
    if not isinstance(pairs, list):
        raise ValueError(f"global model {name} must be a list of [bucket, value] pairs")
    values = _valid_pairs(pairs, buckets, positive)
    if values is not None:
        return values
    values = {}  # something is wrong: find the first problem and name it
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError(f"global model {name}[{i}] must be a [bucket, value] pair, got {pair!r}")
        bucket, value = pair
        whole(f"global model {name}[{i}] bucket", bucket, 0, buckets - 1)
        values[bucket] = finite(f"global model {name}[{i}] value", value)
        if positive and values[bucket] <= 0:
            raise ValueError(f"global model {name}[{i}] value must be positive, got {value!r}")
    return values


def _valid_pairs(pairs: list, buckets: int, positive: bool) -> dict[int, float] | None:
    """The pairs as a dict if all are right, else None; checked in bulk, since a noised model
    has a weight in every bucket and each device checks every one of them."""
    try:
        values = dict(pairs)
    except (TypeError, ValueError):
        return None
    # One pass in C per check: sets of the types and lengths seen.
    if len(values) != len(pairs) or set(map(type, pairs)) - {list} or set(map(len, pairs)) - {2}:
        return None
    if set(map(type, values)) - {int} or (values and not 0 <= min(values) <= max(values) < buckets):
        return None
    if set(map(type, values.values())) - {float, int}:
        return None
    if not math.isfinite(math.fsum(map(abs, values.values()))) or (positive and min(values.values(), default=1) <= 0):
        return None
    return {bucket: float(value) for bucket, value in values.items()}


COUNTS = ("impressions", "clicks", "conversions")  # the numbers a counter row adds up, the last optional


def counter_gains(counters: list[dict], counted: list[dict]) -> tuple[list[dict], list[dict]]:
    """What an update's counters carry: the gain of each row since `counted`, the rows as the
    earlier updates left them; and the new `counted`, to keep for the next update.

    Counters only go up on the device while the server adds up what each update carries,
    so each update carries the gain. A row whose gain has more clicks or conversions than
    impressions (the impression went out in an earlier update) waits for a later update,
    which the server would refuse otherwise. Only a slot that optimizes a goal counts conversions.

    >>> now = [{"slot": "s", "variant": "a", "arm": "personalized", "impressions": 5, "clicks": 1}]
    >>> gains, counted = counter_gains(now, [])
    >>> gains == now, counted == now
    (True, True)
    >>> later = [{**now[0], "clicks": 2}]      # a click, no new impression: it waits
    >>> counter_gains(later, counted) == ([], now)
    True
    >>> converted = [{**now[0], "impressions": 7, "conversions": 1}]
    >>> counter_gains(converted, counted)[0][0]["conversions"]
    1
    """
    sent = {_counter_key(row): row for row in counted}
    gains, kept = [], []
    for row in counters:
        before = sent.get(_counter_key(row), {})
        gain = {**row, **{f: row[f] - before.get(f, 0) for f in COUNTS if f in row}}
        fits = all(0 <= gain.get(f, 0) <= gain["impressions"] for f in COUNTS[1:])
        if fits and gain["impressions"]:
            gains.append(gain)
        kept.append(row if fits else {**row, **{f: before.get(f, 0) for f in COUNTS if f in row}})
    return gains, kept


def _counter_key(row: dict) -> tuple:
    try:
        return row["slot"], row["variant"], row["arm"]
    except (TypeError, KeyError):
        raise ValueError(f"counted rows need slot, variant and arm, got {row!r}") from None
