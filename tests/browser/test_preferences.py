"""The visitors' preferences widget in real Chromium: it opens from its button, from the site's
own link and by keyboard, as a modal dialog that keeps focus; turns personalization off and on;
interests reorder slots at once and "why am I seeing this" says so; download my data gives a
JSON file of everything held, on the device and the server; forget me empties both, even with
no worker; a new policy version asks the visitor to confirm their choices."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.browser.test_snippet import STUB, PyodideHold
from tests.browser.test_walking_skeleton import PAGE_ORDER, PICKS, click_and_wait_until_saved, open_demo, picks_order
from tests.chromium import BOOT_TIMEOUT_MS
from tests.conftest import ROOT

PANEL = "#p13n-preferences .panel"


def open_panel(page):
    page.get_by_role("button", name="Personalization").click()
    panel = page.locator(PANEL)
    panel.wait_for()
    return panel


def switch(page, name: str):
    return page.get_by_role("switch", name=name)


def visitor_record(page) -> dict | None:
    text = page.evaluate("localStorage.getItem('p13n:visitor:demo')")
    return json.loads(text) if text else None


def idb_keys(page) -> list[str]:
    return page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("p13n");
        open.onsuccess = () => {
            const keys = open.result.transaction("engine-state").objectStore("engine-state").getAllKeys();
            keys.onsuccess = () => resolve(keys.result);
            keys.onerror = () => reject(keys.error);
        };
    })""")


def test_the_panel_opens_by_keyboard_and_from_the_sites_link_in_the_sites_words_and_colours(page, server):
    page.add_init_script(STUB + "; p13n('strings', {title: 'Ihre Einstellungen', 'topic:hiking': 'Wandern'})")
    open_demo(page, server)
    page.evaluate("document.documentElement.style.setProperty('--p13n-accent', 'rgb(200, 0, 0)')")
    button = page.get_by_role("button", name="Personalization")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(200, 0, 0)"

    button.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Ihre Einstellungen")
    dialog.wait_for()
    assert page.get_by_role("heading", name="Ihre Einstellungen").evaluate("h => h.getRootNode().activeElement === h")
    page.get_by_label("Wandern").wait_for()  # a translated interest
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert button.evaluate("b => b.getRootNode().activeElement === b")  # focus is back where it was

    page.evaluate("p13n.openPreferences()")
    assert dialog.is_visible()
    assert switch(page, "Personalize this site for me").is_checked()
    assert not switch(page, "Help improve recommendations").is_checked()  # off until the visitor turns it on
    assert not switch(page, "Sync my profile").is_checked()
    assert [kind for kind, _ in page.console_messages_seen if kind in ("error", "pageerror")] == []


def test_personalization_off_shows_the_page_order_and_learns_nothing_until_it_is_on_again(page, server):
    open_demo(page, server)
    click_and_wait_until_saved(page, "bottle")
    page.reload()
    open_demo(page, server)
    assert picks_order(page)[0] == "bottle"

    open_panel(page)
    switch(page, "Personalize this site for me").uncheck()
    page.wait_for_selector(f'{PICKS}[data-p13n-state="off"]')
    assert picks_order(page) == PAGE_ORDER
    page.get_by_role("button", name="Close").click()
    page.click(f'{PICKS} [data-p13n-variant="helmet"]')
    assert page.get_attribute(PICKS, "data-p13n-decision") is None  # no decision to learn a click from
    assert page.evaluate("p13n.track('view', {features: ['topic:camping']}).then(r => r.learned)") is False
    assert page.evaluate("p13n.stats.learned") == 0

    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    page.wait_for_selector(f'{PICKS}[data-p13n-state="off"]')
    assert picks_order(page) == PAGE_ORDER  # at first paint too: the remembered order is gone
    assert not any("/p13n/pyodide." in url or "/p13n/worker." in url for url in requests)  # no engine at all

    open_panel(page)
    switch(page, "Personalize this site for me").check()
    page.wait_for_selector(f'{PICKS}[data-p13n-state="personalized"]', timeout=BOOT_TIMEOUT_MS)
    assert picks_order(page)[0] == "bottle"  # what was learned before is still there


def test_an_interest_reorders_the_slots_at_once_and_why_this_says_so(page, server):
    open_demo(page, server)
    assert picks_order(page) == PAGE_ORDER  # the demo ranks greedily: nothing learned, the page's order
    panel = open_panel(page)
    assert "In the site's own order." not in panel.inner_text()
    page.get_by_label("cycling").check()
    page.wait_for_function(f"document.querySelector('{PICKS} [data-p13n-variant]').dataset.p13nVariant === 'helmet'")
    hero = page.eval_on_selector_all('[data-p13n-slot="hero"] > article:not([hidden])', "els => els.map(e => e.dataset.p13nVariant)")
    assert hero == ["city-bike"]
    why = page.locator("#p13n-preferences .why")
    why.get_by_text("Commuter helmet: You told us you like cycling").wait_for()
    assert "Today's picks" in why.inner_text() and "Featured" in why.inner_text()

    # Unchecked, the interest no longer lifts the helmet: the three picks score alike again (which
    # leads among equals is the engine's tie, not the interest), and nothing cites it.
    page.get_by_label("cycling").uncheck()
    why.get_by_text("Commuter helmet: You told us you like cycling").wait_for(state="detached")
    assert page.evaluate("p13n.interests()") == []
    scores = page.evaluate(f"""p13n.decide('check', [...document.querySelectorAll('{PICKS} [data-p13n-variant]')]
        .map(e => ({{id: e.dataset.p13nVariant, features: e.dataset.features.split(' ')}})))""")["scores"]
    assert max(scores.values()) - min(scores.values()) < 0.01  # the interest lifted the helmet's by far more


def test_more_variety_is_a_switch_the_engine_keeps_until_turned_off(page, server):
    open_demo(page, server)
    open_panel(page)
    wanted = page.get_by_label("Show me more variety")
    assert not wanted.is_checked()
    wanted.check()
    # Each poll asks the engine again and looks at what the last answer said.
    page.wait_for_function("p13n.variety().then((on) => (window.varietyNow = on)) && window.varietyNow === true", polling=100)
    assert page.evaluate("p13n.variety()") is True and wanted.is_checked()

    wanted.uncheck()
    page.wait_for_function("p13n.variety().then((on) => (window.varietyNow = on)) && window.varietyNow === false", polling=100)
    assert page.evaluate("p13n.variety()") is False


def test_download_my_data_gives_everything_held_on_the_device_and_the_server(page, server):
    open_demo(page, server)
    panel = open_panel(page)
    page.get_by_label("hiking").check()
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url):
        switch(page, "Sync my profile").check()

    with page.expect_download() as download:
        panel.get_by_role("button", name="Download my data").click()
    assert download.value.suggested_filename == "p13n-data-demo.json"
    data = json.loads(Path(download.value.path()).read_text())
    visitor = visitor_record(page)
    assert data["device"]["choices"] == {"id": visitor["id"], "purposes": {"personalize": True, "improve": False, "sync": True},
                                         "policyVersion": "1",
                                         "recorded": {"policyVersion": "1", "purposes": {"personalize": True, "improve": False, "sync": True}}}
    assert data["device"]["engine"]["profile"]["interests"] == ["topic:hiking"]
    assert set(data["device"]["decisions"]) == {"hero", "picks"}
    assert data["server"]["profile"]["interests"] == ["topic:hiking"] and len(data["server"]["consents"]) == 1
    assert visitor["secret"] not in json.dumps(data)  # the key to the data is not data about the visitor
    panel.get_by_text("Your data is downloaded.").wait_for()


def test_forget_me_empties_the_device_and_the_server(page, server):
    open_demo(page, server)
    click_and_wait_until_saved(page, "bottle")  # the open panel would cover it
    panel = open_panel(page)
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url):
        switch(page, "Sync my profile").check()
    visitor = visitor_record(page)
    assert "demo" in idb_keys(page)

    forget = panel.get_by_role("button", name="Forget me")
    forget.click()
    with page.expect_response(lambda r: r.request.method == "DELETE" and "/v1/profiles/" in r.url) as erased:
        panel.get_by_role("button", name="Click again to erase everything, here and on our server").click()
    assert erased.value.status == 200
    panel.get_by_text("Everything kept about you is erased.").wait_for()

    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('p13n:'))") == []
    assert "demo" not in idb_keys(page)  # no engine state: a new visitor's device
    assert not switch(page, "Sync my profile").is_checked()
    assert picks_order(page) == PAGE_ORDER
    gone = httpx.get(f"{server.url}/v1/profiles/{visitor['id']}", params={"site": "demo"},
                     headers={"authorization": f"Bearer {visitor['secret']}"})
    assert gone.status_code == 401 and gone.json()["error"] == "wrong_secret"  # as for any unknown visitor
    assert server.db()["consents"].count_where("visitor = ?", [visitor["id"]]) == 0


def test_the_panel_works_before_the_engine_is_ready(page, server):
    hold = PyodideHold(page)
    page.goto(f"{server.url}/demo/", wait_until="domcontentloaded")
    open_panel(page)
    assert switch(page, "Personalize this site for me").is_checked()
    hold.release()
    page.get_by_label("camping").wait_for()
    assert page.locator("#p13n-preferences .status").inner_text() == ""


def test_the_panel_is_a_modal_dialog_that_keeps_focus_and_closes_on_its_backdrop(page, server):
    open_demo(page, server)
    button = page.get_by_role("button", name="Personalization")
    open_panel(page)
    box = page.locator(PANEL).bounding_box()
    tent = page.locator(f'{PICKS} [data-p13n-variant="tent"]').bounding_box()
    covered = page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [tent["x"] + 5, tent["y"] + 5])
    assert covered == "p13n-preferences"  # the backdrop: the page behind cannot be clicked by mistake

    inside = "document.activeElement.id === 'p13n-preferences' && !!document.activeElement.shadowRoot.activeElement?.closest('.panel')"
    for key in ["Tab"] * 25 + ["Shift+Tab"] * 25:
        page.keyboard.press(key)
        assert page.evaluate(inside), f"{key} left the panel"

    assert box["y"] > 2
    page.mouse.click(2, 2)  # on the backdrop
    assert not page.locator(PANEL).is_visible()
    assert button.evaluate("b => b.getRootNode().activeElement === b")


def serve_policy_version(page, version: str) -> None:
    """From now on the demo shop says its privacy text is `version` (data-consent-version)."""
    def rewrite(route):
        response = route.fetch()
        tagged = response.text().replace('data-site="demo"', f'data-site="demo" data-consent-version="{version}"')
        route.fulfill(response=response, body=tagged)

    page.route("**/demo/", rewrite)


def test_a_new_policy_version_asks_the_visitor_to_confirm_their_choices_which_hold_until_then(page, server):
    open_demo(page, server)
    assert not page.locator(PANEL).is_visible()  # a visitor who chose nothing is not asked anything
    page.evaluate("p13n.consent({improve: true})")
    visitor = visitor_record(page)

    consent_calls = []
    page.on("request", lambda r: "/v1/consent" in r.url and consent_calls.append(r))
    serve_policy_version(page, "2")
    page.reload()
    panel = page.get_by_role("dialog", name="Your personalization")
    panel.wait_for()  # opened by itself
    panel.get_by_text("Our privacy policy has changed.").wait_for()
    assert switch(page, "Help improve recommendations").is_checked()  # the old choices are in force
    assert page.evaluate("p13n.consent()") == {"personalize": True, "improve": True, "sync": False}
    assert consent_calls == []  # nothing is recorded under the new version until the visitor answers

    with page.expect_response(lambda r: "/v1/consent" in r.url) as recorded:
        panel.get_by_role("button", name="Confirm my choices").click()
    assert recorded.value.status == 201
    assert json.loads(recorded.value.request.post_data)["policy_version"] == "2"
    panel.get_by_text("Your choices are saved.").wait_for()
    assert not panel.get_by_text("Our privacy policy has changed.").is_visible()
    held = httpx.get(f"{server.url}/v1/profiles/{visitor['id']}", params={"site": "demo"},
                     headers={"authorization": f"Bearer {visitor['secret']}"}).json()
    assert [(c["policy_version"], c["purposes"]["improve"]) for c in held["consents"]] == [("1", True), ("2", True)]

    page.reload()
    open_demo(page, server)
    assert not page.locator(PANEL).is_visible()  # answered: not asked again


def test_a_changed_choice_answers_a_new_policy_version_too(page, server):
    open_demo(page, server)
    page.evaluate("p13n.consent({personalize: false})")  # a choice the server never hears of
    serve_policy_version(page, "2")
    page.reload()
    page.get_by_text("Our privacy policy has changed.").wait_for()
    assert picks_order(page) == PAGE_ORDER and page.get_attribute(PICKS, "data-p13n-state") == "off"
    switch(page, "Personalize this site for me").check()
    page.wait_for_selector(f'{PICKS}[data-p13n-state="personalized"]', timeout=BOOT_TIMEOUT_MS)
    assert not page.get_by_text("Our privacy policy has changed.").is_visible()
    assert visitor_record(page)["policyVersion"] == "2"


def test_forget_me_works_when_the_worker_cannot_start(page, server):
    open_demo(page, server)
    click_and_wait_until_saved(page, "bottle")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url):
        page.evaluate("p13n.consent({sync: true})")
    visitor = visitor_record(page)

    page.route("**/p13n/worker.*.js", lambda route: route.fulfill(status=500, body="boom"))
    with page.expect_console_message(lambda m: m.type == "error" and "worker failed" in m.text, timeout=BOOT_TIMEOUT_MS):
        page.reload()
    assert "demo" in idb_keys(page)
    panel = open_panel(page)
    panel.get_by_role("button", name="Forget me").click()
    with page.expect_response(lambda r: r.request.method == "DELETE" and "/v1/profiles/" in r.url) as erased:
        panel.get_by_role("button", name="Click again to erase everything, here and on our server").click()
    assert erased.value.status == 200 and erased.value.request.headers["authorization"] == f"Bearer {visitor['secret']}"
    panel.get_by_text("Everything kept about you is erased.").wait_for()

    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('p13n:'))") == []
    assert [key for key in idb_keys(page) if key.startswith("demo")] == []
    assert not switch(page, "Sync my profile").is_checked()
    gone = httpx.get(f"{server.url}/v1/profiles/{visitor['id']}", params={"site": "demo"},
                     headers={"authorization": f"Bearer {visitor['secret']}"})
    assert gone.status_code == 401  # unknown now, as a wrong secret is
    assert [text for kind, text in page.console_messages_seen if kind == "pageerror"] == []


def refuse_deletes(route) -> None:
    """The server cannot erase anything just now."""
    if route.request.method == "DELETE":
        route.fulfill(status=503)
    else:
        route.fallback()


@pytest.mark.parametrize("worker", ["running", "not started"])
def test_forget_me_the_server_cannot_do_changes_nothing_on_the_device(page, server, worker):
    """One path forgets, in the worker or in the page: the server's copy first, the device's after."""
    open_demo(page, server)
    click_and_wait_until_saved(page, "bottle")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/v1/profiles/" in r.url):
        page.evaluate("p13n.consent({sync: true})")
    if worker == "not started":
        page.route("**/p13n/worker.*.js", lambda route: route.fulfill(status=500, body="boom"))
        with page.expect_console_message(lambda m: "worker failed" in m.text, timeout=BOOT_TIMEOUT_MS):
            page.reload()
    kept = visitor_record(page), sorted(idb_keys(page))
    assert "demo" in kept[1]

    page.route(lambda url: "/v1/profiles/" in url, refuse_deletes)
    assert "HTTP 503" in page.evaluate("p13n.forget().then(() => 'forgotten', (error) => error.message)")
    assert (visitor_record(page), sorted(idb_keys(page))) == kept
    held = httpx.get(f"{server.url}/v1/profiles/{kept[0]['id']}", params={"site": "demo"},
                     headers={"authorization": f"Bearer {kept[0]['secret']}"})
    assert held.status_code == 200 and held.json()["profile"] is not None


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def test_axe_finds_nothing_with_the_panel_open(page, server):
    open_demo(page, server)
    open_panel(page)
    page.get_by_label("camping").wait_for()
    page.add_script_tag(path=AXE)
    found = page.evaluate("axe.run(document).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)})))")
    assert found == []


def test_the_panel_loads_only_when_opened_and_the_button_takes_the_sites_font(page, server):
    panel_files = []
    page.on("request", lambda r: "/p13n/preferences." in r.url and panel_files.append(r.url))
    open_demo(page, server)
    page.evaluate("document.documentElement.style.setProperty('--p13n-font', 'italic 21px serif')")
    button = page.get_by_role("button", name="Personalization")
    assert button.evaluate("b => [getComputedStyle(b).fontSize, getComputedStyle(b).fontStyle]") == ["21px", "italic"]
    assert panel_files == []  # a visitor who never opens the panel never downloads it

    open_panel(page)
    assert len(panel_files) == 1
    page.keyboard.press("Escape")
    open_panel(page)
    assert len(panel_files) == 1


def test_interests_of_other_kinds_say_their_kind(page, server):
    def more_kinds(route):
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace('data-site="demo"', 'data-site="demo" data-interests="topic price"'))

    page.route("**/demo/", more_kinds)
    open_demo(page, server)
    open_panel(page)
    page.get_by_label("Price: low").wait_for()
    assert page.get_by_label("camping").is_visible()  # a topic is its own word


@pytest.mark.parametrize("purpose", ["Sync my profile", "Help improve recommendations"])
def test_a_grant_the_server_cannot_record_is_not_in_force_and_the_switch_says_so(page, server, purpose):
    profile_puts = []
    page.on("request", lambda r: r.method == "PUT" and "/v1/profiles/" in r.url and profile_puts.append(r))
    open_demo(page, server)
    page.route("**/v1/consent*", lambda route: route.abort("connectionrefused"))  # the server is down
    open_panel(page)
    switch(page, purpose).click()
    page.locator("#p13n-preferences .status").get_by_text("That did not work").wait_for()
    assert not switch(page, purpose).is_checked()
    assert page.evaluate("p13n.consent()") == {"personalize": True, "improve": False, "sync": False}
    assert visitor_record(page)["purposes"] == {"personalize": True, "improve": False, "sync": False}
    assert page.evaluate("p13n.exportData()")["device"]["federation"].get("improving") is not True

    page.unroute("**/v1/consent*")  # back up: nothing was left pending to send on its own
    page.reload()
    open_demo(page, server)
    assert page.evaluate("p13n.consent()")["improve"] is False and profile_puts == []
