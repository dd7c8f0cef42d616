"""Other channels: the site's backend ranks for a synced visitor as their browser would, and what
the visitor did in an email reaches the web once the browser syncs. The browser's side is the
worker's own Python (`edge.worker_api`, which the worker runs in Pyodide) on CPython."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from edge import worker_api
from edge.features import Hasher
from sync_server.demo.traffic import POLICY_VERSION
from tests.conftest import CLI, ROOT, without_holdout
from tests.server.federation import SITE, send, site_server, update, wait_for_version
from tests.server.test_interfaces import assert_as_documented
from tests.server.visitors import Visitor

HASH_BITS = 12
CANDIDATES = [{"id": "bottle", "features": ["topic:hiking", "price:low"]},
              {"id": "tent", "features": ["topic:camping", "price:high"]}]
CONTEXT = {"device": "mobile", "hour": 20, "weekday": 6, "referrer": "search"}
AT = 1.8e9
EMAIL_CLICK = {"type": "click", "features": ["topic:camping", "price:high"], "channel": "email", "at": AT - 3600}


@pytest.fixture(scope="module")
def channel_server(tmp_path_factory):
    """A site whose global model learned that visitors who like camping click camping (and that
    hiking is popular), no noise, no holdout; and a server key for its backend."""
    db_path = tmp_path_factory.mktemp("channels") / "p13n.db"
    with site_server(db_path, hash_bits=HASH_BITS, min_devices=1, target_devices=1, noise_multiplier=0.0,
                     epsilon_budget=None, clip_norm=10.0, learning_rate=1.0) as server:
        without_holdout(db_path, SITE, HASH_BITS)
        hasher = Hasher(HASH_BITS)
        learned = {hasher("likes:topic:camping & topic:camping"): 2.0, hasher("topic:hiking"): 0.5}
        assert send(server, update(list(learned), list(learned.values()))).status_code == 202
        wait_for_version(server, 1)
        made = subprocess.run([*CLI, "create-server-key", SITE, "newsletter", "--db", str(db_path)],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        server.key = made.stdout.strip()
        yield server


def backend(server, path: str, body: dict, key: str | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/sites/{SITE}/{path}", json=body,
                      headers={"authorization": f"Bearer {key or server.key}"})


def synced_visitor(server) -> Visitor:
    visitor = Visitor(server, site=SITE)
    assert visitor.consent(sync=True, policy_version=POLICY_VERSION).status_code == 201
    return visitor


def browser_top(server, profile: dict | None) -> str:
    """What the visitor's browser shows first, greedy, once it restored the synced `profile`."""
    model = httpx.get(f"{server.url}/v1/sites/{SITE}/model").text
    worker_api.boot(None, model, json.dumps({"policy": "greedy"}))
    if profile is not None:
        assert "error" not in json.loads(worker_api.handle(json.dumps({"type": "restore_profile", "profile": profile})))
    reply = json.loads(worker_api.handle(json.dumps({"type": "decide", "slot": "picks", "candidates": CANDIDATES,
                                                     "context": CONTEXT, "at": AT})))
    assert reply["arm"] == "personalized"
    return reply["ranking"][0]


def server_decision(server, visitor: Visitor) -> httpx.Response:
    return backend(server, "decide", {"visitor": visitor.id, "slot": "picks", "candidates": CANDIDATES,
                                      "context": CONTEXT, "at": AT})


def test_the_server_and_the_browser_agree_on_the_top_item(channel_server):
    visitor = synced_visitor(channel_server)
    # The browser synced a profile with a declared interest in camping, which outweighs hiking's popularity.
    model = httpx.get(f"{channel_server.url}/v1/sites/{SITE}/model").text
    worker_api.boot(None, model, json.dumps({"policy": "greedy"}))
    worker_api.handle(json.dumps({"type": "preferences", "interests": ["topic:camping"]}))
    profile = json.loads(worker_api.handle('{"type": "profile"}'))["profile"]
    assert visitor.put_profile(profile).status_code == 200

    decided = server_decision(channel_server, visitor)
    assert decided.status_code == 200, decided.text
    assert decided.json()["arm"] == "personalized"
    assert decided.json()["ranking"][0] == browser_top(channel_server, profile) == "tent"
    plain = synced_visitor(channel_server)  # no profile stored yet: the global model alone
    assert server_decision(channel_server, plain).json()["ranking"][0] == browser_top(channel_server, None) == "bottle"


def test_an_email_click_changes_the_next_web_decision_after_sync(channel_server):
    visitor = synced_visitor(channel_server)
    assert server_decision(channel_server, visitor).json()["ranking"][0] == "bottle"
    reported = backend(channel_server, "events", {"visitor": visitor.id, "events": [EMAIL_CLICK]})
    assert reported.status_code == 200 and reported.json() == {"visitor": visitor.id, "learned": 1}
    assert server_decision(channel_server, visitor).json()["ranking"][0] == "tent"
    synced = visitor.export().json()["profile"]  # what the browser's sync takes
    assert browser_top(channel_server, synced) == "tent"


def test_other_channels_get_nothing_without_a_server_key_or_sync_consent(channel_server):
    visitor = synced_visitor(channel_server)
    body = {"visitor": visitor.id, "events": [EMAIL_CLICK]}
    for key in ("wrong", SITE):  # a made-up key, and the public site key pages carry
        refused = backend(channel_server, "events", body, key=key)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_server_key"
    unsynced = Visitor(channel_server, site=SITE)
    unsynced.consent(sync=False, improve=True)
    for path, payload in (("events", {**body, "visitor": unsynced.id}), ("decide", {
            "visitor": unsynced.id, "slot": "picks", "candidates": CANDIDATES})):
        refused = backend(channel_server, path, payload)
        assert refused.status_code == 403 and refused.json()["error"] == "no_sync_consent"
    assert unsynced.rows("profiles") == []
    bad = backend(channel_server, "events", {"visitor": visitor.id, "events": [EMAIL_CLICK, {"type": "hover", "features": []}]})
    assert bad.status_code == 422 and "event type must be one of" in bad.json()["detail"]
    assert visitor.rows("profiles") == []  # the good event before it was not kept either
    audit = list(channel_server.db()["admin_audit"].rows_where("site = ?", [SITE]))
    assert [(a["action"], a["via"]) for a in audit if a["action"] == "server key created"] == [("server key created", "cli")]


def test_the_answers_are_as_the_openapi_document_says(channel_server):
    document = httpx.get(f"{channel_server.url}/openapi.json").json()
    visitor = synced_visitor(channel_server)
    calls = [
        ("decide", server_decision(channel_server, visitor)),
        ("decide", backend(channel_server, "decide", {"visitor": visitor.id, "slot": "picks", "candidates": []})),
        ("events", backend(channel_server, "events", {"visitor": visitor.id, "events": [EMAIL_CLICK]})),
        ("events", backend(channel_server, "events", {"visitor": visitor.id, "events": [EMAIL_CLICK]}, key="x")),
    ]
    assert [answer.status_code for _, answer in calls] == [200, 422, 200, 401]
    for path, answer in calls:
        assert_as_documented(document, f"/v1/sites/{{site}}/{path}", "post", answer)


@pytest.mark.parametrize("event", [{"type": {"a": 1}, "features": []}, {"type": "click", "features": "topic:x"},
                                   {"type": "click", "features": [], "at": "now"}, ["click"]])
def test_a_malformed_event_is_refused_by_name(channel_server, event):
    visitor = synced_visitor(channel_server)
    answer = backend(channel_server, "events", {"visitor": visitor.id, "events": [event]})
    assert answer.status_code == 422 and answer.json()["error"] in ("invalid_events", "invalid_request")
    assert visitor.rows("profiles") == []
