"""The early ranker: the slots' first paint decided in JavaScript while the worker boots Python.
It ranks as the engine does (the same visits through both), decides a first visit from the
site's global model and a returning one from the visitor's own model within the anti-flicker
window, and clicks on its orders are learned. Real Chromium, the real server, real Pyodide."""

from __future__ import annotations

import json
import random
import time

import pytest

from edge import model_form
from edge.engine import Config, Personalizer
from tests.browser.test_snippet import STUB, PyodideHold, errors
from tests.browser.test_visitors import STORY, html, serve
from tests.browser.test_walking_skeleton import saved_state
from tests.chromium import BOOT_TIMEOUT_MS, watched
from tests.conftest import ROOT

HASH_BITS = 10  # few buckets: crosses collide, as they do on a real site
TOPICS = [f"topic:{t}" for t in ("news", "sport", "food", "travel", "tech", "money")] + ["price:low", "price:high"]
# The first decision of each slot, whether early, and whether its slot was still hidden then.
RECORD_DECISIONS = STUB + """; window.decided = []; p13n('on', 'decision', (d) => window.decided.push({
    slot: d.slot, ranking: d.ranking, early: d.early ?? null, arm: d.arm, kept: d.kept ?? null,
    hidden: document.querySelector(`[data-p13n-slot="${d.slot}"]`).style.visibility === "hidden"}))"""
SHOP = html("""
  <section data-p13n-slot="shelf">
    <article data-p13n-variant="atlas" data-features="topic:travel price:high"><a href="/story/atlas">Atlas</a></article>
    <article data-p13n-variant="stove" data-features="topic:food price:low"><a href="/story/stove">Stove</a></article>
    <article data-p13n-variant="phone" data-features="topic:tech price:high"><a href="/story/phone">Phone</a></article>
    <article data-p13n-variant="wallet" data-features="topic:money price:low"><a href="/story/wallet">Wallet</a></article>
  </section>""")
# Other items of the same kinds: nothing remembered fits them, so a returning visitor's order
# comes from their own model.
OTHER_SHOP = SHOP.replace('"atlas"', '"guide"').replace('"stove"', '"kettle"').replace('"phone"', '"laptop"') \
    .replace('"wallet"', '"purse"')
DECIDED = "document.querySelector('[data-p13n-slot=\"shelf\"]').dataset.p13nState === 'personalized'"
LEARNED = "localStorage.getItem('p13n:clicks:demo') === '[]' && window.p13n?.stats?.unsaved === 0"
SHOWN = "[...document.querySelectorAll('[data-p13n-slot=\"shelf\"] [data-p13n-variant]')].filter(v => !v.hidden).map(v => v.dataset.p13nVariant)"


def open_early(page, url: str) -> tuple[dict, PyodideHold]:
    """Open `url` with the engine held back and the page's timers stopped, so that the slot stays
    hidden until the early ranker answers, however long that takes on this machine (the bench
    measures how long); answer the first decision and the hold."""
    now = int(time.time() * 1000)
    page.clock.install(time=now)
    page.clock.pause_at(now + 1000)
    hold = PyodideHold(page)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("window.decided.length === 1", timeout=BOOT_TIMEOUT_MS)
    page.clock.resume()
    return page.evaluate("window.decided[0]"), hold


def early_module() -> str:
    return json.loads((ROOT / "dist" / "manifest.json").read_text())["entry_points"]["early"]


def a_model(seed: int, holdout: float = 0.0, noise: float = 0.0) -> bytes:
    """A global model in the compact form with a weight in every bucket, some precisions, and
    as much noise stated as asked (a device shrinks noisy weights, see `edge.federated`)."""
    rng = random.Random(seed)
    buckets = range(1 << HASH_BITS)
    precisions = sorted([b, rng.uniform(1.0, 60.0)] for b in rng.sample(buckets, 300))
    header = {"version": 1, "intercept": -1.0, "hash_bits": HASH_BITS, "precisions": precisions,
              "noise_variance": noise, "settings": {"rules": {"holdout": holdout}}}
    return model_form.encode(header, list(buckets), [rng.gauss(0.0, 0.5) for _ in buckets])


def serve_model(page, server, body: bytes) -> None:
    page.route(f"{server.url}/v1/sites/demo/model", lambda route: route.fulfill(
        body=body, headers={"content-type": model_form.MEDIA_TYPE}))


def a_visit(rng: random.Random) -> dict:
    context = {"device": rng.choice(["mobile", "tablet", "desktop"]), "hour": rng.randrange(24),
               "weekday": rng.randrange(7), "referrer": rng.choice(["direct", "search", "social", "internal"])}
    if rng.random() < 0.5:
        context["page"] = rng.choice(["home", "article"])
    candidates = [{"id": f"item{i}", "features": rng.sample(TOPICS, rng.randrange(3))} for i in range(8)]
    rng.shuffle(candidates)
    slots = [{"slot": "lead", "candidates": candidates[:5], "size": 1},
             {"slot": "more", "candidates": candidates[2:], "size": rng.choice([2, 3, None]),
              "objective": rng.choice(["click", "convert:order"])}]
    return {"context": context, "slots": slots, "shown": rng.sample([c["id"] for c in candidates], rng.randrange(2))}


@pytest.mark.parametrize(("policy", "noise"), [(None, 0.0), ("greedy", 0.0), (None, 0.1)])  # None: the default, LinUCB
def test_the_early_ranker_ranks_and_scores_as_the_engine(page, server, policy, noise):
    body = a_model(seed=3, noise=noise)
    rng = random.Random(11)
    visits = [a_visit(rng) for _ in range(60)]
    serve_model(page, server, body)
    page.route(f"{server.url}/blank.html", lambda route: route.fulfill(body="<title>blank</title>", content_type="text/html"))
    page.goto(f"{server.url}/blank.html")
    early = page.evaluate("""async ([module, policy, visits]) => {
        const { earlyRanker } = await import(`/p13n/${module}`);
        const ranker = await earlyRanker({ site: "demo", sync: location.origin + "/", policy });
        return { source: ranker.source, decided: visits.map((v) => ranker.rank(v.slots, v.context, v.shown)) };
    }""", [early_module(), policy, visits])
    assert early["source"] == "global"

    config = Config(hash_bits=HASH_BITS, **({"policy": policy} if policy else {}))
    for visit, decided in zip(visits, early["decided"]):
        engine = Personalizer(config)  # a new visitor each time: a decision closes the last one, which teaches the engine
        engine.merge_global(model_form.decode(body))
        expected = engine.decide_page(visit["slots"], visit["context"], at=1.7e9, shown=visit["shown"])
        assert [d["ranking"] for d in decided] == [d.ranking for d in expected]
        for mine, theirs in zip(decided, expected):
            assert mine["scores"] == pytest.approx(theirs.scores, abs=1e-12)
    assert errors(page) == []


def test_a_first_visit_is_decided_from_the_global_model_within_the_window(page, server):
    serve_model(page, server, a_model(seed=4))
    serve(page, server, {"/shop/": SHOP})
    page.add_init_script(RECORD_DECISIONS)
    first, hold = open_early(page, f"{server.url}/shop/")  # the engine cannot decide: the visitor sees the early order
    assert first["early"] == "global" and first["hidden"]  # decided while the window hid the slot
    assert page.evaluate(SHOWN) == first["ranking"]
    assert page.get_attribute('[data-p13n-slot="shelf"]', "data-p13n-state") == "early"

    hold.release()
    page.wait_for_function(DECIDED, timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate(SHOWN) == first["ranking"]  # the engine, deciding alike, keeps it
    assert errors(page) == []


def test_a_first_visitor_is_in_the_same_holdout_group_early_and_in_the_engine(browser, server):
    body = a_model(seed=5, holdout=0.5)
    arms = []
    for _ in range(3):
        context = browser.new_context()
        page = watched(context.new_page())
        serve_model(page, server, body)
        serve(page, server, {"/shop/": SHOP})
        page.add_init_script(RECORD_DECISIONS)
        early, hold = open_early(page, f"{server.url}/shop/")
        hold.release()
        page.wait_for_function(DECIDED, timeout=BOOT_TIMEOUT_MS)
        engine = page.evaluate("window.decided.at(-1)")
        assert early["early"] == "global" and engine["early"] is None
        assert early["arm"] == engine["arm"] and engine["kept"]  # the page drew the engine's id
        arms.append(engine["arm"])
        assert errors(page) == []
        context.close()
    print(f"groups of three first visitors, half held out: {arms}")


def test_a_returning_visitor_is_decided_from_their_own_model_and_its_clicks_are_learned(page, server):
    serve(page, server, {"/shop/": SHOP, "/other/": OTHER_SHOP, "/story/**": STORY})
    page.add_init_script(RECORD_DECISIONS)
    page.goto(f"{server.url}/shop/")
    page.wait_for_function(DECIDED, timeout=BOOT_TIMEOUT_MS)
    for _ in range(3):  # the visitor likes cheap things
        page.goto(f"{server.url}/shop/")
        page.wait_for_function(DECIDED, timeout=BOOT_TIMEOUT_MS)
        page.click('[data-p13n-slot="shelf"] [data-p13n-variant="stove"] a')
        page.wait_for_function(LEARNED, timeout=BOOT_TIMEOUT_MS)

    first, hold = open_early(page, f"{server.url}/other/")  # items never shown: nothing remembered fits them
    assert first["early"] == "local" and first["hidden"]
    assert first["ranking"][0] in ("kettle", "purse")  # what the visitor's own model learned: price:low
    with page.expect_navigation():  # a click on the early order, before the engine has decided
        page.click(f'[data-p13n-slot="shelf"] [data-p13n-variant="{first["ranking"][0]}"] a')
    hold.release()
    page.goto(f"{server.url}/other/")
    page.wait_for_function(f"{DECIDED} && {LEARNED}", timeout=BOOT_TIMEOUT_MS)
    counters = {c["variant"]: c["clicks"] for c in saved_state(page)["counters"] if c["slot"] == "shelf"}
    assert counters[first["ranking"][0]] == 1  # learned against the decision that kept the early order
    assert errors(page) == []


# The global model's requests this realm made and the bytes each one took off the network: 0 when
# the HTTP cache answered it (Resource Timing's transferSize).
MODEL_TRANSFERS = """performance.getEntriesByType("resource")
    .filter((e) => new URL(e.name).pathname.endsWith("/model")).map((e) => e.transferSize)"""


def test_a_first_visit_downloads_the_global_model_once(page, server):
    """The early ranker and the booting worker both need the site's model on a first visit: the
    one that asks second takes the copy the other's request left in the HTTP cache (mostly the
    worker, which asks as Pyodide boots). No route here: Playwright's routing turns the HTTP
    cache off."""
    page.goto(f"{server.url}/demo/")
    page.wait_for_function("window.p13n?.stats?.unsaved === 0", timeout=BOOT_TIMEOUT_MS)  # the worker booted
    worker, = page.workers
    deadline = time.monotonic() + BOOT_TIMEOUT_MS / 1000
    while not (taken := worker.evaluate(MODEL_TRANSFERS)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker asks for the model as it boots, and may have answered the page first
    early, = page.evaluate(MODEL_TRANSFERS)
    assert len(taken) == 1 and sorted([early, *taken])[0] == 0 < max(early, *taken)  # downloaded once, by either
    assert errors(page) == []
