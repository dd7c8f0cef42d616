"""Whole pages and outcomes beyond clicks: a page's slots are decided together and never show
one item twice (a slot a single-page app adds late included), and a conversion on a later page
is learned against the decision that led to it. Real Chromium, real server."""

from __future__ import annotations

from tests.browser.test_snippet import PYODIDE_FILES, STUB, PyodideHold, errors, warnings
from tests.browser.test_visitors import ALL_DECIDED, RECORD_FIRST_PAINT, SHOWN, html, open_decided, serve
from tests.browser.test_walking_skeleton import saved_state
from tests.chromium import BOOT_TIMEOUT_MS

ITEMS = "".join(f'<article data-p13n-variant="{item}" data-features="topic:{topic}"><a href="/product/{item}">{item}</a></article>'
                for item, topic in [("tent", "camping"), ("stove", "camping"), ("boots", "hiking"),
                                    ("poles", "hiking"), ("bike", "cycling"), ("lamp", "cycling")])
SHOP = html(f"""
  <section data-p13n-slot="hero" data-p13n-show="1">{ITEMS}</section>
  <section data-p13n-slot="deals" data-p13n-show="2" data-p13n-objective="convert:order">{ITEMS}</section>
  <section data-p13n-slot="more" data-p13n-show="2">{ITEMS}</section>""")
PRODUCT = html("<p>A product page: no slots.</p>")
THANKS = html("<p>Thank you for your order.</p>")
# The conversion is told from an inline script, through the stub, before the snippet has loaded.
CHECKOUT = html("""<p>Order placed.</p><script>p13n("track", "convert", {goal: "order", value: 42.5})</script>""")
ADD_LATE_SLOT = f"""() => {{
    const slot = document.createElement("section");
    slot.dataset.p13nSlot = "late";
    slot.dataset.p13nShow = "3";
    slot.innerHTML = `{ITEMS}`;
    document.querySelector("main, body").append(slot);
}}"""


def test_a_page_never_shows_one_item_twice_across_its_slots_nor_in_a_late_one(page, server):
    serve(page, server, {"/shop/": SHOP, "/product/**": PRODUCT})
    page.add_init_script(RECORD_FIRST_PAINT)
    open_decided(page, f"{server.url}/shop/")
    for visit in range(8):
        first, decided = page.evaluate("window.firstPaint"), page.evaluate(SHOWN)
        for shown in (first, decided):
            items = [item for slot in shown for item in slot]
            assert len(items) == len(set(items)), shown
        assert [len(slot) for slot in decided] == [1, 2, 2]
        page.evaluate(ADD_LATE_SLOT)  # a single-page app renders a view with another slot
        page.wait_for_function(ALL_DECIDED, timeout=BOOT_TIMEOUT_MS)
        with_late = page.evaluate(SHOWN)
        items = [item for slot in with_late for item in slot]
        assert with_late[:3] == decided and len(items) == len(set(items)) == 6, with_late
        if visit % 2:  # clicks teach the engine, so the remembered orders of the next visit change
            with page.expect_navigation():
                page.click('[data-p13n-slot="more"] [data-p13n-variant]:not([hidden]) a')
        open_decided(page, f"{server.url}/shop/")
    assert errors(page) == [] and warnings(page) == []


def test_a_conversion_on_a_later_page_is_learned_against_the_decision_that_led_to_it(page, server):
    serve(page, server, {"/shop/": SHOP, "/product/**": PRODUCT, "/checkout/": CHECKOUT, "/thanks/": THANKS})
    open_decided(page, f"{server.url}/shop/")
    page.wait_for_function("p13n.stats.unsaved === 0")
    deals = '[data-p13n-slot="deals"]'
    decision = page.get_attribute(deals, "data-p13n-decision")
    with page.expect_navigation():
        page.click(f"{deals} [data-p13n-variant]:not([hidden]) a")
    page.wait_for_function("localStorage.getItem('p13n:clicks:demo') === '[]'", timeout=BOOT_TIMEOUT_MS)
    assert [a["decision"] for a in saved_state(page)["awaiting"]] == [decision]  # the click waits for an order

    PyodideHold(page)  # the order is placed before the engine runs, and the visitor leaves at once
    page.goto(f"{server.url}/checkout/", wait_until="domcontentloaded")
    queued = page.evaluate("JSON.parse(localStorage.getItem('p13n:clicks:demo'))")
    assert [(q["type"], q["goal"], q["value"]) for q in queued] == [("convert", "order", 42.5)]
    page.goto(f"{server.url}/product/tent", wait_until="domcontentloaded")
    page.unroute(PYODIDE_FILES)

    page.add_init_script(STUB + "; p13n('on', 'learn', (event) => (window.learned = window.learned || []).push(event))")
    page.goto(f"{server.url}/thanks/")
    page.wait_for_function("(window.learned || []).some(e => e.goal === 'order')", timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.learned") == [{"goal": "order", "decisions": [decision]}]
    page.wait_for_function("localStorage.getItem('p13n:clicks:demo') === '[]'", timeout=BOOT_TIMEOUT_MS)
    assert saved_state(page)["awaiting"] == []
    again = page.evaluate("p13n.track('convert', {goal: 'order'})")  # no click awaits it any more
    assert again == {"learned": True, "decisions": []}
    refused = page.evaluate("p13n.track('convert', {goal: 'an order'}).then(() => null, e => e.message)")
    assert refused == "bad conversion: an order, undefined"  # a goal is one word: nothing is kept
    assert errors(page) == []
