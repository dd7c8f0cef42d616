// personalize.js: <script src="/p13n/personalize.js" data-site="KEY" data-sync="https://…" defer blocking="render">
// Paints each slot's last ranking at once (from localStorage), starts the engine's worker and,
// beside it, the early ranker (src/early/), which decides the other slots in JavaScript while
// the anti-flicker window hides them, ranks the page's slots in the worker in one decision
// (keeping what was painted unless it is clearly worse; slots added later join it), reports clicks
// and conversions back to it, and gives the visitor the preferences widget. Calls made
// before it loads, through the stub
// `window.p13n = window.p13n || function () { var a = arguments; return new Promise(function (y, n) { (p13n.q = p13n.q || []).push([a, y, n]) }) }`,
// are replayed once it is ready, and the stub's promise settles with the call's result.

import { hideUntilDecided } from "./anti_flicker.js";
import { clickQueue } from "./click_queue.js";
import { visitContext } from "./context.js";
import { decisionCache } from "./decision_cache.js";
import { lazy } from "./lazy.js";
import { guarded, logError, logWarning } from "./log.js";
import {
  SLOT, VARIANT, applyRanking, candidatesOf, defaultRanking, duplicateIds, meaningfulClick, objectiveOf, showInPlace, sizeOf,
  watchSlots,
} from "./slots.js";
import { visitorChoices } from "./visitor.js";
import { startWorker } from "./worker_client.js";

const script = document.currentScript; // only set while this file first runs
const asset = (name) => new URL(name, script.src); // a file of the bundle, beside this one
const DEFAULT_ANTI_FLICKER_MS = 300;
const MAX_ANTI_FLICKER_MS = 1000; // never a blank slot for seconds
const GOAL = /^[\w-]{1,64}$/; // as edge/objectives.py reads it
const listeners = new Map();
// `boot`, once the engine is up: when (ms, the page's clock) the worker started, its snapshot
// arrived, Pyodide restored it, Python had `edge`, the saved state was read, the engine was
// ready, and the page heard of it.
const stats = { decisions: 0, learned: 0, unsaved: 0, boot: null };

function antiFlickerMs(value) {
  if (value === undefined) return DEFAULT_ANTI_FLICKER_MS;
  const ms = Number(value);
  if (value.trim() !== "" && ms >= 0 && ms <= MAX_ANTI_FLICKER_MS) return ms;
  logError(`data-anti-flicker-ms must be 0–${MAX_ANTI_FLICKER_MS} milliseconds`, value);
  return DEFAULT_ANTI_FLICKER_MS;
}

function readConfig({ dataset }) {
  return {
    site: dataset.site ?? "default",
    sync: dataset.sync ? new URL(dataset.sync, location.href).href : null,
    pageType: dataset.pageType,
    antiFlickerMs: antiFlickerMs(dataset.antiFlickerMs),
    policy: dataset.policy ?? null,
    // The engine's pseudonymous id for a visitor it does not know yet, drawn here so that the
    // early ranker and the engine put them in the same holdout group; a known visitor keeps
    // theirs. Pages that are not secure contexts have neither randomUUID nor the early
    // ranker's SHA-256: the engine draws the id.
    visitor: crypto.randomUUID?.(),
    consentVersion: dataset.consentVersion ?? "1",
    interestKinds: dataset.interests ?? "topic", // words, for the preferences panel
    button: dataset.preferencesButton !== "off",
  };
}

function emit(name, detail) {
  for (const fn of listeners.get(name) ?? []) guarded(`'${name}' listener`, fn)(detail);
}

function onWorkerEvent(data) {
  if (data.event === "warning") return logWarning(data.message);
  if (data.event === "saved" && !(stats.unsaved = data.unsaved)) clicks?.saved();
  emit(data.event, data);
}

// The page's own order, as a decision: what a slot shows with personalization off.
function defaultDecision(slot, candidates, size) {
  const ranking = candidates.map((c) => c.id).slice(0, size);
  return { id: null, slot, ranking, scores: {}, reasons: {}, why: {}, arm: "off" };
}

let clicks = null; // the click queue, once started

function start() {
  const config = readConfig(script);
  const choices = visitorChoices(config.site, config.consentVersion);
  const cache = decisionCache(config.site);
  const context = visitContext(config.pageType);
  const slots = new Set(); // every slot seen, to redo when the visitor changes their mind
  const views = new Map(); // slot -> what it shows now, {candidates, size, objective, ranking, context}, for its clicks
  const decisions = new Map(); // slot name -> its latest decision, for "why am I seeing this"
  let engine = null; // {ask, booted}, started by the first call that needs it
  const personalizing = () => choices.purposes().personalize;

  function worker() {
    if (engine) return engine;
    const ask = startWorker(asset(P13N_WORKER), onWorkerEvent);
    const booted = ask("boot", {
      origin: performance.timeOrigin,
      config, // the worker reads its site, sync, policy and visitor
      visitor: choices.forWorker(),
    });
    booted.then(
      ({ timings }) => (stats.boot = { ...timings, ready: performance.now() }),
      (error) => logError("the engine did not start; slots keep their default", error),
    );
    engine = { ask: async (type, fields) => (await booted, ask(type, fields)), booted };
    return engine;
  }

  const ask = (type, fields) => worker().ask(type, fields);

  // Content the site renders itself (`p13n.decide`).
  async function decide(slot, candidates, size) {
    if (!personalizing()) return defaultDecision(slot, candidates, size);
    return ask("decide", { slot, candidates, size, context, at: Date.now() / 1000 }); // the engine reads no clock
  }

  function announce(decision) {
    stats.decisions += 1;
    decisions.set(decision.slot, decision);
    widget.decided();
    emit("decision", decision);
    return decision;
  }

  async function track(type, props = {}) {
    if (!personalizing()) return { learned: false };
    if (type === "convert") return convert(props);
    const reply = await ask("track", { event: { at: Date.now() / 1000, ...props, type } });
    stats.learned += 1;
    return reply;
  }

  // Kept with the clicks, before a navigation can lose it; a promise of {learned, decisions}.
  async function convert({ goal, value }) {
    if (!GOAL.test(goal) || !(value === undefined || value >= 0)) throw new TypeError(`bad conversion: ${goal}, ${value}`);
    return clicks.add({ type: "convert", goal, value }); // an undefined value is not stored
  }

  function showDefault(slot, state) {
    applyRanking(slot, defaultRanking(slot));
    delete slot.dataset.p13nDecision;
    if (state) slot.dataset.p13nState = state;
    else delete slot.dataset.p13nState;
  }

  // Personalization off, or the visitor forgotten: the page's own order, nothing remembered.
  function showDefaults(state) {
    cache.clear();
    clicks.clear();
    views.clear();
    decisions.clear();
    slots.forEach((slot) => showDefault(slot, state));
  }

  // The slot's first paint on this page view: the order remembered from the last one, kept
  // until the engine decides (and then too, unless it has a strong reason), or the default,
  // hidden until then (anti-flicker). Neither shows an item that `onPage`, what the page's
  // other slots paint, has. A slot decided again (new interests) just takes the new order.
  function paint(slot, spec, onPage) {
    const cached = cache.get(spec.slot, spec.candidates.map((c) => c.id), spec.size);
    const fits = cached && !cached.some((id) => onPage.has(id));
    const ranking = fits ? cached : defaultRanking(slot, onPage);
    applyRanking(slot, ranking); // before the first paint
    views.set(slot, { ...spec, ranking, context });
    if (!fits) return { reveal: hideUntilDecided(slot, config.antiFlickerMs) };
    slot.dataset.p13nState = "cached";
    return { keep: cached };
  }

  // What the engine is asked for a slot, or undefined for one that keeps the page's content.
  function slotRequest(slot) {
    const name = slot.getAttribute(SLOT);
    const dupes = duplicateIds(slot);
    if (!dupes.length) return { slot: name, candidates: candidatesOf(slot), size: sizeOf(slot), objective: objectiveOf(slot) };
    showInPlace(slot);
    logWarning(`slot '${name}': variant ids must be unique ('${dupes[0]}' repeats); it keeps the page's content`);
  }

  // What the page view's other slots show (a single-page app's views come and go).
  const shownBesides = (batch) =>
    [...slots].filter((slot) => slot.isConnected && !batch.includes(slot)).flatMap((slot) => views.get(slot)?.ranking ?? []);

  // Decide `batch`, slots of one page view, in one decision of the engine: no item shows in
  // two slots, nor in one the page view shows already (a late slot joins the page).
  async function personalize(batch) {
    const fresh = batch.filter((slot) => !slots.has(slot));
    batch.forEach((slot) => slots.add(slot));
    if (!personalizing()) return batch.forEach((slot) => showDefault(slot, "off"));
    const shown = shownBesides(batch);
    const onPage = new Set(shown);
    const asked = [];
    for (const slot of batch) {
      const spec = guarded(`slot '${slot.getAttribute(SLOT)}' keeps its default`, slotRequest)(slot);
      if (!spec) continue;
      const painted = fresh.includes(slot) ? paint(slot, spec, onPage) : {};
      views.get(slot)?.ranking.forEach((id) => onPage.add(id));
      asked.push({ slot, spec, ...painted });
    }
    try {
      if (!asked.length) return;
      await early().then((paintEarly) => paintEarly(asked, shown)).catch(logWarning); // failing, slots wait for the engine
      const decisions = await decidePage(asked.map(({ spec, keep }) => ({ ...spec, keep })), shown);
      decisions.forEach((decision, i) => show(asked[i], decision));
    } finally {
      asked.forEach(({ reveal }) => reveal?.());
    }
  }

  async function decidePage(specs, shown) {
    if (!personalizing()) return specs.map((s) => defaultDecision(s.slot, s.candidates, s.size));
    const reply = await ask("decide_page", { slots: specs, shown, context, at: Date.now() / 1000 }); // the engine reads no clock
    return reply.decisions;
  }

  function show({ slot, spec }, decision) {
    clicks.settle(spec.slot, decision);
    if (!personalizing()) return; // turned off while the engine was deciding
    views.set(slot, { ...spec, ranking: decision.ranking, context });
    applyRanking(slot, decision.ranking);
    slot.dataset.p13nDecision = decision.id;
    slot.dataset.p13nState = "personalized";
    cache.put(spec.slot, spec.candidates.map((c) => c.id), spec.size, decision.next ?? decision.ranking); // the next view's order
    announce(decision);
  }

  const personalizeSlots = guarded("deciding the page's slots; they keep their default", personalize);
  const redecideAll = () => personalizeSlots([...slots].filter((slot) => slot.isConnected));

  // Kept synchronously, before a link can take the visitor away (see click_queue.js).
  function trackClick(event) {
    const variant = event.target.closest?.(`[${VARIANT}]`);
    const slot = variant?.closest(`[${SLOT}]`);
    if (!views.has(slot) || !personalizing() || !meaningfulClick(event.target, variant)) return;
    clicks.add({ slot: slot.getAttribute(SLOT), variant: variant.getAttribute(VARIANT), decision: slot.dataset.p13nDecision, shown: views.get(slot) });
  }

  // The engine learned queued clicks and conversions: the next view of each slot clicked shows it.
  function learnedOutcomes(reply, sent) {
    for (const [slot, view] of views) {
      const next = reply.next[slot.getAttribute(SLOT)];
      if (next) cache.put(slot.getAttribute(SLOT), view.candidates.map((c) => c.id), view.size, next);
    }
    for (const outcome of sent.filter((o) => reply.learned.includes(o.id))) {
      stats.learned += 1;
      emit("learn", outcome.goal ? { goal: outcome.goal, decisions: reply.decisions[outcome.id] }
        : { slot: outcome.slot, decision: outcome.decision ?? null });
    }
  }

  // The visitor's requests (requests.js), a module loaded when the first one is made.
  const page = { config, choices, cache, ask, emit, showDefaults, redecideAll, personalizing, engine: () => engine, context, views };
  const requests = lazy(asset(P13N_REQUESTS), (module) => module.visitorRequests(page));
  // The early ranker (src/early/), loaded once, beside the worker: it paints the slots the
  // anti-flicker window still hides (see paintEarly there).
  const early = lazy(asset(P13N_EARLY), (module) => module.earlyPainter(page));
  const request = (name) => async (...args) => (await requests())[name](...args);
  // p13n.consent() reads the visitor's choices; with changes, it is a request.
  const requested = {
    consent: async (changes) => (changes === undefined ? choices.purposes() : request("consent")(changes)),
    ...Object.fromEntries(["interests", "variety", "exportData", "forget", "syncCode", "useSyncCode"].map((name) => [name, request(name)])),
  };

  const widget = lazyWidget({
    ...requested,
    button: config.button,
    purposes: () => choices.purposes(),
    outdated: () => choices.outdated(),
    interestKinds: config.interestKinds,
    slots: () => [...slots],
    decisions,
  });

  const api = {
    ...requested,
    stats,
    decide: async (slot, candidates, size) => announce(await decide(slot, candidates, size)),
    track,
    // `fn` once the snippet runs (the engine may still be booting: calls wait for it).
    ready: async (fn) => fn?.(window.p13n),
    openPreferences: widget.open,
    strings: widget.setStrings,
    on(name, fn) {
      if (typeof fn !== "function") throw new TypeError(`p13n.on('${name}', fn) needs a function, got ${typeof fn}`);
      listeners.set(name, [...(listeners.get(name) ?? []), fn]);
      return () => listeners.set(name, listeners.get(name).filter((f) => f !== fn));
    },
  };
  const p13n = (method, ...args) => {
    if (typeof api[method] !== "function") return logError("unknown call", method);
    return api[method](...args);
  };
  clicks = clickQueue(config.site, ask, learnedOutcomes); // before the queued calls: a conversion goes in it
  const queued = window.p13n?.q ?? [];
  window.p13n = Object.assign(p13n, api);
  for (const call of queued) replay(p13n, call);

  if (personalizing()) {
    early().catch(() => {}); // the slots' first paint does not wait for Python (a failure is told below)
    worker(); // beside it: booting is the long part
    clicks.flush(); // clicks a page left with: learned before this page's slots are decided
  }
  if (choices.mustRecord()) guarded("recording consent", request("recordChoices"))(); // a change the server missed last time
  document.addEventListener("click", guarded("click tracking", trackClick), true);
  const personalizeAll = guarded("finding slots; the page keeps its default content", () => {
    watchSlots(personalizeSlots);
    widget.mount();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", personalizeAll);
  else personalizeAll();
}

// The preferences widget (preferences/widget.js), a module loaded once the slots are found; a
// page that hides the button loads it only to open the panel (or when a new policy version
// must ask the visitor). `host` is what the snippet lends it.
function lazyWidget(host) {
  let widget = null; // once loaded
  const load = lazy(asset(P13N_WIDGET), (module) => (widget = module.preferencesWidget(host, asset(P13N_PREFERENCES))));
  return {
    mount: () => (host.button || host.outdated()) && load().then((w) => w.mount(), (error) => logError("the preferences widget could not load", error)),
    open: async () => (await load()).open(),
    decided: () => widget?.decided(),
    setStrings: async (strings) => (await load()).setStrings(strings),
  };
}

// A call the stub queued: [arguments, resolve, reject], or bare arguments from an older stub.
function replay(p13n, call) {
  const [args, resolve, reject] = Array.isArray(call) ? call : [call];
  if (!resolve) return guarded(`queued call p13n('${args[0]}')`, p13n)(...args);
  new Promise((settle) => settle(p13n(...args))).then(resolve, reject);
}

guarded("start-up; the page keeps its default content", start)();
