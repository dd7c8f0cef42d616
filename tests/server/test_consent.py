"""POST /v1/consent over real HTTP: purpose-level consent, the device secret, and bad input."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from sync_server.auth import VisitorSecrets
from tests.server.visitors import Visitor


@pytest.fixture
def visitor(server) -> Visitor:
    return Visitor(server)


def test_the_first_consent_registers_the_visitor_and_keeps_only_a_keyed_hash_of_the_secret(visitor):
    response = visitor.consent(improve=True)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["purposes"] == {"personalize": True, "improve": True, "sync": False}
    assert (body["site"], body["visitor"], body["policy_version"], body["profile_erased"]) == (
        visitor.site, visitor.id, "2026-01", False)
    assert body["recorded_at"].endswith("Z")
    [registration] = visitor.rows("visitors")
    stored = registration["secret_hash"]
    assert visitor.secret not in stored and stored != hashlib.sha256(visitor.secret.encode()).hexdigest()
    assert len(stored) == 64  # HMAC-SHA256, hex
    [record] = visitor.rows("consents")
    assert (record["policy_version"], record["personalize"], record["improve"], record["sync"]) == ("2026-01", 1, 1, 0)


def test_every_decision_is_kept_in_order_and_the_latest_is_in_force(visitor):
    visitor.consent(policy_version="2026-01")
    visitor.consent(sync=True, policy_version="2026-02")
    visitor.consent(sync=False, improve=True, policy_version="2026-02")
    history = visitor.export().json()["consents"]
    assert [(c["policy_version"], c["purposes"]["sync"], c["purposes"]["improve"]) for c in history] == [
        ("2026-01", False, False), ("2026-02", True, False), ("2026-02", False, True)]


def test_a_later_consent_needs_the_registered_secret(visitor):
    assert visitor.consent().status_code == 201
    response = visitor.consent(sync=True, secret=secrets.token_urlsafe(32))
    assert response.status_code == 401
    assert response.json()["error"] == "wrong_secret"
    assert len(visitor.rows("consents")) == 1


@pytest.mark.parametrize("authorization, code", [
    (None, "missing_secret"),
    ("Basic dXNlcjpwYXNz", "invalid_secret"),
    ("Bearer short", "invalid_secret"),
    ("Bearer " + "x" * 129, "invalid_secret"),
    ("Bearer " + "+/" * 20, "invalid_secret"),  # standard base64, not base64url
])
def test_consent_without_a_well_formed_secret_is_refused_and_nothing_is_registered(visitor, authorization, code):
    headers = {"authorization": authorization} if authorization else {}
    response = visitor.consent(secret="", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert response.headers["www-authenticate"] == "Bearer"
    assert visitor.rows("visitors") == [] and visitor.rows("consents") == []


def valid_body(visitor: Visitor) -> dict:
    return {"visitor": visitor.id, "policy_version": "2026-01",
            "purposes": {"personalize": True, "improve": False, "sync": True}}


def changed(**changes):
    def make(visitor: Visitor) -> dict:
        return {**valid_body(visitor), **changes}
    return make


def with_purposes(**changes):
    def make(visitor: Visitor) -> dict:
        body = valid_body(visitor)
        return {**body, "purposes": {**body["purposes"], **changes}}
    return make


MALFORMED = [
    (lambda v: [1, 2], "consent must be a JSON object"),
    (lambda v: {"visitor": v.id, "purposes": valid_body(v)["purposes"]}, "consent is missing ['policy_version']"),
    (changed(extra=1), "consent has unknown fields ['extra']"),
    (changed(visitor="short"), "visitor must be 16 to 64 letters"),
    (changed(visitor=12345678901234567890), "visitor must be 16 to 64 letters"),
    (changed(visitor="a visitor id with spaces"), "visitor must be 16 to 64 letters"),
    (changed(policy_version=""), "policy_version must be 1 to 64 printable characters"),
    (changed(policy_version="v 1"), "policy_version must be 1 to 64 printable characters"),
    (changed(policy_version="v" * 65), "policy_version must be 1 to 64 printable characters"),
    (changed(policy_version=3), "policy_version must be 1 to 64 printable characters"),
    (changed(purposes=["sync"]), "purposes must be a JSON object"),
    (with_purposes(sync="yes"), "purposes.sync must be true or false"),
    (with_purposes(improve=1), "purposes.improve must be true or false"),
    (with_purposes(marketing=True), "purposes has unknown fields ['marketing']"),
    (lambda v: {**valid_body(v), "purposes": {"personalize": True, "improve": False}}, "purposes is missing ['sync']"),
]


@pytest.mark.parametrize("make_body, problem", MALFORMED, ids=[problem for _, problem in MALFORMED])
def test_a_malformed_consent_is_refused_with_the_problem_named_and_nothing_stored(visitor, make_body, problem):
    response = visitor.call("POST", "/v1/consent", make_body(visitor))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_consent"
    assert problem in response.json()["detail"]
    assert visitor.rows("visitors") == [] and visitor.rows("consents") == []


def test_a_body_that_is_not_json_is_a_400(visitor):
    response = visitor.call("POST", "/v1/consent", content=b"{visitor", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert visitor.rows("visitors") == []


@pytest.mark.parametrize("params, status, code", [
    ({}, 400, "missing_site"),
    ({"site": ""}, 400, "missing_site"),
    ({"site": "no-such-site"}, 404, "unknown_site"),
])
def test_consent_must_name_a_known_site(visitor, params, status, code):
    response = visitor.consent(params=params)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert visitor.server.db()["consents"].count_where("visitor = ?", [visitor.id]) == 0


def test_revoking_sync_erases_the_profile_and_audits_it_without_personal_data(visitor):
    visitor.consent(sync=True)
    assert visitor.put_profile({"interests": ["hiking"]}).status_code == 200
    erasures_before = visitor.server.db()["erasures"].count_where("site = ?", [visitor.site])
    response = visitor.consent(sync=False)
    assert response.status_code == 201
    assert response.json()["profile_erased"] is True
    assert visitor.rows("profiles") == []
    assert visitor.export().json()["profile"] is None
    audit = list(visitor.server.db()["erasures"].rows_where("site = ?", [visitor.site], order_by="id"))
    assert len(audit) == erasures_before + 1
    assert (audit[-1]["reason"], audit[-1]["profile"], audit[-1]["consents"]) == ("sync_revoked", 1, 0)
    assert visitor.id not in str(audit[-1]) and visitor.secret not in str(audit[-1])


def test_consent_without_sync_and_no_profile_erases_nothing(visitor):
    visitor.consent(sync=True)
    assert visitor.consent(sync=False).json()["profile_erased"] is False


def test_the_server_key_is_made_once_and_a_damaged_one_is_named(tmp_path):
    path = tmp_path / "p13n.key"
    first = VisitorSecrets.from_key_file(path)
    assert VisitorSecrets.from_key_file(path).hash("s" * 43) == first.hash("s" * 43)
    assert [p.name for p in tmp_path.iterdir()] == ["p13n.key"]
    path.write_text("not hex")
    with pytest.raises(ValueError, match=f"{path} must hold the server key as hex digits"):
        VisitorSecrets.from_key_file(path)
