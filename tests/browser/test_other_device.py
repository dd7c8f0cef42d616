"""A synced profile moves to the visitor's other device with its sync code, in real Chromium:
two browser contexts are two devices with their own storage, against the real server. A code
that is malformed or opens no profile is a clear message in the widget and changes nothing."""

from __future__ import annotations

import base64
import secrets

import httpx

from tests.browser.test_preferences import open_panel, switch, visitor_record
from tests.browser.test_snippet import errors
from tests.browser.test_walking_skeleton import PAGE_ORDER, open_demo, picks_order
from tests.databases import on_both

pytestmark = on_both  # a visitor's state goes through the server: on both databases

USED = "Your profile from your other device is in use here."


def sync_code(visitor: str, secret: str) -> str:
    return base64.urlsafe_b64encode(f"{visitor}.{secret}".encode()).decode().rstrip("=")


def profile_held(server, visitor: str, secret: str) -> httpx.Response:
    return httpx.get(f"{server.url}/v1/profiles/{visitor}", params={"site": "demo"},
                     headers={"authorization": f"Bearer {secret}"})


def use_code(page, code: str):
    panel = open_panel(page)
    panel.get_by_text("Use on another device").click()
    page.get_by_label("Code from your other device").fill(code)
    panel.get_by_role("button", name="Use this code").click()
    return panel


def test_a_synced_profile_is_restored_on_another_device_with_its_sync_code(context, page, other_device, server):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_demo(page, server)
    panel = open_panel(page)
    page.get_by_label("cycling").check()
    panel.get_by_text("Use on another device").click()
    assert panel.get_by_text("Turn on sync to get a code for your other devices.").is_visible()
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url):
        switch(page, "Sync my profile").check()
    panel.get_by_role("button", name="Show my sync code").click()
    code = page.get_by_label("Your sync code").input_value()
    panel.get_by_role("button", name="Copy").click()
    panel.get_by_text("The code is copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == code
    page.keyboard.press("Escape")
    open_panel(page)
    assert not page.get_by_label("Your sync code").is_visible()  # shown only when asked for
    first = visitor_record(page)
    assert code == sync_code(first["id"], first["secret"])

    # The other device: this visitor turned `improve` on there, so the server knows it by an id of its own.
    device = other_device
    open_demo(device, server)
    assert picks_order(device) == PAGE_ORDER  # nothing learned or declared here yet
    device.evaluate("p13n.consent({improve: true})")
    own = visitor_record(device)
    with device.expect_response(lambda r: r.request.method == "GET" and f"/v1/profiles/{first['id']}" in r.url) as fetched:
        panel = use_code(device, f"  {code[:20]}\n{code[20:]} ")  # pasted with stray spaces and a line break
    assert fetched.value.request.headers["authorization"] == f"Bearer {first['secret']}"
    panel.get_by_text(USED).wait_for()

    assert picks_order(device)[0] == "helmet"  # the restored interest counts at once
    assert device.get_by_label("cycling").is_checked()
    assert switch(device, "Sync my profile").is_checked() and switch(device, "Help improve recommendations").is_checked()
    adopted = visitor_record(device)
    assert (adopted["id"], adopted["secret"]) == (first["id"], first["secret"])
    assert profile_held(server, own["id"], own["secret"]).status_code == 401  # its former id is erased, not orphaned
    consents = profile_held(server, first["id"], first["secret"]).json()["consents"]
    assert [c["purposes"] for c in consents] == [
        {"personalize": True, "improve": False, "sync": True},  # the first device's
        {"personalize": True, "improve": True, "sync": True},  # this device's, recorded under the visitor's id
    ]
    assert errors(device) == [] and errors(page) == []


def test_a_wrong_or_malformed_code_is_a_clear_message_and_changes_nothing(page, server):
    known = {"visitor": secrets.token_urlsafe(16), "secret": secrets.token_urlsafe(32)}
    response = httpx.post(f"{server.url}/v1/consent", params={"site": "demo"}, headers={"authorization": f"Bearer {known['secret']}"},
                          json={"visitor": known["visitor"], "policy_version": "1",
                                "purposes": {"personalize": True, "improve": False, "sync": False}})
    assert response.status_code == 201  # a visitor with no synced profile
    codes = {
        "hello there": "That is not a sync code.",
        sync_code("short", "x" * 40): "That is not a sync code.",
        sync_code(secrets.token_urlsafe(16), secrets.token_urlsafe(32)): "No profile opens with that code",
        sync_code(known["visitor"], secrets.token_urlsafe(32)): "No profile opens with that code",  # the wrong secret
        sync_code(known["visitor"], known["secret"]): "Nothing is synced under that code yet.",
    }
    open_demo(page, server)
    page.evaluate("p13n.interests(['topic:hiking'])")
    shown = picks_order(page)
    panel = open_panel(page)
    panel.get_by_text("Use on another device").click()
    entry = page.get_by_label("Code from your other device")
    for code, message in codes.items():
        entry.fill(code)
        entry.press("Enter")
        panel.locator("#code-status", has_text=message).wait_for()
        assert entry.get_attribute("aria-invalid") == "true"
        page.evaluate("document.querySelector('#p13n-preferences').shadowRoot.querySelector('#code-status').textContent = ''")

    assert visitor_record(page) is None  # no id was adopted, none was made
    assert picks_order(page) == shown and page.evaluate("p13n.interests()") == ["topic:hiking"]
    reason = page.evaluate("p13n.useSyncCode('nope').catch(e => [e.name, e.reason])")
    assert reason == ["SyncCodeError", "malformed"]
    assert page.evaluate("p13n.syncCode()") is None  # no code without sync
    assert errors(page) == []


def test_the_other_device_syncs_its_changes_under_the_adopted_id(page, other_device, server):
    open_demo(page, server)
    page.evaluate("p13n.interests(['topic:cycling'])")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url):
        page.evaluate("p13n.consent({sync: true})")
    first = visitor_record(page)

    device = other_device
    open_demo(device, server)  # the defaults here: its choices are the ones the server holds already
    device.evaluate(f"p13n.useSyncCode({page.evaluate('p13n.syncCode()')!r})")
    assert device.evaluate("p13n.consent()") == {"personalize": True, "improve": False, "sync": True}
    with device.expect_response(lambda r: r.request.method == "PUT" and f"/v1/profiles/{first['id']}" in r.url) as stored:
        device.evaluate("p13n.interests(['topic:cycling', 'topic:hiking'])")
    assert stored.value.status == 200
    held = profile_held(server, first["id"], first["secret"]).json()
    assert held["profile"]["interests"] == ["topic:cycling", "topic:hiking"]
    assert len(held["consents"]) == 1  # nothing new to record: the same choices under the same policy
