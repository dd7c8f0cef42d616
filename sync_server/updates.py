"""What a device may send: a sparse model delta, checked field by field.

    {"base_version": 3, "samples": 12,
     "delta": {"intercept": -0.01, "idx": [17, 40213], "val": [0.12, -0.03]}}

`idx` are hashed feature buckets and `val` the change of their weights since the
global model `base_version`; parallel arrays keep the payload small and fast to parse.
"""

from __future__ import annotations

import dataclasses
import math

from sync_server.errors import invalid

FIELDS = {"base_version", "samples", "delta"}
DELTA_FIELDS = {"intercept", "idx", "val"}


@dataclasses.dataclass(frozen=True)
class Update:
    base_version: int
    samples: int
    intercept: float
    idx: list[int]
    val: list[float]


def parse_update(payload: object, buckets: int, latest_version: int) -> Update:
    """Return the update in `payload`, or raise an ApiError naming the first problem."""
    _require_object("update", payload, FIELDS)
    base_version = _whole("base_version", payload["base_version"], 0, latest_version)
    samples = _whole("samples", payload["samples"], 1, 1_000_000)
    delta = payload["delta"]
    _require_object("delta", delta, DELTA_FIELDS)
    intercept = _finite("delta.intercept", delta["intercept"])
    idx, val = delta["idx"], delta["val"]
    if not isinstance(idx, list) or not isinstance(val, list):
        raise invalid("delta.idx and delta.val must be arrays")
    if len(idx) != len(val):
        raise invalid(f"delta.idx has {len(idx)} entries but delta.val has {len(val)}")
    for i, (bucket, value) in enumerate(zip(idx, val)):
        _whole(f"delta.idx[{i}]", bucket, 0, buckets - 1)
        _finite(f"delta.val[{i}]", value)
    if len(set(idx)) != len(idx):
        raise invalid("delta.idx has repeated buckets")
    return Update(base_version, samples, intercept, idx, [float(v) for v in val])


def _require_object(name: str, value: object, fields: set[str]) -> None:
    if not isinstance(value, dict):
        raise invalid(f"{name} must be a JSON object")
    missing, unknown = fields - value.keys(), value.keys() - fields
    if missing:
        raise invalid(f"{name} is missing {sorted(missing)}")
    if unknown:
        raise invalid(f"{name} has unknown fields {sorted(unknown)}")


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"{name} must be a finite number, got {value!r}")
    return float(value)
