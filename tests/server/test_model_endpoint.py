"""The global model over HTTP: its two forms, their codings, and revalidation of each."""

from __future__ import annotations

import random

import httpx
import pytest

from edge import model_form
from tests.server.federation import SITE, send, site_server, update, wait_for_version

COMPACT = model_form.MEDIA_TYPE
REPRESENTATIONS = [(accept, coding) for accept in ("application/json", COMPACT) for coding in ("br", "gzip", "identity")]


@pytest.fixture(scope="module")
def noised(tmp_path_factory):
    """A server whose site published one round that moved every one of its 2^10 weights."""
    rng = random.Random(4)
    with site_server(tmp_path_factory.mktemp("model") / "p13n.db", min_devices=2, target_devices=2,
                     noise_multiplier=0.0, epsilon_budget=None) as server:  # about bytes, not privacy
        for _ in range(2):
            gradients = [rng.gauss(0.0, 0.1) for _ in range(1 << 10)]
            assert send(server, update(list(range(1 << 10)), gradients)).status_code == 202
        wait_for_version(server, 1)
        yield server


def fetch(server, accept: str, coding: str, **headers) -> httpx.Response:
    return httpx.get(f"{server.url}/v1/sites/{SITE}/model",
                     headers={"accept": accept, "accept-encoding": coding, **headers})


@pytest.mark.parametrize(("accept", "coding"), REPRESENTATIONS)
def test_each_form_comes_in_each_coding_the_device_accepts(noised, accept, coding):
    answer = fetch(noised, accept, coding)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(accept)
    assert answer.headers.get("content-encoding") == (None if coding == "identity" else coding)
    assert answer.headers["vary"] == "Accept, Accept-Encoding"


def test_the_compact_form_is_the_json_forms_model_within_float16_rounding(noised):
    exact = fetch(noised, "application/json", "gzip").json()
    compact = model_form.decode(fetch(noised, COMPACT, "br").content)
    assert {k: v for k, v in compact.items() if k not in ("weights", "precisions", "quantization_variance")} == \
        {k: v for k, v in exact.items() if k not in ("weights", "precisions")}
    assert [b for b, _ in compact["precisions"]] == [b for b, _ in exact["precisions"]]
    assert [p for _, p in compact["precisions"]] == pytest.approx([p for _, p in exact["precisions"]], rel=2 ** -10)
    assert len(exact["weights"]) == 1024 and len(compact["weights"]) == 1024
    for (bucket, value), (same, rounded) in zip(exact["weights"], compact["weights"]):
        assert bucket == same and rounded == pytest.approx(value, rel=2 ** -11, abs=2 ** -24)
    assert 0 < compact["quantization_variance"] < 1e-6


def test_the_compact_form_compressed_is_a_fraction_of_the_json(noised):
    sizes = {(accept, coding): fetch(noised, accept, coding).num_bytes_downloaded for accept, coding in REPRESENTATIONS}
    assert sizes[COMPACT, "br"] < sizes["application/json", "br"] / 2
    assert sizes[COMPACT, "identity"] < sizes["application/json", "identity"] / 3
    assert sizes["application/json", "br"] < sizes["application/json", "identity"] / 2


def test_every_representation_has_its_own_etag_and_revalidates_with_it(noised):
    etags = {(accept, coding): fetch(noised, accept, coding).headers["etag"] for accept, coding in REPRESENTATIONS}
    assert len(set(etags.values())) == len(REPRESENTATIONS)
    for (accept, coding), etag in etags.items():
        again = fetch(noised, accept, coding, **{"if-none-match": etag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
        assert again.headers["vary"] == "Accept, Accept-Encoding"
    other = fetch(noised, COMPACT, "br", **{"if-none-match": etags["application/json", "br"]})
    assert other.status_code == 200


def test_an_unknown_site_is_refused_in_json_whatever_form_was_asked_for(noised):
    answer = httpx.get(f"{noised.url}/v1/sites/nope/model", headers={"accept": COMPACT})
    assert (answer.status_code, answer.json()["error"]) == (404, "unknown_site")
