"""GET|PUT|DELETE /v1/profiles/{visitor} over real HTTP: export, sync, erase, and who may."""

from __future__ import annotations

import stat

import pytest

from tests.conftest import TEST_SITE, create_site, running_server
from tests.server.visitors import Visitor

PROFILE = {"schema": 1, "interests": ["hiking", "trail_running"],
           "taste": {"entries": {"topic:hiking": [2.0, 1.0, 1764230400.0]}}}


@pytest.fixture
def visitor(server) -> Visitor:
    return Visitor(server)


@pytest.fixture
def syncing(server) -> Visitor:
    """A visitor who granted sync and stored PROFILE."""
    visitor = Visitor(server)
    assert visitor.consent(sync=True).status_code == 201
    assert visitor.put_profile(PROFILE).status_code == 200
    return visitor


def test_a_stored_profile_comes_back_exactly_in_the_export_with_the_consent_history(syncing):
    response = syncing.export()
    assert response.status_code == 200
    data = response.json()
    assert (data["site"], data["visitor"], data["profile"]) == (syncing.site, syncing.id, PROFILE)
    assert data["profile_updated_at"].endswith("Z")
    assert [c["purposes"] for c in data["consents"]] == [{"personalize": True, "improve": False, "sync": True}]


def test_a_new_profile_replaces_the_old_one(syncing):
    response = syncing.put_profile({"interests": ["golf"]})
    assert response.status_code == 200
    assert response.json()["bytes"] == len('{"interests":["golf"]}')
    assert syncing.export().json()["profile"] == {"interests": ["golf"]}
    assert len(syncing.rows("profiles")) == 1


def test_the_export_of_a_visitor_without_a_profile_says_so(visitor):
    visitor.consent()
    data = visitor.export().json()
    assert (data["profile"], data["profile_updated_at"], len(data["consents"])) == (None, None, 1)


def test_no_profile_is_stored_without_sync_consent(visitor):
    visitor.consent(sync=False, improve=True)
    response = visitor.put_profile(PROFILE)
    assert response.status_code == 403
    assert response.json()["error"] == "no_sync_consent"
    assert visitor.rows("profiles") == []


def test_a_visitor_the_server_does_not_know_is_refused_like_a_wrong_secret_and_is_not_registered(syncing, server):
    """The same 401 and the same body: answers do not tell which visitor ids exist."""
    stranger = Visitor(server)
    stranger.id = syncing.id[:-1] + ("A" if syncing.id[-1] != "A" else "B")  # a neighbour id nobody registered
    wrong = Visitor(server)
    wrong.id = syncing.id  # a registered id, with another device's secret
    for call in ("export", "erase"):
        unknown, mistaken = getattr(stranger, call)(), getattr(wrong, call)()
        assert unknown.status_code == mistaken.status_code == 401
        assert unknown.json() == {**mistaken.json(), "detail": mistaken.json()["detail"].replace(syncing.id, stranger.id)}
    assert stranger.put_profile(PROFILE).status_code == 401
    assert stranger.rows("visitors") == []
    assert syncing.export().status_code == 200


def test_one_visitor_cannot_read_change_or_erase_anothers_data(syncing, server):
    intruder = Visitor(server)
    intruder.consent(sync=True)
    as_intruder = {"secret": intruder.secret}
    responses = [syncing.export(**as_intruder), syncing.put_profile({"interests": ["spam"]}, **as_intruder),
                 syncing.erase(**as_intruder), syncing.export(secret="")]
    assert [r.status_code for r in responses] == [401, 401, 401, 401]
    assert [r.json()["error"] for r in responses] == ["wrong_secret"] * 3 + ["missing_secret"]
    assert syncing.export().json()["profile"] == PROFILE
    assert len(syncing.rows("consents")) == 1


def nested(levels: int) -> dict:
    profile: dict = {}
    for _ in range(levels - 1):
        profile = {"deeper": profile}
    return profile


MALFORMED = [
    ([PROFILE], 422, "body must be a JSON object"),
    ({}, 422, "body is missing ['profile']"),
    ({"profile": PROFILE, "extra": 1}, 422, "body has unknown fields ['extra']"),
    ({"profile": "interests=hiking"}, 422, "profile must be a JSON object, got str"),
    ({"profile": None}, 422, "profile must be a JSON object, got NoneType"),
    ({"profile": nested(17)}, 422, "profile nests more than 16 levels deep"),
    ({"profile": {"notes": "x" * 64_000}}, 413, "the profile is 64012 bytes of JSON; the limit is 64000"),
]


@pytest.mark.parametrize("body, status, problem", MALFORMED, ids=[problem for *_, problem in MALFORMED])
def test_a_malformed_profile_is_refused_with_the_problem_named_and_the_stored_one_kept(syncing, body, status, problem):
    response = syncing.call("PUT", f"/v1/profiles/{syncing.id}", body)
    assert response.status_code == status
    assert problem in response.json()["detail"]
    assert syncing.export().json()["profile"] == PROFILE


def test_the_deepest_profile_allowed_is_stored(syncing):
    assert syncing.put_profile(nested(16)).status_code == 200


def test_a_profile_that_is_not_json_is_a_400(syncing):
    response = syncing.call("PUT", f"/v1/profiles/{syncing.id}", content=b'{"profile": NaN}',
                            headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_json")
    assert syncing.export().json()["profile"] == PROFILE


def test_a_visitor_id_of_the_wrong_shape_is_a_422(visitor):
    response = visitor.call("GET", "/v1/profiles/not-long")
    assert (response.status_code, response.json()["error"]) == (422, "invalid_visitor")


def test_forgetting_a_visitor_erases_everything_and_audits_it_without_personal_data(syncing, server):
    syncing.consent(sync=True, improve=True)
    response = syncing.erase()
    assert response.status_code == 200
    assert response.json()["erased"] == {"profile": True, "consents": 2}
    assert syncing.rows("profiles") == syncing.rows("consents") == syncing.rows("visitors") == []
    db = server.db()
    audit = next(db["erasures"].rows_where("site = ?", [syncing.site], order_by="id desc", limit=1))
    assert (audit["reason"], audit["profile"], audit["consents"]) == ("visitor_request", 1, 2)
    for table in db.table_names():  # nothing anywhere still names the visitor
        columns = list(db[table].columns_dict)
        where = " OR ".join(f'CAST("{column}" AS TEXT) LIKE ?' for column in columns)
        assert db[table].count_where(where, [f"%{syncing.id}%"] * len(columns)) == 0, table
    assert syncing.export().status_code == 401


def test_a_forgotten_visitor_can_start_again_with_a_new_secret(syncing):
    syncing.erase()
    syncing.secret = Visitor(syncing.server).secret
    assert syncing.consent(sync=True).status_code == 201
    assert syncing.export().json()["profile"] is None


def test_a_visitor_keeps_access_to_their_data_across_a_restart(tmp_path):
    db_path = tmp_path / "p13n.db"
    create_site(db_path, TEST_SITE)
    with running_server(db_path, "--no-demo") as first:
        visitor = Visitor(first)
        visitor.consent(sync=True)
        visitor.put_profile(PROFILE)
    key = db_path.with_suffix(".key")  # the key of the secrets' hashes, made on the first start
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with running_server(db_path, "--no-demo") as second:
        visitor.server = second
        assert visitor.export().json()["profile"] == PROFILE
