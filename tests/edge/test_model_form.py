"""The global model's compact form: what the server encodes, the device reads back."""

from __future__ import annotations

import json
import random
import struct

import pytest

from edge import model_form
from edge.federated import GlobalModel

HEADER = {"site": "shop", "version": 7, "intercept": -3.5, "hash_bits": 10,
          "federation": {"clip_norm": 1.0, "accepting_updates": True}, "settings": {"rules": {"pins": {}}},
          "noise_variance": 1e-4}  # a field the encoder knows nothing about passes through


def weights(count: int, seed: int = 0) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    idx = sorted(rng.sample(range(1 << HEADER["hash_bits"]), count))
    return idx, [rng.gauss(0, 1) for _ in idx]


@pytest.mark.parametrize(("count", "layout"), [(0, "sparse"), (20, "sparse"), (341, "sparse"), (342, "dense"), (1024, "dense")])
def test_a_model_round_trips_within_float16s_rounding_in_the_smaller_layout(count, layout):
    idx, val = weights(count)
    body = model_form.encode(HEADER, idx, val)
    header = json.loads(body[:body.index(b"\n")])
    assert header["weights"]["layout"] == layout
    model = model_form.decode(body)
    assert {k: v for k, v in model.items() if k not in ("weights", "quantization_variance")} == HEADER
    decoded = dict(model["weights"])
    assert sorted(decoded) == idx
    for bucket, value in zip(idx, val):
        assert decoded[bucket] == pytest.approx(value, rel=2 ** -11, abs=2 ** -24)
    errors = [(decoded[b] - v) ** 2 for b, v in zip(idx, val)]
    assert model["quantization_variance"] == pytest.approx(sum(errors) / count if count else 0.0)
    assert GlobalModel.parse(model, 1 << HEADER["hash_bits"]).weights == decoded


def test_dense_is_a_third_of_sparse_once_every_bucket_has_a_weight():
    idx, val = weights(1024)
    body = model_form.encode(HEADER, idx, val)
    assert len(body) - body.index(b"\n") - 1 == 2 * 1024


def test_weights_beyond_float16_are_clipped_and_tiny_ones_vanish():
    model = model_form.decode(model_form.encode(HEADER, [1, 2, 3], [1e6, -1e6, 1e-9]))
    assert model["weights"] == [[1, 65504.0], [2, -65504.0]]


def body_with(header: dict | None = None, data: bytes | None = None) -> bytes:
    good = model_form.encode(HEADER, [3, 9], [0.5, -0.25])
    line, _, rest = good.partition(b"\n")
    return json.dumps(header).encode() + b"\n" + rest if header is not None else line + b"\n" + data


SPARSE = {**HEADER, "weights": {"layout": "sparse", "count": 2}}
BAD_BODIES = [
    (b"", "no header line"),
    (b"not json\n", "the header line is not JSON"),
    (b"[1, 2]\n", "must be a JSON object"),
    (body_with({**HEADER}), 'the header needs "weights"'),
    (body_with({**HEADER, "weights": {"layout": "diagonal", "count": 2}}), 'the header needs "weights"'),
    (body_with({**HEADER, "weights": {"layout": "sparse", "count": -1}}), "count must be a whole number >= 0, got -1"),
    (body_with({**SPARSE, "hash_bits": "10"}), "hash_bits must be a whole number"),
    (body_with({**HEADER, "weights": {"layout": "dense", "count": 2}}), "a dense layout has 2^hash_bits values, got count 2"),
    (body_with(data=b"\x00" * 11), "expected 12 bytes of weights after the header, got 11"),
    (body_with(data=struct.pack("<2I2e", 9, 3, 0.5, 0.5)), "ascending order"),
    (body_with(data=struct.pack("<2I2e", 3, 3, 0.5, 0.5)), "ascending order"),
    (body_with(data=struct.pack("<2I", 3, 9) + struct.pack("<2H", 0x7C00, 0x3C00)), "weights must be finite"),  # +inf
]


@pytest.mark.parametrize(("body", "problem"), BAD_BODIES, ids=[b[1] for b in BAD_BODIES])
def test_a_bad_body_is_refused_naming_the_problem(body, problem):
    with pytest.raises(ValueError, match="compact model: .*" + problem.replace("^", r"\^")):
        model_form.decode(body)


def test_a_bucket_outside_the_devices_hash_space_is_refused_by_the_one_parse():
    model = model_form.decode(model_form.encode({**HEADER, "hash_bits": 12}, [4000], [0.5]))
    with pytest.raises(ValueError, match="bucket must be a whole number from 0 to 1023, got 4000"):
        GlobalModel.parse(model, 1 << 10)
