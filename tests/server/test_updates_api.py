"""The device-facing HTTP API over real HTTP, with the real SQLite file."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import TEST_SITE

VALID = {"base_version": 0, "samples": 4, "delta": {"intercept": 0.01, "idx": [3, 99], "val": [0.2, -0.1]}}


def updates_stored(server) -> int:
    return server.db()["updates"].count_where("site = ?", [TEST_SITE])


def post(server, body, site=TEST_SITE) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(f"{server.url}/v1/sites/{site}/updates", content=content,
                      headers={"content-type": "application/json"})


def test_global_model_has_an_etag_and_revalidates(server):
    response = httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model")
    assert response.status_code == 200
    assert response.json() == {"site": TEST_SITE, "version": 0, "intercept": 0.0, "weights": [], "hash_bits": 18}
    again = httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


def test_a_valid_update_is_stored_before_the_answer(server):
    before = updates_stored(server)
    response = post(server, VALID)
    assert response.status_code == 202, response.text
    row = server.db()["updates"].get(response.json()["accepted"])
    assert (row["site"], row["samples"], json.loads(row["idx"]), json.loads(row["val"])) == (TEST_SITE, 4, [3, 99], [0.2, -0.1])
    assert updates_stored(server) == before + 1


def with_delta(**changes):
    return {**VALID, "delta": {**VALID["delta"], **changes}}


MALFORMED = [
    ("not json {", 400, "not valid JSON"),
    ("[1, 2]", 422, "update must be a JSON object"),
    ({"base_version": 0, "delta": VALID["delta"]}, 422, "missing ['samples']"),
    ({**VALID, "extra": 1}, 422, "unknown fields ['extra']"),
    ({**VALID, "base_version": 7}, 422, "base_version must be a whole number from 0 to 0"),
    ({**VALID, "samples": 0}, 422, "samples must be a whole number"),
    ({**VALID, "samples": True}, 422, "samples must be a whole number"),
    (with_delta(idx=[3]), 422, "delta.idx has 1 entries but delta.val has 2"),
    (with_delta(idx=[3, 1 << 18]), 422, "delta.idx[1] must be a whole number from 0 to 262143"),
    (with_delta(idx=[3, 3]), 422, "repeated buckets"),
    (with_delta(val=[0.2, "x"]), 422, "delta.val[1] must be a finite number"),
    ('{"base_version": 0, "samples": 1, "delta": {"intercept": NaN, "idx": [], "val": []}}', 400, "not valid JSON"),
    (with_delta(val=[0.2, 1e309]), 400, "not valid JSON"),
]


@pytest.mark.parametrize("body, status, problem", MALFORMED, ids=[m[2] for m in MALFORMED])
def test_a_malformed_update_is_refused_with_the_problem_named_and_nothing_stored(server, body, status, problem):
    before = updates_stored(server)
    response = post(server, body)
    assert response.status_code == status
    assert problem in response.json()["detail"]
    assert updates_stored(server) == before


def test_an_unknown_site_is_a_404(server):
    response = post(server, VALID, site="no-such-site")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_site", "detail": "no site with key 'no-such-site'"}


def test_an_oversized_body_is_refused_before_it_is_read(server):
    before = updates_stored(server)
    response = post(server, b" " * 1_000_001)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert updates_stored(server) == before


def test_health_and_admin_pages_answer(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert TEST_SITE in httpx.get(f"{server.url}/admin").text
