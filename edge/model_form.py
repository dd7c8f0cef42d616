"""The global model's compact form: what a device downloads, in a fraction of the JSON's bytes.

`GET /v1/sites/{site}/model` with `Accept: application/vnd.p13n.model` answers

    {"version": 4, "intercept": -3.9, "hash_bits": 14, …, "weights": {"layout": "dense", "count": 16384}}\\n
    <the weights>

a JSON line holding every field of the JSON form (whatever the server puts there passes
through untouched) except that `weights` describes the binary part that follows, then the
weights as float16, little-endian:

- `"layout": "dense"`: 2^hash_bits values, bucket i at position i (0 where there is no weight);
- `"layout": "sparse"`: `count` uint32 buckets in ascending order, then their `count` values.

The posterior's `precisions` (if the model states them) follow the weights in the sparse
layout, described by the header's `"precisions": {"layout": "sparse", "count": n}`: n uint32
buckets in ascending order, then their n float16 precisions.

The encoder picks whichever is smaller: once the noise of private rounds touched every
bucket, dense is 2 bytes a weight, a third of sparse's 6. float16 keeps 11 significant bits,
so a weight is off by at most 2^-11 of itself (≤ 0.001 for |w| ≤ 2, where weights live),
well under the noise one private round adds (σC/m = 0.01 at the defaults); the header's
`quantization_variance` (the mean squared rounding error over the weights) says how much,
so a device can count it with the noise. Decoding gives the model as the JSON form has it,
`weights` as [bucket, value] pairs, for `GlobalModel.parse`: there is one way to read a model.

>>> body = encode({"version": 2, "intercept": 0.5, "hash_bits": 8}, [3, 200], [0.25, -1.5])
>>> len(body) - body.index(b"\\n") - 1      # sparse: 2 × (4 + 2) bytes
12
>>> model = decode(body)
>>> model["weights"], model["version"], model["quantization_variance"]
([[3, 0.25], [200, -1.5]], 2, 0.0)
>>> decode(body[:-1])
Traceback (most recent call last):
...
ValueError: compact model: expected 12 bytes of weights after the header, got 11
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence

from edge.validation import whole

MEDIA_TYPE = "application/vnd.p13n.model"
FLOAT16_MAX = 65504.0  # larger weights are clipped to it; a logistic model's never come near


def encode(header: dict, idx: Sequence[int], val: Sequence[float]) -> bytes:
    """The compact form of a model whose nonzero weights are `val` at buckets `idx` (ascending);
    `header` holds its other fields, `hash_bits` among them, and its `precisions` as
    [bucket, precision] pairs (ascending) if it states them.

    >>> body = encode({"version": 1, "intercept": 0.0, "hash_bits": 8, "precisions": [[3, 40.0]]}, [3], [0.5])
    >>> decode(body)["precisions"]
    [[3, 40.0]]
    """
    precisions = header.get("precisions")
    if precisions is not None:
        header = {**header, "precisions": {"layout": "sparse", "count": len(precisions)}}
        stated = [min(p, FLOAT16_MAX) for _, p in precisions]
        tail = struct.pack(f"<{len(stated)}I", *(b for b, _ in precisions)) + struct.pack(f"<{len(stated)}e", *stated)
        return _encode_weights(header, idx, val) + tail
    return _encode_weights(header, idx, val)


def _encode_weights(header: dict, idx: Sequence[int], val: Sequence[float]) -> bytes:
    buckets = 1 << header["hash_bits"]
    values = [min(max(v, -FLOAT16_MAX), FLOAT16_MAX) for v in val]
    dense = 2 * buckets <= 6 * len(values)
    if dense:
        column = [0.0] * buckets
        for bucket, value in zip(idx, values):
            column[bucket] = value
        weights = struct.pack(f"<{buckets}e", *column)
    else:
        weights = struct.pack(f"<{len(values)}I", *idx) + struct.pack(f"<{len(values)}e", *values)
    rounded = struct.unpack(f"<{len(values)}e", struct.pack(f"<{len(values)}e", *values))
    error = sum((a - b) ** 2 for a, b in zip(values, rounded)) / len(values) if values else 0.0
    line = {**header, "quantization_variance": error,
            "weights": {"layout": "dense" if dense else "sparse", "count": buckets if dense else len(values)}}
    return json.dumps(line, separators=(",", ":")).encode() + b"\n" + weights


def decode(body: bytes) -> dict:
    """The model in `body` (the compact form) as the JSON form has it; ValueError naming the problem."""
    end = body.find(b"\n")
    if end < 0:
        raise ValueError("compact model: no header line (JSON, then a newline)")
    try:
        header = json.loads(body[:end])
    except ValueError as error:
        raise ValueError(f"compact model: the header line is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise ValueError("compact model: the header line must be a JSON object")
    layout, count = _layout(header)
    data = memoryview(body)[end + 1:]
    if layout == "dense":
        if count != 1 << header["hash_bits"]:
            raise ValueError(f"compact model: a dense layout has 2^hash_bits values, got count {count}")
        size = 2 * count
    else:
        size = 6 * count
    stated = header.get("precisions")
    if stated is not None:
        header = {**header, "precisions": _sparse(data[size:], _count(stated, "precisions"), "precisions")}
        data = data[:size]
    if len(data) != size:
        raise ValueError(f"compact model: expected {size} bytes of weights after the header, got {len(data)}")
    if layout == "dense":
        pairs = [[bucket, value] for bucket, value in enumerate(struct.unpack(f"<{count}e", data)) if value != 0.0]
    else:
        idx = struct.unpack(f"<{count}I", data[:4 * count])
        if any(a >= b for a, b in zip(idx, idx[1:])):
            raise ValueError("compact model: sparse buckets must be in ascending order, each once")
        pairs = [[bucket, value] for bucket, value in zip(idx, struct.unpack(f"<{count}e", data[4 * count:]))
                 if value != 0.0]
    if not all(math.isfinite(value) for _, value in pairs):
        raise ValueError("compact model: weights must be finite numbers")
    return {**header, "weights": pairs}


def _count(described: object, name: str) -> int:
    if not isinstance(described, dict) or described.get("layout") != "sparse":
        raise ValueError(f'compact model: the header needs "{name}": {{"layout": "sparse", "count": n}}')
    return whole(f"compact model: {name} count", described.get("count"))


def _sparse(data: memoryview, count: int, name: str) -> list[list]:
    if len(data) != 6 * count:
        raise ValueError(f"compact model: expected {6 * count} bytes of {name} after the weights, got {len(data)}")
    idx = struct.unpack(f"<{count}I", data[:4 * count])
    return [[bucket, value] for bucket, value in zip(idx, struct.unpack(f"<{count}e", data[4 * count:]))]


def _layout(header: dict) -> tuple[str, int]:
    described = header.get("weights")
    if not isinstance(described, dict) or described.get("layout") not in ("dense", "sparse"):
        raise ValueError('compact model: the header needs "weights": {"layout": "dense" or "sparse", "count": n}')
    count = whole("compact model: weights count", described.get("count"))
    whole("compact model: hash_bits", header.get("hash_bits"), 0, 30)
    return described["layout"], count
