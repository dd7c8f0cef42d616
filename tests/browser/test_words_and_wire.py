"""The widget's words against the bytes on the wire: each thing "Help improve" and "Sync my
profile" say is sent is in the recorded requests, and nothing they do not name is. And what
the engine learned before `improve` was granted is not in the first update sent under it.
Real Chromium, the real widget, a real server whose rounds close after each update."""

from __future__ import annotations

import json
import math
from urllib.parse import urlsplit

from tests.browser.conftest import FAST_ROUNDS
from tests.browser.test_preferences import open_panel, switch
from tests.browser.test_privacy import click_picks, compact_update, record_requests
from tests.browser.test_walking_skeleton import open_demo
from tests.chromium import BOOT_TIMEOUT_MS

# Each field of an update, and the words of "Help improve" that name it. `token` is the
# anonymous participation token, where the server asks for one.
UPDATE_WORDS = {
    "delta": "a change to the model's weights, limited in size",
    "samples": "how many examples it came from",
    "base_version": "which version of the site's model it builds on",
    "counters": "how often each item was shown and clicked here (and how often a click led to a purchase or sign-up, "
                "where the site counts them), and whether it was ranked for you",
    "update_id": "a random number per update",
    "token": "one-time token",
}
COUNTER_FIELDS = {"slot", "variant", "arm", "impressions", "clicks"}  # item, ranked for you or not, shown, clicked
CONVERSIONS = "conversions"  # where the site counts them: a slot with data-p13n-objective="convert:…" or "value:…"
PROFILE_WORDS = {
    "interests": "your interests",
    "session": "the kinds of content you looked at and clicked (fading over time)",
    "taste": "the kinds of content you looked at and clicked (fading over time)",
}


def widget_words(page) -> dict:
    """The help texts as the visitor reads them in the open panel."""
    panel = open_panel(page)
    words = {purpose: panel.locator(f"#help-{purpose}").inner_text() for purpose in ("improve", "sync")}
    return words


def test_help_improve_names_every_field_of_an_update_and_nothing_else(page, fast_server):
    requests = record_requests(page)
    open_demo(page, fast_server)
    page.evaluate("document.cookie = 'session=the-sites-own; path=/'")  # the sync server shares the origin
    words = widget_words(page)["improve"]
    with page.expect_response(lambda r: urlsplit(r.url).path == "/v1/consent"):
        switch(page, "Help improve recommendations").click()
    page.reload()  # counts start with what is shown under the grant
    open_demo(page, fast_server)
    with page.expect_response(lambda r: r.url.endswith("/v1/sites/demo/updates"), timeout=BOOT_TIMEOUT_MS) as sent:
        click_picks(page, 2)
    post = sent.value.request
    update = compact_update(post.post_data_buffer)

    # Every field sent is named, and every field named (but a token, where none is asked for) is sent.
    assert {field: UPDATE_WORDS.get(field, "(unnamed)") in words for field in update} == dict.fromkeys(update, True)
    assert {field for field, said in UPDATE_WORDS.items() if said in words} - {"token"} <= set(update)
    assert ("token" in update) == (UPDATE_WORDS["token"] in words)
    # "a change to the model's weights, limited in size": clipped to the server's norm.
    delta = update["delta"]
    assert math.hypot(delta["intercept"], *delta["val"]) <= FAST_ROUNDS.clip_norm + 1e-6
    # "how often each item was shown and clicked here": counts, and they hold the clicks made.
    assert all(COUNTER_FIELDS <= set(row) <= COUNTER_FIELDS | {CONVERSIONS} for row in update["counters"])
    assert sum(row["clicks"] for row in update["counters"]) >= 1

    # "Updates carry no id, cookie or list of what you did."
    visitor = json.loads(page.evaluate("localStorage.getItem('p13n:visitor:demo')"))
    headers = post.all_headers()
    assert "authorization" not in headers and "cookie" not in headers
    for clue in (visitor["id"], visitor["secret"], "the-sites-own", "topic:", "price:", '"click"', '"type"', '"at"', "picks#"):
        assert clue.encode() not in post.post_data_buffer, clue
    # "this device asks for it under your random id": the token request, before the update.
    assert "asks for it under your random id" in words
    issued = [r for r in requests if urlsplit(r.url).path == "/v1/sites/demo/tokens"]
    assert issued and all(r.headers["authorization"] == f"Bearer {visitor['secret']}" for r in issued)
    # "Your choice is kept on our server under a random id, as proof of consent."
    assert "kept on our server under a random id" in words
    consents = [json.loads(r.post_data) for r in requests if urlsplit(r.url).path == "/v1/consent"]
    assert consents and consents[-1]["visitor"] == visitor["id"] and consents[-1]["purposes"]["improve"] is True
    # "our server adds noise before it publishes anything" is the server's part: tests/server checks it.


def test_sync_names_what_the_profile_holds_and_nothing_else(page, fast_server):
    open_demo(page, fast_server)
    page.evaluate("p13n.interests(['topic:hiking'])")
    words = widget_words(page)["sync"]
    with page.expect_request(lambda r: r.method == "PUT" and "/v1/profiles/" in r.url) as stored:
        switch(page, "Sync my profile").click()
    put = stored.value
    visitor = json.loads(page.evaluate("localStorage.getItem('p13n:visitor:demo')"))
    profile = json.loads(put.post_data)["profile"]
    assert set(json.loads(put.post_data)) == {"profile"}
    assert set(profile) - {"schema"} == set(PROFILE_WORDS) and all(PROFILE_WORDS[key] in words for key in PROFILE_WORDS)
    assert profile["interests"] == ["topic:hiking"]
    # "under a random id and a secret that only your devices hold"
    assert "under a random id and a secret" in words
    assert urlsplit(put.url).path == f"/v1/profiles/{visitor['id']}" and put.headers["authorization"] == f"Bearer {visitor['secret']}"


def engine_state(page) -> dict:
    return page.evaluate("p13n.exportData()")["device"]["engine"]


def test_what_was_learned_before_improve_was_granted_is_not_in_the_first_update(page, fast_server):
    attempts = []

    def refuse(route) -> None:  # held offline: the device keeps retrying, so its engine stays as it sent
        attempts.append(route.request.post_data_buffer)
        route.abort("internetdisconnected")

    page.route("**/v1/sites/demo/updates", refuse)
    for _ in range(3):  # three visits with a click each, before any consent to send
        open_demo(page, fast_server)
        click_picks(page, 1)
        page.wait_for_function("p13n.stats.unsaved === 0")
        page.reload()
    open_demo(page, fast_server)
    before = engine_state(page)
    assert before["samples"] > 0

    page.evaluate("p13n.consent({improve: true})")
    page.reload()  # a decision made under the grant, whose impression may be counted
    open_demo(page, fast_server)
    with page.expect_request("**/v1/sites/demo/updates", timeout=BOOT_TIMEOUT_MS):
        click_picks(page, 1)
    for _ in range(100):  # the route's handler runs after the request event that ended the wait
        if attempts:
            break
        page.wait_for_timeout(50)
    update = compact_update(attempts[0])
    now = engine_state(page)

    # The counts hold the one click made after the grant, not the three before it.
    assert sum(row["clicks"] for row in update["counters"]) == 1
    assert update["samples"] == now["samples"]  # nothing learned since it was built
    # The delta is the model now minus the model at the grant (clipped), not minus the global model.
    start, end = dict(map(tuple, before["model"]["weights"])), dict(map(tuple, now["model"]["weights"]))
    change = {k: end.get(k, 0.0) - start.get(k, 0.0) for k in start.keys() | end.keys()}
    change = {k: v for k, v in change.items() if v != 0.0}
    intercept = now["model"]["intercept"] - before["model"]["intercept"]
    scale = min(1.0, FAST_ROUNDS.clip_norm / math.hypot(intercept, *change.values()))
    assert update["delta"]["idx"] == sorted(change)
    assert math.isclose(update["delta"]["intercept"], intercept * scale, rel_tol=1e-9)
    assert all(math.isclose(v, change[k] * scale, rel_tol=1e-5) for k, v in zip(update["delta"]["idx"], update["delta"]["val"]))
