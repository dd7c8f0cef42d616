"""The snippet on real pages: instant first paint, anti-flicker, late slots, the JS API, strict
CSP, and saved state it cannot read. Real Chromium against the real server."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.browser.test_walking_skeleton import PAGE_ORDER, PICKS, click_and_wait_until_saved, open_demo, picks_order
from tests.chromium import BOOT_TIMEOUT_MS
from tests.conftest import ROOT

PYODIDE_FILES = "**/p13n/pyodide.*/**"
STUB = "window.p13n = window.p13n || function () { var a = arguments; return new Promise(function (y, n) { (p13n.q = p13n.q || []).push([a, y, n]) }) }"
STUB_HASH = base64.b64encode(hashlib.sha256(STUB.encode()).digest()).decode()
# The policy README.md documents, with the stub's hash: no inline code, no eval, only our origin.
STRICT_CSP = (
    f"default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'sha256-{STUB_HASH}'; worker-src 'self'; "
    "connect-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
)


class PyodideHold:
    """Keeps the worker from booting: its requests for Pyodide wait until `release()`."""

    def __init__(self, page) -> None:
        self.waiting: list = []
        self.released = False
        page.route(PYODIDE_FILES, self._hold)

    def _hold(self, route) -> None:
        if self.released:
            route.continue_()
        else:
            self.waiting.append(route)

    def release(self) -> None:
        self.released = True
        for route in self.waiting:
            route.continue_()


def warnings(page) -> list[str]:
    return [text for kind, text in page.console_messages_seen if kind == "warning" and "[p13n]" in text]


def errors(page) -> list[str]:
    return [text for kind, text in page.console_messages_seen if kind in ("error", "pageerror")]


def test_a_repeat_visit_paints_the_last_order_before_the_engine_is_ready(page, server):
    open_demo(page, server)
    click_and_wait_until_saved(page, "bottle")
    page.reload()
    open_demo(page, server)  # the engine now ranks with what it learned
    # The snippet remembers the order the engine drew for the slot's next view.
    shown = page.evaluate("JSON.parse(localStorage.getItem('p13n:decisions:demo')).slots.picks.ranking")
    assert sorted(shown) == sorted(PAGE_ORDER)

    hold = PyodideHold(page)
    page.reload(wait_until="domcontentloaded")
    assert page.evaluate("p13n.stats.decisions") == 0  # the engine has not answered
    assert picks_order(page) == shown
    assert page.get_attribute(PICKS, "data-p13n-state") == "cached"
    assert page.is_visible(f'{PICKS} [data-p13n-variant="{shown[0]}"]')  # not hidden: it is final
    hold.release()


def test_anti_flicker_hides_a_new_slot_no_longer_than_its_timeout(page, server):
    page.clock.install(time=1_000_000)
    page.clock.pause_at(2_000_000)  # from here on, timers fire only when the test says so
    hold = PyodideHold(page)
    # No global model, so the early ranker (tests/browser/test_early.py) has nothing to decide with either.
    page.route(f"{server.url}/v1/sites/demo/model", lambda route: route.fulfill(status=503, body="down"))
    page.goto(f"{server.url}/demo/", wait_until="domcontentloaded")
    assert not page.is_visible(f'{PICKS} [data-p13n-variant="tent"]')
    page.clock.run_for(299)  # the default timeout is 300 ms
    assert not page.is_visible(f'{PICKS} [data-p13n-variant="tent"]')
    page.clock.run_for(1)
    assert page.is_visible(f'{PICKS} [data-p13n-variant="tent"]')
    assert picks_order(page) == PAGE_ORDER
    hero = page.eval_on_selector_all('[data-p13n-slot="hero"] > article', "els => els.map(e => !e.hidden)")
    assert hero == [True, False, False]  # data-p13n-show="1" holds before any decision too
    hold.release()


def test_a_slot_added_after_load_is_decided_and_the_api_works(page, server):
    # The engine's decisions, not the orders painted before them (`early`, see test_early.py).
    page.add_init_script(STUB + "; p13n('on', 'decision', d => d.early || (window.decided = window.decided || []).push(d.slot))")
    open_demo(page, server)
    page.evaluate("""async () => {  // an app renders an empty slot, then fills it
        const slot = document.createElement("section");
        slot.dataset.p13nSlot = "late";
        document.body.append(slot);
        await new Promise(resolve => setTimeout(resolve, 50));
        slot.innerHTML = '<p data-p13n-variant="x" data-features="topic:a">x</p>'
                       + '<p data-p13n-variant="y" data-features="topic:b">y</p>';
    }""")
    page.wait_for_selector('[data-p13n-slot="late"][data-p13n-state="personalized"]', timeout=BOOT_TIMEOUT_MS)
    assert sorted(page.evaluate("window.decided")) == ["hero", "late", "picks"]  # listener queued by the stub

    decision = page.evaluate("p13n.decide('banner', [{id: 'a', features: ['topic:x']}, {id: 'b', features: []}])")
    assert sorted(decision["ranking"]) == ["a", "b"] and decision["slot"] == "banner"
    error = page.evaluate("p13n.track('no-such-event', {value: 1}).then(() => null, e => e.message)")
    assert "no-such-event" in error  # forwarded to the engine, which names what it cannot learn from
    assert errors(page) == []


def test_the_snippet_works_under_a_strict_content_security_policy(page, server):
    def with_policy(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.route(f"{server.url}/**", with_policy)
    page.add_init_script("""document.addEventListener("securitypolicyviolation",
        e => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))""")
    page.goto(f"{server.url}/demo/csp.html")
    page.wait_for_selector(f'{PICKS}[data-p13n-state="personalized"]', timeout=BOOT_TIMEOUT_MS)
    assert sorted(picks_order(page)) == sorted(PAGE_ORDER)
    assert errors(page) == []


CORRUPT_STATES = {
    "not JSON": """put(db => db.transaction("engine-state", "readwrite").objectStore("engine-state").put("{oops", "demo"))""",
    "not text": """put(db => db.transaction("engine-state", "readwrite").objectStore("engine-state").put({a: 1}, "demo"))""",
    "wrong shape": """put(db => db.transaction("engine-state", "readwrite").objectStore("engine-state").put('{"model": 7}', "demo"))""",
    "a newer database": """new Promise(done => { const r = indexedDB.open("p13n", 99); r.onsuccess = () => { r.result.close(); done(); }; })""",
}
OPEN_AND_PUT = """const put = write => new Promise((done, fail) => {
    const r = indexedDB.open("p13n", 1);
    r.onupgradeneeded = () => r.result.createObjectStore("engine-state");
    r.onsuccess = () => { const t = write(r.result); t.onsuccess = () => { r.result.close(); done(); }; t.onerror = fail; };
});"""


@pytest.mark.parametrize("corruption", CORRUPT_STATES, ids=list(CORRUPT_STATES))
def test_unreadable_saved_state_is_discarded_with_a_warning(page, server, corruption):
    # Chromium asks for /favicon.ico on a document that names no icon, and logs its 404 as an
    # error whenever it arrives, maybe after the log is cleared below.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(f"{server.url}/demo/shop.css")  # same origin, no snippet: plant the bad state
    page.evaluate(f"async () => {{ {OPEN_AND_PUT} await {CORRUPT_STATES[corruption]}; "
                  "localStorage.setItem('p13n:decisions:demo', '{\"version\": 1, \"slots\": ') }")
    page.console_messages_seen.clear()

    hold = PyodideHold(page)
    page.goto(f"{server.url}/demo/", wait_until="domcontentloaded")
    assert picks_order(page) == PAGE_ORDER  # the default, not the unreadable ranking
    assert any("discarded unreadable saved decisions" in w for w in warnings(page))

    hold.release()
    page.wait_for_selector(f'{PICKS}[data-p13n-state="personalized"]', timeout=BOOT_TIMEOUT_MS)
    assert any("discarded" in w and "state" in w for w in warnings(page))
    assert errors(page) == []

    page.console_messages_seen.clear()
    page.reload()  # the bad state is gone: no warning the second time
    open_demo(page, server)
    assert warnings(page) == [] and errors(page) == []


@pytest.mark.parametrize("served", [404, b"\x07" * 4096], ids=["missing", "garbage"])
def test_a_python_snapshot_that_does_not_restore_means_a_normal_boot_and_a_warning(page, server, served):
    snapshot = json.loads((ROOT / "dist" / "manifest.json").read_text())["entry_points"]["snapshot"]
    if served == 404:
        page.route(f"**/p13n/{snapshot}", lambda route: route.fulfill(status=404, body="not here"))
    else:
        page.route(f"**/p13n/{snapshot}", lambda route: route.fulfill(body=served, content_type="application/octet-stream"))

    open_demo(page, server)
    assert any("snapshot did not restore" in w for w in warnings(page))
    assert [e for e in errors(page) if "404" not in e] == []  # the browser logs the missing file itself


def test_the_readme_and_the_csp_demo_carry_the_stub_and_its_hash():
    readme = (ROOT / "README.md").read_text()
    assert STUB in readme and f"'sha256-{STUB_HASH}'" in readme
    for page in ["index.html", "csp.html"]:
        assert f"<script>{STUB}</script>" in (ROOT / "browser_pkg" / "demo" / page).read_text()


def test_a_browser_that_refuses_storage_still_gets_personalized_slots(page, server):
    """What the snippet keeps in localStorage (stored.js) helps the first paint: without it
    the page is still decided, and the visitor's choices hold until it closes."""
    page.add_init_script("""Object.defineProperty(window, "localStorage", {
        get() { throw new DOMException("The operation is insecure.", "SecurityError"); } })""")
    open_demo(page, server)
    assert any("privacy choices" in w and "insecure" in w for w in warnings(page))
    assert page.evaluate("p13n.consent({personalize: false})")["personalize"] is False
    assert page.locator(PICKS).get_attribute("data-p13n-state") == "off"
    assert errors(page) == []
