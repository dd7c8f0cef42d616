"""The device-facing HTTP API over real HTTP, with the real SQLite file."""

from __future__ import annotations

import json
import secrets
from array import array

import httpx
import numpy as np
import pytest

from sync_server.posterior import PRIOR_INTERCEPT
from sync_server.sites import DEFAULT_HASH_BITS
from sync_server.updates import COMPACT_TYPE, compact_body
from tests.conftest import TEST_SITE
from tests.server.federation import token

# Well formed but never issued: enough for bodies the server refuses before it checks the token.
UNISSUED = {"round": 1, "nonce": "A" * 43, "authenticator": "A" * 86}
VALID = {"base_version": 0, "samples": 4, "delta": {"intercept": 0.01, "idx": [3, 99], "val": [0.2, -0.1]},
         "token": UNISSUED}
COUNTER = {"slot": "hero", "variant": "v1", "arm": "personalized", "impressions": 3, "clicks": 1}


def updates_stored(server) -> int:
    return server.db()["updates"].count_where("site = ?", [TEST_SITE])


def post(server, body, site=TEST_SITE, content_type="application/json") -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(f"{server.url}/v1/sites/{site}/updates", content=content,
                      headers={"content-type": content_type})


def post_compact(server, body: bytes, content_type: str = COMPACT_TYPE.decode("ascii")) -> httpx.Response:
    return post(server, body, content_type=content_type)


def spendable(server, body: dict) -> dict:
    """`body` with a token a device of its own took for the open round."""
    return {**body, "token": token(server.url, TEST_SITE)}


def test_the_global_model_carries_what_devices_need_to_take_part(server):
    response = httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model")
    assert response.status_code == 200
    model = response.json()
    assert (model["site"], model["version"], model["intercept"], model["weights"], model["hash_bits"]) == (
        TEST_SITE, 0, PRIOR_INTERCEPT, [], DEFAULT_HASH_BITS)
    assert model["federation"] == {"clip_norm": 5.0, "participation_rate": 1.0, "check_seconds": 3600.0,
                                   "max_staleness": 2, "device_rounds_per_year": 1, "accepting_updates": True,
                                   "token_key": model["federation"]["token_key"]}
    assert model["noise_variance"] == 0.0  # no round yet, so no noise
    assert "max-age" in response.headers["cache-control"]


def test_the_global_model_revalidates_with_its_etag(server):
    etag = httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model").headers["etag"]
    again = httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model", headers={"if-none-match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model", headers={"if-none-match": '"stale"'})
    assert other.status_code == 200


def test_a_valid_update_is_stored_before_the_answer(server):
    before = updates_stored(server)
    response = post(server, spendable(server, {**VALID, "counters": [COUNTER], "update_id": secrets.token_hex(8)}))
    assert response.status_code == 202, response.text
    row = next(server.db()["updates"].rows_where("id = ?", [response.json()["accepted"]]))
    assert (row["site"], row["round"], row["samples"], row["intercept"]) == (TEST_SITE, 1, 4, 0.01)
    assert (list(array("i", row["idx"])), list(array("d", row["val"]))) == ([3, 99], [0.2, -0.1])
    assert json.loads(row["counters"]) == [["hero", "v1", "personalized", 3, 1]]
    assert updates_stored(server) == before + 1


def test_a_replayed_update_is_refused_and_not_stored_twice(server):
    update = spendable(server, {**VALID, "update_id": secrets.token_hex(8)})
    assert post(server, update).status_code == 202
    before = updates_stored(server)
    replay = post(server, update)
    assert replay.status_code == 409
    assert replay.json() == {"error": "replayed_update",
                             "detail": f"update_id {update['update_id']!r} was already received"}
    assert updates_stored(server) == before


def with_delta(**changes):
    return {**VALID, "delta": {**VALID["delta"], **changes}}


def with_counter(**changes):
    return {**VALID, "counters": [{**COUNTER, **changes}]}


MALFORMED = [
    ("not json {", 400, "not valid JSON"),
    ("[1, 2]", 422, "update must be a JSON object"),
    ({"base_version": 0, "delta": VALID["delta"], "token": UNISSUED}, 422, "missing ['samples']"),
    ({**VALID, "extra": 1}, 422, "unknown fields ['extra']"),
    ({**VALID, "base_version": 7}, 422, "base_version must be a whole number from 0 to 0"),
    ({**VALID, "base_version": "0"}, 422, "base_version must be a whole number"),
    ({**VALID, "samples": 0}, 422, "samples must be a whole number"),
    ({**VALID, "samples": True}, 422, "samples must be a whole number"),
    ({**VALID, "delta": [1]}, 422, "delta must be a JSON object"),
    (with_delta(idx="3"), 422, "delta.idx and delta.val must be arrays"),
    (with_delta(idx=[3]), 422, "delta.idx has 1 entries but delta.val has 2"),
    (with_delta(idx=[3, 1 << 14]), 422, "delta.idx[1] must be a whole number from 0 to 16383"),
    (with_delta(idx=[3, -1]), 422, "delta.idx[1] must be a whole number from 0 to 16383"),
    (with_delta(idx=[3, 4.0]), 422, "delta.idx[1] must be a whole number"),
    (with_delta(idx=[3, 3]), 422, "repeated buckets"),
    (with_delta(val=[0.2, "x"]), 422, "delta.val[1] must be a finite number"),
    (with_delta(val=[0.2, None]), 422, "delta.val[1] must be a finite number"),
    (with_delta(intercept=False), 422, "delta.intercept must be a finite number"),
    ('{"base_version": 0, "samples": 1, "delta": {"intercept": NaN, "idx": [], "val": []}}', 400, "not valid JSON"),
    (with_delta(val=[0.2, 1e309]), 400, "not valid JSON"),
    ({**VALID, "update_id": 12345678}, 422, "update_id must be a string of 8 to 64 characters"),
    ({**VALID, "update_id": "short"}, 422, "update_id must be a string of 8 to 64 characters"),
    ({**VALID, "counters": {}}, 422, "counters must be an array"),
    ({**VALID, "counters": [COUNTER] * 1001}, 422, "counters must be an array of at most 1000"),
    (with_counter(arm="treatment"), 422, "counters[0].arm must be one of ['personalized', 'holdout']"),
    (with_counter(slot=""), 422, "counters[0].slot must be a string of 1 to 200"),
    (with_counter(clicks=4), 422, "counters[0].clicks must be a whole number from 0 to 3"),
    (with_counter(impressions=-1), 422, "counters[0].impressions must be a whole number"),
    (with_counter(extra=1), 422, "counters[0] has unknown fields ['extra']"),
]


# The compact form: a JSON line without idx and val, then int32 buckets and float32 values.

HEADER = {"base_version": 0, "samples": 4, "delta": {"intercept": 0.01}, "token": UNISSUED}


def test_a_compact_update_is_stored_like_a_json_one(server):
    before = updates_stored(server)
    body = compact_body(spendable(server, {**HEADER, "counters": [COUNTER], "update_id": secrets.token_hex(8)}),
                        [3, 99], [0.2, -0.1])
    response = post_compact(server, body, content_type="Application/vnd.p13n.update; v=1")
    assert response.status_code == 202, response.text
    row = next(server.db()["updates"].rows_where("id = ?", [response.json()["accepted"]]))
    assert (row["round"], row["samples"], row["intercept"]) == (1, 4, 0.01)
    assert list(array("i", row["idx"])) == [3, 99]
    assert list(array("d", row["val"])) == np.array([0.2, -0.1], dtype=np.float32).tolist()  # float32 precision
    assert json.loads(row["counters"]) == [["hero", "v1", "personalized", 3, 1]]
    assert updates_stored(server) == before + 1


def test_a_compact_update_with_no_weights_is_valid(server):
    assert post_compact(server, compact_body(spendable(server, HEADER), [], [])).status_code == 202


def test_a_replayed_compact_update_is_refused(server):
    body = compact_body(spendable(server, {**HEADER, "update_id": secrets.token_hex(8)}), [1], [0.5])
    assert post_compact(server, body).status_code == 202
    before = updates_stored(server)
    replay = post_compact(server, body)
    assert (replay.status_code, replay.json()["error"]) == (409, "replayed_update")
    assert updates_stored(server) == before


def compact_with(header=HEADER, idx=(3, 99), val=(0.2, -0.1)) -> bytes:
    return compact_body(header, idx, val)


MALFORMED_COMPACT = [
    (b"no newline at all", 400, "the body has no newline"),
    (b"not json\n", 400, "not valid JSON"),
    (compact_with()[:-1], 422, "the 15 bytes after the JSON line are not a whole number of 8-byte"),
    (compact_with(header={**HEADER, "delta": {"intercept": 0.0, "idx": [3], "val": [0.1]}}), 422,
     "delta has unknown fields ['idx', 'val']"),
    (compact_with(header={"base_version": 0, "delta": {"intercept": 0.0}, "token": UNISSUED}), 422,
     "missing ['samples']"),
    (compact_with(header={**HEADER, "base_version": 5}), 422, "base_version must be a whole number from 0 to 0"),
    (compact_with(idx=[3, 1 << 14]), 422, "delta.idx[1] must be a whole number from 0 to 16383, got 16384"),
    (compact_with(idx=[-1, 3]), 422, "delta.idx[0] must be a whole number from 0 to 16383, got -1"),
    (compact_with(idx=[7, 7]), 422, "delta.idx has repeated buckets"),
    (compact_with(val=[0.2, float("nan")]), 422, "delta.val[1] must be a finite number, got nan"),
    (compact_with(val=[float("inf"), 0.2]), 422, "delta.val[0] must be a finite number, got inf"),
]

BOTH_FORMS = [(*case, "application/json") for case in MALFORMED] + [
    (*case, COMPACT_TYPE.decode()) for case in MALFORMED_COMPACT]


@pytest.mark.parametrize("body, status, problem, content_type", BOTH_FORMS, ids=[m[2] for m in BOTH_FORMS])
def test_a_malformed_update_is_refused_with_the_problem_named_and_nothing_stored(server, body, status, problem,
                                                                                  content_type):
    before = updates_stored(server)
    response = post(server, body, content_type=content_type)
    assert response.status_code == status
    assert problem in response.json()["detail"]
    assert updates_stored(server) == before


def test_an_unknown_site_is_a_404(server):
    response = post(server, VALID, site="no-such-site")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_site", "detail": "no site with key 'no-such-site'"}
    assert httpx.get(f"{server.url}/v1/sites/no-such-site/model").status_code == 404


def test_an_oversized_body_is_refused(server):
    before = updates_stored(server)
    response = post(server, b" " * 1_000_001)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert updates_stored(server) == before


def test_health_and_admin_pages_answer(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/admin").headers["location"] == "/admin/login?next=%2Fadmin"  # tests/admin/
