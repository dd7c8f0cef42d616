"""How fast the snippet and the engine start in real Chromium, and what a visit downloads.

- `boot_ms`: from navigation start to the page's first decision, on the demo shop served by
  the real sync server from `dist/`: `first_decision` is when a slot first showed an order
  that was decided (what the visitor sees; `first_source` says by what, in most visits:
  `cached`, the order the engine drew for this view on the last one, painted by the snippet;
  `early`, the early ranker's, from the visitor's model or the site's; `personalized`, the
  engine's own), `engine_decision` when the engine's first decision reached the page.
  *Cold* is a fresh browser profile (empty HTTP cache and IndexedDB): a first visit; *warm*
  is the next visit in the same profile; *warm, other items* a visit after that to a copy
  of the shop whose items the visitor never saw (nothing remembered fits them, so the early
  ranker decides from the visitor's own model); *cold, no snapshot* is a first visit whose
  request for build.py's Python snapshot fails, so the worker starts Python afresh:
  `snapshot.cold_speedup` is what the snapshot is worth to the engine, measured in the same
  run. The other figures of a row say where the time goes, each when (the page's
  clock) a step was done: `snippet` personalize.js arrived, `worker` the worker started,
  `snapshot` the snapshot's bytes were in the worker (downloaded, or read back from the
  device's IndexedDB on a warm visit), `state` the visitor's saved state was read, `pyodide`
  Pyodide had restored the snapshot, `python` Python could import `edge`, `engine` the engine
  was ready, `ready` the page heard so.
- `first_visits_within_window`: the share of cold visits whose first slot was decided while
  the anti-flicker window (300 ms by default) still hid it, so the visitor never saw the
  default order replaced.
- `reordered`: the share of visits whose engine decision replaced a decided order already on
  screen (cached or early; the engine keeps it unless it is clearly worse).
- `bytes`: what the visit transferred (compressed bodies and headers, as on the wire; a
  cache hit costs nothing), and how many requests went out; `first_visit_bytes` is the cold
  visit's.
- `latency_us`: `decide` (20 candidates, one shown) and `learn` (a click) inside Pyodide,
  timed by Python's own clock in a cross-origin isolated page (browsers keep timers coarse,
  100 µs, elsewhere; isolated pages get 5 µs), the same code on CPython in this process, and
  `p13n.decide` from the demo page through the worker and back (on the page's 100 µs clock). `pyodide_over_cpython` is the
  ratio for the same work. Goal: a decide p99 under 1 ms in Pyodide.
- `snippet`: personalize.js gzipped and brotli'd, from dist/manifest.json. Goal: ≤ 6 KB gzipped.
- `machine_load`: the 1-minute load average before and after the run, against the machine's
  cores: above them the figures are from a busy machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from bench import Progress
from bench.timing import percentile, summary_us
from sync_server.demo.simulation import Site

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
CHROMIUM = os.environ.get("P13N_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
BOOT_TIMEOUT_MS = 120_000
GOAL_DECIDE_P99_US = 1_000
GOAL_SNIPPET_GZIP = 6_000
GOAL_COLD_MS, GOAL_WARM_MS = 1_000, 300
STUB = ("window.p13n = window.p13n || function () { var a = arguments; "
        "return new Promise(function (y, n) { (p13n.q = p13n.q || []).push([a, y, n]) }) }")  # the README's
# When a slot first showed a decided order (its state: cached, early or personalized), by what;
# whether the anti-flicker window still hid the first decision's slot; when the engine's first
# decision came, and whether an engine decision replaced an order on screen.
FIRST_DECISION = STUB + """; window.painted = {};
new MutationObserver((changes) => changes.forEach(({ target }) => {
    const state = target.dataset.p13nState;
    if (state === "cached" || state === "early") window.painted[target.dataset.p13nSlot] = true;
    if (window.firstDecision || !["cached", "early", "personalized"].includes(state)) return;
    window.firstDecision = performance.now();
    window.firstSource = state;
})).observe(document, { subtree: true, attributeFilter: ["data-p13n-state"] });
p13n('on', 'decision', (d) => {  // told before the slot is revealed, unlike the observer
    window.inWindow ??= document.querySelector(`[data-p13n-slot="${d.slot}"]`)?.style.visibility === "hidden";
    if (d.early) return;
    window.engineDecision ??= performance.now();
    window.reordered ||= window.painted[d.slot] === true && !d.kept;
});"""
ISOLATED = {"cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp"}
# The shop with its items renamed before the snippet runs (deferred scripts run once the document
# is interactive): items the visitor never saw, so nothing remembered fits them.
OTHER_ITEMS = """; document.addEventListener("readystatechange", () => document.readyState === "interactive"
    && document.querySelectorAll("[data-p13n-variant]").forEach((v) => (v.dataset.p13nVariant += "-2")));"""
VISITS = ("cold", "warm", "warm, other items", "cold, no snapshot")
STEPS = ("snippet", "worker", "snapshot", "state", "pyodide", "python", "engine", "ready", "engine_decision", "first_decision")
SLOT = "feed"

# Runs in CPython and in Pyodide alike: the engine deciding and learning on the same visits.
TIMING = """
import gc, time
from edge import Personalizer
from edge.engine import Config

ENGINE = Personalizer(Config(seed=1))

def time_engine(contexts, candidates, first=0):
    engine, decide, learn = ENGINE, [], []
    gc.collect()
    for t, context in enumerate(contexts, first):
        start = time.perf_counter_ns()
        decision = engine.decide("feed", candidates, context, at=t * 30.0, size=1)
        decide.append(time.perf_counter_ns() - start)
        click = {"type": "click", "decision": decision.id, "variant": decision.ranking[0], "at": t * 30.0}
        start = time.perf_counter_ns()
        engine.learn(click)
        learn.append(time.perf_counter_ns() - start)
    return {"decide": decide, "learn": learn}
"""


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    manifest = _manifest()
    load_before = os.getloadavg()[0]
    repeats = 2 if quick else 5
    n = 300 if quick else 3_000
    site = Site.default()
    contexts = [v.context for v in site.visits(n, seed=7)]
    candidates = site.candidates()
    with tempfile.TemporaryDirectory() as tmp, _server(Path(tmp) / "p13n.db") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        visits = {name: [] for name in VISITS}
        for _ in progress(range(repeats), desc="cold and warm visits"):
            for name, visit in _visits(browser, url, manifest["entry_points"]["snapshot"]).items():
                visits[name].append(visit)
        samples = _pyodide_samples(browser, url, manifest, contexts, candidates, progress)
        samples["page round trip decide"] = _round_trips(browser, url, candidates, n // 3, progress)
        browser.close()
    namespace: dict = {}
    exec(TIMING, namespace)
    cpython = namespace["time_engine"](contexts, candidates)
    warmup = n // 10
    latency = {f"pyodide {step}": summary_us(samples[step][warmup:]) for step in ("decide", "learn")}
    latency |= {f"cpython {step}": summary_us(cpython[step][warmup:]) for step in ("decide", "learn")}
    latency["page round trip decide"] = summary_us(samples["page round trip decide"])
    boot = {name: _boot_row(rows) for name, rows in visits.items()}
    snapshot = manifest["files"][manifest["entry_points"]["snapshot"]]
    figures = {
        "boot_ms": boot,
        "first_visits_within_window": sum(v["in_window"] for v in visits["cold"]) / len(visits["cold"]),
        "reordered": {name: sum(v["reordered"] for v in rows) / len(rows) for name, rows in visits.items()},
        "first_visit_bytes": boot["cold"]["bytes"],
        "goals_met": {"cold": boot["cold"]["first_decision"] <= GOAL_COLD_MS,
                      "warm": boot["warm"]["first_decision"] <= GOAL_WARM_MS},
        "snapshot": {
            "bytes": snapshot["size"], "brotli_bytes": snapshot["br"], "gzip_bytes": snapshot["gzip"],
            "cold_speedup": boot["cold, no snapshot"]["engine_decision"] / boot["cold"]["engine_decision"],
            "python_speedup": boot["cold, no snapshot"]["python"] / boot["cold"]["python"],
        },
        "latency_us": latency,
        "pyodide_over_cpython": {
            f"{step} {q}": latency[f"pyodide {step}"][q] / latency[f"cpython {step}"][q]
            for step in ("decide", "learn") for q in ("p50", "p99")
        },
        "decide_p99_under_goal": latency["pyodide decide"]["p99"] < GOAL_DECIDE_P99_US,
        "snippet": {"gzip_bytes": manifest["snippet_gzip_bytes"], "brotli_bytes": manifest["files"]["personalize.js"]["br"],
                    "bytes": manifest["files"]["personalize.js"]["size"]},
        "snippet_under_goal": manifest["snippet_gzip_bytes"] <= GOAL_SNIPPET_GZIP,
        "machine_load": {"cores": os.cpu_count(), "load_1min_before": load_before, "load_1min_after": os.getloadavg()[0],
                         "busy": max(load_before, os.getloadavg()[0]) > (os.cpu_count() or 1)},
    }
    params = {"repeats": repeats, "decisions": n, "warmup": warmup, "candidates": len(candidates),
              "page": "/demo/ (two slots, greedy policy; its items renamed for 'warm, other items'), "
                      "served by python -m sync_server from dist/",
              "chromium": browser_version(), "goal_decide_p99_us": GOAL_DECIDE_P99_US,
              "goal_snippet_gzip_bytes": GOAL_SNIPPET_GZIP, "goal_cold_ms": GOAL_COLD_MS, "goal_warm_ms": GOAL_WARM_MS,
              "figures_are": "medians over the repeats"}
    return figures, params


def browser_version() -> str:
    done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def _manifest() -> dict:
    path = DIST / "manifest.json"
    if not path.exists():
        sys.exit("dist/ is not built: run `python build.py` first")
    return json.loads(path.read_text())


@contextlib.contextmanager
def _server(db: Path) -> Iterator[str]:
    """`python -m sync_server serve` with the demo pages on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "sync_server", "serve", "--port", str(port), "--db", str(db),
               "--log-level", "warning", "--ip-rate", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the sync server did not start")
        # The server builds a version's answer on its first request, then keeps it: as a live one would have it.
        httpx.get(f"{url}/v1/sites/demo/model", headers={"accept": "application/vnd.p13n.model"}).raise_for_status()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


# Boot: a cold visit in a fresh profile and a warm one after it; a cold one without the snapshot.

def _visits(browser, url: str, snapshot: str) -> dict[str, dict]:
    visits = {}
    for name in ("cold", "cold, no snapshot"):
        context = browser.new_context()
        page = context.new_page()
        page.add_init_script(FIRST_DECISION)
        if name == "cold, no snapshot":
            page.route(f"**/p13n/{snapshot}", lambda route: route.fulfill(status=404, body="withheld"))
        try:
            visits[name] = _visit(page, f"{url}/demo/")
            if name == "cold":
                visits["warm"] = _visit(page, f"{url}/demo/")
                other = context.new_page()  # no routes: Playwright turns the HTTP cache off for a page with any
                other.add_init_script(FIRST_DECISION + OTHER_ITEMS)
                visits["warm, other items"] = _visit(other, f"{url}/demo/")
        finally:
            context.close()
    return {name: visits[name] for name in VISITS}


def _visit(page, url: str) -> dict:
    finished = []

    def record(request) -> None:  # Playwright cannot take a builtin such as finished.append
        finished.append(request)

    page.on("requestfinished", record)
    page.goto(url)
    page.wait_for_function("window.engineDecision && p13n.stats.boot && p13n.stats.unsaved === 0", timeout=BOOT_TIMEOUT_MS,
                           polling=20)
    # The engine's decision is told a moment before the observer sees the slot change: when it
    # decided first, its time is the first decision's.
    timings = page.evaluate("""({first_decision: Math.min(window.firstDecision ?? Infinity, window.engineDecision),
        engine_decision: window.engineDecision,
        inWindow: window.inWindow, firstSource: window.firstSource, reordered: Boolean(window.reordered), ...p13n.stats.boot,
        snippet: performance.getEntriesByType("resource").find((e) => e.name.includes("/personalize.js")).responseEnd})""")
    page.remove_listener("requestfinished", record)
    sizes = [request.sizes() for request in finished]
    return {**{step: timings.get(step) for step in STEPS}, "in_window": timings["inWindow"],
            "source": timings["firstSource"], "reordered": timings["reordered"],
            "bytes": sum(s["responseBodySize"] + s["responseHeadersSize"] + s["requestHeadersSize"] for s in sizes),
            "requests": len(sizes)}


def _boot_row(visits: list[dict]) -> dict:
    """Medians, and the range of the first decisions; a step a visit did not take (no
    snapshot: no `snapshot`) is None."""
    row = {}
    for key in (*STEPS, "bytes", "requests"):
        values = [v[key] for v in visits if v[key] is not None]
        row[key] = percentile(values, 50) if values else None
    row["first_decision_range"] = [min(v["first_decision"] for v in visits), max(v["first_decision"] for v in visits)]
    sources = [v["source"] for v in visits]
    row["first_source"] = max(set(sources), key=sources.count)
    row["visits"] = [[v["source"], round(v["first_decision"])] for v in visits]  # each visit's, in order
    return row


# Latency: the engine inside Pyodide with a precise clock, and the page's view through the worker.

def _pyodide_samples(browser, url: str, manifest: dict, contexts: list, candidates: list, progress: Progress) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.route(f"{url}/bench.html", lambda route: route.fulfill(body="<!doctype html><title>bench</title>",
                                                                 content_type="text/html", headers=ISOLATED))
    page.goto(f"{url}/bench.html")
    if not page.evaluate("crossOriginIsolated"):
        raise RuntimeError("the timing page is not cross-origin isolated: its clock would be too coarse")
    names = manifest["entry_points"]
    page.evaluate("""async ({pyodide, edge}) => {
        const { loadPyodide } = await import(`/p13n/${pyodide}/pyodide.mjs`);
        window.py = await loadPyodide({ indexURL: `/p13n/${pyodide}/` });
        const archive = await (await fetch(`/p13n/${edge}`)).arrayBuffer();
        py.unpackArchive(archive, "zip", { extractDir: "/home/pyodide/p13n" });
        py.runPython("import sys; sys.path.insert(0, '/home/pyodide/p13n')");
    }""", {"pyodide": names["pyodide"], "edge": names["edge"]})
    page.evaluate("code => py.runPython(code)", TIMING)
    samples = {"decide": [], "learn": []}
    batch = 100
    for start in progress(range(0, len(contexts), batch), desc="decisions in Pyodide"):
        result = page.evaluate("""([contexts, candidates, first]) => {
            py.globals.set("args", py.toPy([contexts, candidates, first]));
            return JSON.parse(py.runPython("import json; json.dumps(time_engine(*args))"));
        }""", [contexts[start:start + batch], candidates, start])
        for step in samples:
            samples[step] += result[step]
    context.close()
    return samples


def _round_trips(browser, url: str, candidates: list, n: int, progress: Progress) -> list[int]:
    """Nanoseconds from `p13n.decide` on the page to its answer from the worker, on the page's
    clock (100 µs steps: the demo page is not cross-origin isolated, and its worker would need
    the same headers to be)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/demo/")
    page.wait_for_function("p13n.stats.boot", timeout=BOOT_TIMEOUT_MS)
    samples: list[int] = []
    for _ in progress(range(0, n, 50), desc="decisions from the page"):
        samples += page.evaluate("""async ([candidates, n]) => {
            const times = [];
            for (let i = 0; i < n; i++) {
                const start = performance.now();
                await p13n.decide("feed", candidates, 1);
                times.push(Math.round((performance.now() - start) * 1e6));
            }
            return times;
        }""", [candidates, 50])
    context.close()
    return samples
