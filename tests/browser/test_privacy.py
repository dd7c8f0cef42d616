"""What leaves the device, proven by recording every request the page and its worker make:
nothing about the visitor without consent; with `improve`, a participation token taken under
the visitor's secret ahead of time, then anonymous clipped deltas and counters (never events)
spending it, retried when the network fails; with `sync`, the profile under the visitor's secret. Real Chromium against a real server whose rounds close after each update."""

from __future__ import annotations

import json
import struct
from urllib.parse import urlsplit

import httpx

from tests.browser.conftest import FAST_ROUNDS
from tests.browser.test_snippet import STUB
from tests.browser.test_walking_skeleton import PICKS, open_demo, saved_state
from tests.chromium import BOOT_TIMEOUT_MS

PUBLIC_PATHS = ("/demo/", "/p13n/", "/v1/sites/demo/model")
UPDATE_FIELDS = {"base_version", "samples", "delta", "update_id", "counters", "token"}


def record_requests(page) -> list:
    requests = []
    page.on("request", lambda request: requests.append(request))
    return requests


def click_picks(page, times: int) -> None:
    for _ in range(times):
        learned = page.evaluate("p13n.stats.learned")
        page.click(f"{PICKS} [data-p13n-variant]:not([hidden])")
        page.wait_for_function(f"p13n.stats.learned > {learned}")


def is_model_request(request) -> bool:
    return urlsplit(request.url).path == "/v1/sites/demo/model"


def is_token_code(request) -> bool:
    return urlsplit(request.url).path.startswith("/p13n/tokens.")


def compact_update(body: bytes) -> dict:
    """An update in the compact form (README): a JSON line, then n int32 buckets, n float32
    gradients and n float32 curvatures."""
    line, arrays = body.split(b"\n", 1)
    update, n = json.loads(line), len(arrays) // 12
    update["delta"]["idx"] = list(struct.unpack(f"<{n}i", arrays[: 4 * n]))
    update["delta"]["val"] = list(struct.unpack(f"<{n}f", arrays[4 * n: 8 * n]))
    update["delta"]["curvature"] = list(struct.unpack(f"<{n}f", arrays[8 * n:]))
    return update


def visitor_record(page) -> dict | None:
    text = page.evaluate("localStorage.getItem('p13n:visitor:demo')")
    return json.loads(text) if text else None


def test_without_consent_nothing_about_the_visitor_leaves_the_device(page, fast_server):
    requests = record_requests(page)
    open_demo(page, fast_server)
    click_picks(page, 3)
    # Each round (a second here) federation would send, then looks for a new model: wait two turns.
    for _ in range(2):
        page.wait_for_event("request", predicate=is_model_request, timeout=10_000)

    for request in requests:
        path = urlsplit(request.url).path
        assert request.method == "GET" and path.startswith(PUBLIC_PATHS), request.url
        assert urlsplit(request.url).query == "" and "authorization" not in request.headers
    assert not any(is_token_code(r) for r in requests)  # the token code is not even loaded
    assert visitor_record(page) is None  # no id exists: nothing to identify the visitor by
    db = fast_server.db()
    assert db["updates"].count == 0 and db["consents"].count == 0


def test_with_improve_the_device_sends_clipped_deltas_and_counters_and_takes_the_next_model(page, fast_server):
    requests = record_requests(page)
    page.add_init_script(STUB + "; p13n('on', 'merged', e => (window.merged = e.version))")
    open_demo(page, fast_server)
    page.evaluate("document.cookie = 'session=the-sites-own; path=/'")  # the sync server shares the origin
    with page.expect_request(lambda r: r.url.startswith(f"{fast_server.url}/v1/consent")) as consent_call:
        purposes = page.evaluate("p13n.consent({improve: true})")
    assert purposes == {"personalize": True, "improve": True, "sync": False}
    visitor = visitor_record(page)
    consent = json.loads(consent_call.value.post_data)
    assert consent == {"visitor": visitor["id"], "policy_version": "1", "purposes": purposes}
    assert consent_call.value.headers["authorization"] == f"Bearer {visitor['secret']}"

    page.reload()  # what was shown before the grant is not counted under it
    open_demo(page, fast_server)
    with page.expect_response(lambda r: r.url.endswith("/v1/sites/demo/updates"), timeout=BOOT_TIMEOUT_MS) as sent:
        click_picks(page, 2)
    assert sent.value.status == 202
    post = sent.value.request

    # The token was taken on an earlier turn, under the visitor's secret, with a blinded nonce.
    asked = [r for r in requests if urlsplit(r.url).path == "/v1/sites/demo/tokens"]
    assert len(asked) == 1 and requests.index(asked[0]) < requests.index(post)
    assert any(is_token_code(r) for r in requests[: requests.index(asked[0])])
    assert asked[0].headers["authorization"] == f"Bearer {visitor['secret']}"
    token_request = json.loads(asked[0].post_data)
    assert set(token_request) == {"visitor", "round", "blinded"} and token_request["visitor"] == visitor["id"]
    token_answer = asked[0].response().json()
    assert post.headers["content-type"] == "application/vnd.p13n.update"
    update = compact_update(post.post_data_buffer)
    assert set(update) == UPDATE_FIELDS
    assert set(update["delta"]) == {"intercept", "idx", "val", "intercept_curvature", "curvature"}
    assert update["samples"] >= 1 and update["base_version"] == 0
    sent = [update["delta"]["intercept"], *update["delta"]["val"], update["delta"]["intercept_curvature"], *update["delta"]["curvature"]]
    assert sum(v * v for v in sent) <= FAST_ROUNDS.clip_norm ** 2 + 1e-4  # float32 on the wire
    assert {c["slot"] for c in update["counters"]} <= {"hero", "picks"} and sum(c["clicks"] for c in update["counters"]) >= 1
    # Anonymous: no secret, no visitor id, no features or events, no decision ids, and nothing
    # that the token's issuance carried: the token is the unblinded nonce and its authenticator.
    assert "authorization" not in post.headers
    for clue in (visitor["id"], visitor["secret"], "topic:", '"type"', '"decision"', "picks#",
                 token_request["blinded"], token_answer["evaluation"]):
        assert clue.encode() not in post.post_data_buffer
    assert set(update["token"]) == {"round", "nonce", "authenticator"}
    assert update["token"]["round"] == token_request["round"] == update["base_version"] + 1

    # The update closed a round; the device revalidates the model it has and takes the new one.
    page.wait_for_function("window.merged >= 1", timeout=10_000)
    assert any(is_model_request(r) and "if-none-match" in r.headers for r in requests)
    page.wait_for_function("p13n.stats.unsaved === 0")
    assert saved_state(page)["global"]["version"] >= 1
    assert [urlsplit(r.url).path for r in requests if "authorization" in r.headers][:2] == [
        "/v1/consent", "/v1/sites/demo/tokens"]  # then a token for each new round
    assert all(urlsplit(r.url).path in ("/v1/consent", "/v1/sites/demo/tokens")
               for r in requests if "authorization" in r.headers)
    assert not any("cookie" in r.all_headers() for r in requests if urlsplit(r.url).path.startswith("/v1/"))


def test_updates_that_cannot_reach_the_server_are_retried_with_backoff(page, fast_server):
    attempts = []

    def offline_twice(route):
        attempts.append(route.request.post_data_buffer)
        if len(attempts) <= 2:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/v1/sites/demo/updates", offline_twice)
    open_demo(page, fast_server)
    before = fast_server.db()["updates"].count
    page.evaluate("p13n.consent({improve: true})")
    with page.expect_response(lambda r: r.url.endswith("/v1/sites/demo/updates"), timeout=30_000) as sent:
        click_picks(page, 2)
    assert sent.value.status == 202 and len(attempts) == 3
    assert len({compact_update(body)["update_id"] for body in attempts}) == 1  # a retry is the same update
    assert len({json.dumps(compact_update(body)["token"]) for body in attempts}) == 1  # with the same token
    assert any("trying again" in text for kind, text in page.console_messages_seen if kind == "warning")
    assert fast_server.db()["updates"].count == before + 1


def test_with_sync_the_profile_is_stored_under_the_visitors_secret(page, fast_server):
    open_demo(page, fast_server)
    page.evaluate("p13n.interests(['topic:hiking'])")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url) as stored:
        page.evaluate("p13n.consent({sync: true})")
    assert stored.value.status == 200
    visitor = visitor_record(page)
    held = httpx.get(f"{fast_server.url}/v1/profiles/{visitor['id']}", params={"site": "demo"},
                     headers={"authorization": f"Bearer {visitor['secret']}"}).json()
    assert held["profile"]["interests"] == ["topic:hiking"]
    assert [c["purposes"] for c in held["consents"]] == [{"personalize": True, "improve": False, "sync": True}]

    with page.expect_response(lambda r: r.url.startswith(f"{fast_server.url}/v1/consent")) as revoked:
        page.evaluate("p13n.consent({sync: false})")
    assert revoked.value.json()["profile_erased"] is True
