"""What a device may send: its evidence about the global model, checked field by field.

In JSON (any Content-Type but the compact one below):

    {"base_version": 3, "samples": 12,
     "delta": {"intercept": -0.4, "idx": [17, 40213], "val": [0.92, -0.03],
               "intercept_curvature": 0.3, "curvature": [0.05, 0.03]},
     "update_id": "2f1c…",
     "token": {"round": 4, "nonce": "…", "authenticator": "…"},
     "counters": [{"slot": "hero", "variant": "v1", "arm": "personalized",
                   "impressions": 20, "clicks": 3}]}

`idx` are hashed feature buckets, `val` the gradient of the log loss at the weights of the
global model `base_version` for each (Σ (y − p) x over the device's examples since it merged
that model) and `curvature` its curvature (Σ p (1 − p) x²), the intercept's beside them (see
`edge.federated`); parallel arrays keep the payload small and fast to parse. An update
without `curvature` (an older device) counts as evidence of none.
`token` is a participation token for the open round (`tokens`), spent by this update;
`update_id` (optional, made by the device) lets the server refuse a replayed update;
`counters` (optional) are the device's impressions and clicks for federated analytics, and
the conversions those clicks led to in slots that optimize a goal (`conversions`, optional).

The compact form (`Content-Type: application/vnd.p13n.update`) is half the bytes and is
checked without making a Python object per weight: the same JSON object on one line, with
only the intercepts in `delta`, then a newline, then the n buckets as little-endian int32,
the n gradients and the n curvatures as little-endian float32 (without `intercept_curvature`
in the header, the curvatures are left out):

    {"base_version":3,"samples":12,"delta":{"intercept":-0.4,"intercept_curvature":0.3},"token":{…},"update_id":"2f1c…"}
    <n × int32: idx><n × float32: val><n × float32: curvature>

>>> token = {"round": 2, "nonce": "A" * 43, "authenticator": "A" * 86}  # checked by its round's key later
>>> update = parse_update(
...     {"base_version": 1, "samples": 2, "delta": {"intercept": 0, "idx": [5], "val": [0.5]}, "token": token},
...     buckets=8, latest_version=1, max_staleness=0)
>>> update.idx, update.val, update.update_id, update.token.round
([5], [0.5], None, 2)
>>> header, arrays = split_compact(compact_body(
...     {"base_version": 1, "samples": 2, "delta": {"intercept": 0, "intercept_curvature": 0.5}, "token": token},
...     idx=[5], val=[0.5], curvature=[0.25]))
>>> update = parse_update(orjson.loads(header), 8, 1, 0, arrays)
>>> update.idx.tolist(), update.val.tolist(), update.curvature.tolist()
([5], [0.5], [0.25])
>>> parse_update({"base_version": 0, "samples": 2, "delta": {"intercept": 0, "idx": [], "val": []}, "token": token},
...              buckets=8, latest_version=3, max_staleness=2)
Traceback (most recent call last):
...
sync_server.errors.ApiError: base_version 0 is stale: the server accepts versions 1 to 3
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import orjson

from edge.validation import finite, whole
from sync_server.errors import ApiError, invalid
from sync_server.records import Counter, Update
from sync_server.tokens import parse_token

COMPACT_TYPE = b"application/vnd.p13n.update"
COMPACT_IDX, COMPACT_VAL = np.dtype("<i4"), np.dtype("<f4")
FIELDS = {"base_version", "samples", "delta", "token"}
OPTIONAL_FIELDS = {"update_id", "counters"}
DELTA_FIELDS = {"intercept", "idx", "val"}
CURVATURE_FIELDS = {"intercept_curvature", "curvature"}  # optional: an older device sends none
COMPACT_DELTA_FIELDS = {"intercept"}  # the arrays follow the JSON line
COUNTER_FIELDS = {"slot", "variant", "arm", "impressions", "clicks"}
ARMS = ("personalized", "holdout")
MAX_COUNTERS = 1_000
MAX_NAME = 200
MAX_COUNT = 1_000_000


def parse_update(payload: object, buckets: int, latest_version: int, max_staleness: int,
                 arrays: bytes | None = None) -> Update:
    """Return the update in `payload`, or raise an ApiError naming the first problem.

    `payload` is the parsed JSON; for the compact form, its first line, and `arrays` the
    bytes after it. An update for a version more than `max_staleness` versions behind
    `latest_version` is refused with 409: the device should fetch the new model and train again.
    """
    if isinstance(payload, dict) and "token" not in payload and payload.keys() >= FIELDS - {"token"}:
        raise ApiError(400, "missing_token", "every update spends a participation token: ask "
                       "POST /v1/sites/{site}/tokens for one when the round opens (README, \"Participation tokens\")")
    _require_object("update", payload, FIELDS, OPTIONAL_FIELDS)
    base_version = whole("base_version", payload["base_version"], 0, latest_version, error=invalid)
    if base_version < latest_version - max_staleness:
        raise ApiError(409, "stale_update", f"base_version {base_version} is stale: the server accepts "
                       f"versions {latest_version - max_staleness} to {latest_version}")
    samples = whole("samples", payload["samples"], 1, MAX_COUNT, error=invalid)
    delta = payload["delta"]
    curved = isinstance(delta, dict) and "intercept_curvature" in delta
    if arrays is None:
        _require_object("delta", delta, DELTA_FIELDS | CURVATURE_FIELDS if curved else DELTA_FIELDS)
    else:
        _require_object("delta", delta, COMPACT_DELTA_FIELDS | {"intercept_curvature"} if curved else COMPACT_DELTA_FIELDS)
    intercept = finite("delta.intercept", delta["intercept"], error=invalid)
    intercept_curvature = _curvature("delta.intercept_curvature", delta["intercept_curvature"]) if curved else 0.0
    if arrays is None:
        idx, val = _json_arrays(delta["idx"], delta["val"], buckets)
        curvature = _json_curvature(delta["curvature"], len(idx)) if curved else ()
    else:
        idx, val, curvature = _compact_arrays(arrays, buckets, curved)
    update_id = _update_id(payload["update_id"]) if "update_id" in payload else None
    return Update(base_version, samples, intercept, idx, val, update_id, _counters(payload.get("counters", [])),
                  parse_token(payload["token"]), intercept_curvature, curvature)


def split_compact(body: bytes) -> tuple[bytes, bytes]:
    """The JSON line of a compact update and the arrays after it."""
    header, newline, arrays = body.partition(b"\n")
    if not newline:
        raise ApiError(400, "invalid_compact_update", "a compact update is one line of JSON, a newline, "
                       "then the int32 buckets and the float32 values; the body has no newline")
    return header, arrays


def compact_body(header: dict, idx: Sequence[int], val: Sequence[float], curvature: Sequence[float] = ()) -> bytes:
    """The compact form of an update: `header` is its JSON object with only the intercepts in `delta`."""
    return b"%s\n%s%s%s" % (orjson.dumps(header), np.asarray(idx, COMPACT_IDX).tobytes(),
                            np.asarray(val, COMPACT_VAL).tobytes(), np.asarray(curvature, COMPACT_VAL).tobytes())


def _json_arrays(idx: object, val: object, buckets: int) -> tuple[list[int], list[float | int]]:
    if not isinstance(idx, list) or not isinstance(val, list):
        raise invalid("delta.idx and delta.val must be arrays")
    if len(idx) != len(val):
        raise invalid(f"delta.idx has {len(idx)} entries but delta.val has {len(val)}")
    # Passes in C over the common, valid case (updates arrive by the thousand per second);
    # the slow loops only run to name the first bad entry.
    if not set(map(type, idx)) <= {int} or (idx and (min(idx) < 0 or max(idx) >= buckets)):
        for i, bucket in enumerate(idx):
            whole(f"delta.idx[{i}]", bucket, 0, buckets - 1, error=invalid)
    if len(set(idx)) != len(idx):
        raise invalid("delta.idx has repeated buckets")
    # A sum that overflows sends huge but finite values the slow way, which lets them pass.
    if not set(map(type, val)) <= {float, int} or not math.isfinite(sum(val)):
        for i, value in enumerate(val):
            finite(f"delta.val[{i}]", value, error=invalid)
    return idx, val


def _compact_arrays(arrays: bytes, buckets: int, curved: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | tuple]:
    pair = COMPACT_IDX.itemsize + COMPACT_VAL.itemsize * (2 if curved else 1)
    if len(arrays) % pair:
        what = "(int32 bucket, float32 gradient, float32 curvature)" if curved else "(int32 bucket, float32 value)"
        raise invalid(f"the {len(arrays)} bytes after the JSON line are not a whole number of {pair}-byte {what} rows")
    n = len(arrays) // pair
    idx = np.frombuffer(arrays, COMPACT_IDX, n)
    val = np.frombuffer(arrays, COMPACT_VAL, n, offset=n * COMPACT_IDX.itemsize)
    curvature = np.frombuffer(arrays, COMPACT_VAL, n, offset=n * (COMPACT_IDX.itemsize + COMPACT_VAL.itemsize)) if curved else ()
    # One reduction per check (each NumPy call costs about a microsecond, whatever its size); the
    # slower expressions below them only run to name the first bad entry. A negative int32 seen
    # as unsigned is 2^31 or more, so one maximum bounds both ends.
    if n and idx.view("<u4").max() >= buckets:
        first = int(((idx < 0) | (idx >= buckets)).argmax())
        raise invalid(f"delta.idx[{first}] must be a whole number from 0 to {buckets - 1}, got {idx[first]}")
    if len(set(idx.tolist())) != n:  # not np.unique: NumPy's sort lets go of the GIL, and the writer takes it
        raise invalid("delta.idx has repeated buckets")
    # Summed in float64, float32 values cannot overflow: the sum is finite exactly when they all are.
    if not math.isfinite(val.sum(dtype=np.float64)):
        first = int(np.isfinite(val).argmin())
        raise invalid(f"delta.val[{first}] must be a finite number, got {val[first]}")
    if curved and n and not (math.isfinite(curvature.sum(dtype=np.float64)) and curvature.min() >= 0):
        first = int((~(np.isfinite(curvature) & (curvature >= 0))).argmax())
        raise invalid(f"delta.curvature[{first}] must be a finite number >= 0, got {curvature[first]}")
    return idx, val, curvature


def _json_curvature(curvature: object, n: int) -> list[float]:
    if not isinstance(curvature, list) or len(curvature) != n:
        raise invalid(f"delta.curvature must be an array of {n} numbers, one per bucket of delta.idx")
    if not set(map(type, curvature)) <= {float, int} or not math.isfinite(sum(curvature)) or min(curvature, default=0) < 0:
        for i, value in enumerate(curvature):
            _curvature(f"delta.curvature[{i}]", value)
    return curvature


def _curvature(name: str, value: object) -> float:
    value = finite(name, value, error=invalid)
    if value < 0:
        raise invalid(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _update_id(value: object) -> str:
    if not isinstance(value, str) or not 8 <= len(value) <= 64:  # null too: leave the field out instead
        raise invalid(f"update_id must be a string of 8 to 64 characters, got {value!r}")
    return value


def _counters(value: object) -> tuple[Counter, ...]:
    if not isinstance(value, list) or len(value) > MAX_COUNTERS:
        raise invalid(f"counters must be an array of at most {MAX_COUNTERS} objects")
    return tuple(_counter(f"counters[{i}]", item) for i, item in enumerate(value))


def _counter(name: str, item: object) -> Counter:
    _require_object(name, item, COUNTER_FIELDS, {"conversions"})
    for field in ("slot", "variant"):
        if not isinstance(item[field], str) or not 0 < len(item[field]) <= MAX_NAME:
            raise invalid(f"{name}.{field} must be a string of 1 to {MAX_NAME} characters")
    if item["arm"] not in ARMS:
        raise invalid(f"{name}.arm must be one of {list(ARMS)}, got {item['arm']!r}")
    impressions = whole(f"{name}.impressions", item["impressions"], 0, MAX_COUNT, error=invalid)
    clicks = whole(f"{name}.clicks", item["clicks"], 0, impressions, error=invalid)
    conversions = None
    if "conversions" in item:
        conversions = whole(f"{name}.conversions", item["conversions"], 0, impressions, error=invalid)
    return Counter(item["slot"], item["variant"], item["arm"], impressions, clicks, conversions)


def _require_object(name: str, value: object, fields: set[str], optional: set[str] = frozenset()) -> None:
    if not isinstance(value, dict):
        raise invalid(f"{name} must be a JSON object")
    if value.keys() == fields:  # the common case, in one comparison
        return
    missing, unknown = fields - value.keys(), value.keys() - fields - optional
    if missing:
        raise invalid(f"{name} is missing {sorted(missing)}")
    if unknown:
        raise invalid(f"{name} has unknown fields {sorted(unknown)}")
