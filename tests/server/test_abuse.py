"""Cheap attacks on the device API, tried against a real server: each must cost the attacker
more than it costs the server, and none may cost another visitor anything."""

from __future__ import annotations

import os
import socket
import stat

import httpx

from sync_server.updates import compact_body
from tests.conftest import TEST_SITE, create_site, serving
from tests.server.test_updates_api import VALID, post, post_compact, spendable, updates_stored
from tests.server.visitors import Visitor


def from_address(address: str) -> dict:
    """Headers that make a request come from `address`: the server trusts X-Forwarded-For from
    loopback, as it does from a reverse proxy on the same machine."""
    return {"x-forwarded-for": address}


def test_wrong_secrets_from_other_addresses_never_spend_the_owners_requests(server):
    owner = Visitor(server)
    assert owner.consent(sync=True).status_code == 201
    for i in range(25):  # more than the visitor's burst of 20
        stranger = Visitor(server, id=owner.id)
        assert stranger.export(headers=from_address(f"10.4.0.{i}")).status_code == 401
    assert owner.export().status_code == 200
    assert owner.erase().status_code == 200


def test_wrong_secrets_from_one_address_are_limited_per_address(server):
    owner = Visitor(server)
    assert owner.consent(sync=True).status_code == 201
    guesses = []
    while not guesses or guesses[-1].status_code != 429 and len(guesses) < 60:  # the bucket refills meanwhile
        guesses.append(Visitor(server, id=owner.id).export(headers=from_address("10.5.0.1")))
    assert guesses[-1].status_code == 429 and "retry-after" in guesses[-1].headers
    assert {g.status_code for g in guesses[:-1]} == {401} and len(guesses) > 20  # 20 at once, then slowly
    assert owner.export(headers=from_address("10.5.0.2")).status_code == 200


def test_a_null_update_id_is_refused_in_both_forms_and_nothing_is_stored(server):
    before = updates_stored(server)
    answer = post(server, {**VALID, "update_id": None})
    assert answer.status_code == 422 and "update_id" in answer.json()["detail"]
    header = {**VALID, "delta": {"intercept": 0.0}, "update_id": None}
    answer = post_compact(server, compact_body(header, idx=[3], val=[0.5]))
    assert answer.status_code == 422 and "update_id" in answer.json()["detail"]
    assert updates_stored(server) == before
    assert post(server, spendable(server, VALID)).status_code == 202  # leaving it out is fine


def test_every_answer_says_nosniff_and_same_origin_referrers(server):
    for answer in (httpx.get(f"{server.url}/v1/sites/{TEST_SITE}/model"), post(server, "not json"),
                   httpx.get(f"{server.url}/healthz"), httpx.get(f"{server.url}/admin/login")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"


def test_a_stalled_upload_is_dropped_after_the_body_timeout(tmp_path):
    db_path = tmp_path / "p13n.db"
    create_site(db_path, TEST_SITE)
    with serving(db_path, "--no-demo", "--body-timeout", "1") as server:
        host, port = server.url.removeprefix("http://").split(":")
        stalled = []
        for _ in range(5):
            connection = socket.create_connection((host, int(port)))
            connection.sendall(f"POST /v1/sites/{TEST_SITE}/updates HTTP/1.1\r\nHost: x\r\n"
                               "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"base".encode())
            stalled.append(connection)
        for connection in stalled:
            connection.settimeout(15)  # without a body timeout, recv waits for ever: a socket.timeout here
            answer = b""
            while chunk := connection.recv(4096):  # the answer, then the server closes the connection
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408 ") and b"body_timeout" in answer, answer[:100]
            connection.close()
        assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_the_database_and_its_key_are_readable_by_their_owner_only(tmp_path):
    db_path = tmp_path / "p13n.db"
    old_umask = os.umask(0o022)  # a common default: new files readable by everyone
    try:
        create_site(db_path, TEST_SITE)
        with serving(db_path, "--no-demo") as server:
            assert post(server, spendable(server, VALID)).status_code == 202
            files = [db_path, *(db_path.with_name(db_path.name + end) for end in ("-wal", "-shm", ".lock")),
                     db_path.with_suffix(".key")]
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    finally:
        os.umask(old_umask)
    assert modes == {path.name: 0o600 for path in files}
