"""Participation tokens over real HTTP: one update per device per round, and no way for the
server to tell which device sent which update."""

from __future__ import annotations

import secrets

import httpx
import pytest

from sync_server import tokens
from sync_server.updates import COMPACT_TYPE, compact_body
from tests.server.federation import SITE, fresh_address, model, send, site_server, token, update, visitor, wait_for_version


def ask(server, who: tuple[str, str], address: str, round_: int = 1, blinded: str | None = None) -> httpx.Response:
    visitor_id, secret = who
    body = {"visitor": visitor_id, "round": round_, "blinded": blinded or tokens.encode(tokens.blind().blinded)}
    return httpx.post(f"{server.url}/v1/sites/{SITE}/tokens", json=body,
                      headers={"authorization": f"Bearer {secret}", "x-forwarded-for": address})


def stored(server) -> int:
    return server.db()["updates"].count


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Rounds that never close by themselves: the tests here all happen in round 1.
    with site_server(tmp_path_factory.mktemp("tokens") / "p13n.db", target_devices=10_000) as server:
        yield server


def test_a_visitor_gets_one_token_per_round(server):
    address = fresh_address()
    who = visitor(server.url, address=address)
    assert ask(server, who, address).status_code == 201
    again = ask(server, who, address)
    assert (again.status_code, again.json()["error"]) == (409, "token_already_issued")


def test_only_a_visitor_who_granted_improve_gets_a_token(server):
    address = fresh_address()
    refused = ask(server, visitor(server.url, address=address, improve=False), address)
    assert (refused.status_code, refused.json()["error"]) == (403, "no_improve_consent")
    who = visitor(server.url, address=address)
    wrong_secret = ask(server, (who[0], secrets.token_urlsafe(32)), address)
    assert wrong_secret.status_code == 401
    stranger = ask(server, (secrets.token_urlsafe(16), secrets.token_urlsafe(32)), address)
    assert stranger.status_code in (401, 404)  # the hardening work makes both 401
    closed = ask(server, who, address, round_=7)
    assert (closed.status_code, closed.json()["error"]) == (409, "round_closed")
    bad = ask(server, who, address, blinded="A" * 43)
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_token_request")
    assert ask(server, who, address).status_code == 201  # none of the refusals used up its token


def test_one_network_gets_at_most_five_tokens_a_round(server):
    network = fresh_address().rsplit(".", 1)[0]
    answers = [ask(server, visitor(server.url, address=f"{network}.{host}"), f"{network}.{host}")
               for host in range(1, 8)]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 2
    assert answers[-1].json()["error"] == "network_limit"
    assert ask(server, visitor(server.url), fresh_address()).status_code == 201  # another network


def test_fifty_different_updates_from_one_address_count_at_most_five_times(server):
    """The documented API alone: 50 visitors made and consented from one address, each asking
    for a token, and 50 different updates posted, each with the freshest token in hand."""
    address, before, held = fresh_address(), stored(server), None
    accepted = 0
    for n in range(50):
        who = visitor(server.url, address=address)
        request = tokens.blind()
        answer = ask(server, who, address, blinded=tokens.encode(request.blinded))
        if answer.status_code == 201:
            held = request.finalize(1, answer.json()["evaluation"], model(server)["federation"]["token_key"])
        body = update([n], [0.5], token=held) if held else update([n], [0.5])
        response = httpx.post(f"{server.url}/v1/sites/{SITE}/updates", json=body, headers={"x-forwarded-for": address})
        accepted += response.status_code == 202
    assert accepted == 5
    assert stored(server) - before == 5


def test_a_token_is_spent_once(server):
    spent = token(server.url)
    assert send(server, update([1], [0.1], token=spent)).status_code == 202
    before = stored(server)
    again = send(server, update([2], [0.3], token=spent))
    assert (again.status_code, again.json()["error"]) == (409, "token_spent")
    assert stored(server) == before


def test_a_replayed_update_is_accepted_once(server):
    body = update([3], [0.2], token=token(server.url))
    del body["update_id"]  # nothing but the token tells the replay apart
    answers = [send(server, body).status_code for _ in range(3)]
    assert answers == [202, 409, 409]


def test_a_compact_update_spends_its_token_from_the_header_line(server):
    body = compact_body({"base_version": 0, "samples": 3, "delta": {"intercept": 0.0}, "token": token(server.url)},
                        [4, 9], [0.1, -0.2])

    def post() -> httpx.Response:
        return httpx.post(f"{server.url}/v1/sites/{SITE}/updates", content=body,
                          headers={"content-type": COMPACT_TYPE.decode()})

    assert post().status_code == 202
    assert (post().status_code, post().json()["error"]) == (409, "token_spent")


@pytest.mark.parametrize("forge, status, code", [
    (lambda t: {k: v for k, v in t.items() if k != "token"}, 400, "missing_token"),
    (lambda t: {**t, "token": {**t["token"], "authenticator": tokens.encode(secrets.token_bytes(64))}}, 403,
     "invalid_token"),
    (lambda t: {**t, "token": {**t["token"], "nonce": tokens.encode(secrets.token_bytes(32))}}, 403, "invalid_token"),
    (lambda t: {**t, "token": {**t["token"], "round": 2}}, 403, "invalid_token"),
    (lambda t: {**t, "token": {**t["token"], "nonce": "short"}}, 400, "invalid_token"),
    (lambda t: {**t, "token": "a string"}, 400, "invalid_token"),
])
def test_a_missing_or_forged_token_is_refused_and_nothing_stored(server, forge, status, code):
    before = stored(server)
    body = forge(update([1], [0.1], token=token(server.url)))
    response = httpx.post(f"{server.url}/v1/sites/{SITE}/updates", json=body)
    assert (response.status_code, response.json()["error"]) == (status, code)
    assert stored(server) == before


def test_a_token_made_with_another_key_is_refused(server):
    other = tokens.TokenKeys(secrets.token_bytes(32))
    request = tokens.blind()
    forged = request.finalize(1, other.issue(SITE, 1, tokens.blinded_element(request.blinded)),
                              other.public_key(SITE, 1))
    response = send(server, update([1], [0.1], token=forged))
    assert (response.status_code, response.json()["error"]) == (403, "invalid_token")


def test_issuance_and_spending_carry_nothing_in_common(server):
    """What the server sees when it issues a token (visitor, secret, blinded element, its own
    evaluation) shares no value with what it sees when the token is spent (nonce, authenticator)."""
    address = fresh_address()
    visitor_id, secret = visitor(server.url, address=address)
    request = tokens.blind()
    asked = {"visitor": visitor_id, "round": 1, "blinded": tokens.encode(request.blinded)}
    answer = httpx.post(f"{server.url}/v1/sites/{SITE}/tokens", json=asked,
                        headers={"authorization": f"Bearer {secret}", "x-forwarded-for": address})
    spent = request.finalize(1, answer.json()["evaluation"], model(server)["federation"]["token_key"])
    body = update([5], [0.1], token=spent)
    sent = httpx.post(f"{server.url}/v1/sites/{SITE}/updates", json=body)
    assert sent.status_code == 202
    seen_at_issuance = {visitor_id, secret, asked["blinded"], answer.json()["evaluation"]}
    seen_at_spending = {spent["nonce"], spent["authenticator"], body["update_id"]}
    assert not seen_at_issuance & seen_at_spending
    assert not any(value in sent.request.content.decode() for value in seen_at_issuance)
    assert "authorization" not in sent.request.headers
    # Stored: issuance by visitor and round, spending by round and nonce; only the round is shared.
    db = server.db()
    assert set(db["token_issues"].columns_dict) & set(db["spent_tokens"].columns_dict) == {"site", "round"}
    assert "visitor" not in db["updates"].columns_dict


def test_a_visitor_sees_and_forgets_the_rounds_it_took_tokens_for(server):
    address = fresh_address()
    visitor_id, secret = visitor(server.url, address=address)
    assert ask(server, (visitor_id, secret), address).status_code == 201
    exported = httpx.get(f"{server.url}/v1/profiles/{visitor_id}?site={SITE}",
                         headers={"authorization": f"Bearer {secret}"}).json()
    assert [issue["round"] for issue in exported["tokens_issued"]] == [1]
    erased = httpx.delete(f"{server.url}/v1/profiles/{visitor_id}?site={SITE}",
                          headers={"authorization": f"Bearer {secret}"})
    assert erased.status_code == 200
    assert server.db()["token_issues"].count_where("visitor = ?", [visitor_id]) == 0


def test_a_token_is_good_in_its_round_only_and_a_visitor_has_a_yearly_cap(db):
    # No budget: at the default σ a cap of two rounds would pass ε = 2, and this is about the cap.
    with site_server(db, min_devices=1, target_devices=1, device_rounds_per_year=2, epsilon_budget=None) as server:
        address = fresh_address()
        who = visitor(server.url, address=address)
        late = token(server.url)  # for round 1, spent after round 1 closed
        for round_ in (1, 2):
            request = tokens.blind()
            answer = ask(server, who, address, round_=round_, blinded=tokens.encode(request.blinded))
            held = request.finalize(round_, answer.json()["evaluation"], model(server)["federation"]["token_key"])
            assert send(server, update([round_], [0.1], base_version=round_ - 1, token=held)).status_code == 202
            wait_for_version(server, round_)
        capped = ask(server, who, address, round_=3)
        assert (capped.status_code, capped.json()["error"]) == (429, "yearly_limit")
        expired = send(server, update([1], [0.1], base_version=2, token=late))
        assert (expired.status_code, expired.json()["error"]) == (409, "token_expired")
