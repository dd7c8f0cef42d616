// personalize.js: <script src="/p13n/personalize.js" data-site="KEY" data-sync="https://…" defer blocking="render">
// Paints each slot's last ranking at once (from localStorage), starts the engine's worker,
// ranks every slot in it (slots added later too), reports clicks back to it, and gives the
// visitor the preferences widget. Calls made before it loads, through the stub
// `window.p13n = window.p13n || function () { var a = arguments; return new Promise(function (y, n) { (p13n.q = p13n.q || []).push([a, y, n]) }) }`,
// are replayed once it is ready, and the stub's promise settles with the call's result.

import { hideUntilDecided } from "./anti_flicker.js";
import { clickQueue } from "./click_queue.js";
import { visitContext } from "./context.js";
import { decisionCache } from "./decision_cache.js";
import { lazy } from "./lazy.js";
import { guarded, logError, logWarning } from "./log.js";
import {
  SLOT, VARIANT, applyRanking, candidatesOf, defaultRanking, duplicateIds, meaningfulClick, showInPlace, sizeOf, watchSlots,
} from "./slots.js";
import { visitorChoices } from "./visitor.js";
import { startWorker } from "./worker_client.js";

const script = document.currentScript; // only set while this file first runs
const DEFAULT_ANTI_FLICKER_MS = 300;
const MAX_ANTI_FLICKER_MS = 1000; // never a blank slot for seconds
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
    consentVersion: dataset.consentVersion ?? "1",
    interestKinds: (dataset.interests ?? "topic").split(/\s+/).filter(Boolean),
    button: dataset.preferencesButton !== "off",
  };
}

function emit(name, detail) {
  for (const fn of listeners.get(name) ?? []) guarded(`'${name}' listener`, fn)(detail);
}

function onWorkerEvent(data) {
  if (data.event === "warning") return logWarning(data.message);
  if (data.event === "saved") stats.unsaved = data.unsaved;
  if (data.event === "saved" && data.unsaved === 0) clicks?.saved();
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
  const views = new Map(); // slot -> what it shows now, {candidates, size, ranking, context}, for its clicks
  const decisions = new Map(); // slot name -> its latest decision, for "why am I seeing this"
  let engine = null; // {ask, booted}, started by the first call that needs it
  const personalizing = () => choices.purposes().personalize;

  function worker() {
    if (engine) return engine;
    const ask = startWorker(new URL(P13N_WORKER, script.src), onWorkerEvent);
    const booted = ask("boot", {
      origin: performance.timeOrigin,
      config: { site: config.site, sync: config.sync, policy: config.policy },
      visitor: choices.forWorker(),
    });
    booted.then(
      ({ timings }) => (stats.boot = { ...timings, ready: performance.now() }),
      (error) => logError("the engine did not start; slots keep their default content", error),
    );
    engine = { ask: async (type, fields) => (await booted, ask(type, fields)), booted };
    return engine;
  }

  const ask = (type, fields) => worker().ask(type, fields);

  // `keep`: the order the page painted, which the engine keeps unless clearly worse.
  async function decide(slot, candidates, size, keep) {
    if (!personalizing()) return defaultDecision(slot, candidates, size);
    return ask("decide", { slot, candidates, size, keep, context, at: Date.now() / 1000 }); // the engine reads no clock
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
    const reply = await ask("track", { event: { at: Date.now() / 1000, ...props, type } });
    stats.learned += 1;
    return reply;
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
  // hidden until then (anti-flicker). A slot decided again (new interests) just takes the new order.
  function paint(slot, name, candidates, size) {
    const cached = cache.get(name, candidates.map((c) => c.id), size);
    const ranking = cached ?? defaultRanking(slot);
    applyRanking(slot, ranking); // before the first paint
    views.set(slot, { candidates, size, ranking, context });
    if (!cached) return { reveal: hideUntilDecided(slot, config.antiFlickerMs) };
    slot.dataset.p13nState = "cached";
    return { keep: cached, reveal: () => {} };
  }

  async function personalize(slot) {
    const name = slot.getAttribute(SLOT);
    const first = !slots.has(slot);
    slots.add(slot);
    if (!personalizing()) return showDefault(slot, "off");
    const dupes = duplicateIds(slot);
    if (dupes.length) {
      showInPlace(slot);
      return logWarning(`slot '${name}': variant ids must be unique ('${dupes[0]}' repeats); it keeps the page's content`);
    }
    const candidates = candidatesOf(slot);
    const size = sizeOf(slot);
    const { keep, reveal } = first ? paint(slot, name, candidates, size) : {};
    try {
      const decision = await decide(name, candidates, size, keep);
      clicks.settle(name, decision);
      if (!personalizing()) return; // turned off while the engine was deciding
      views.set(slot, { candidates, size, ranking: decision.ranking, context });
      applyRanking(slot, decision.ranking);
      slot.dataset.p13nDecision = decision.id;
      slot.dataset.p13nState = "personalized";
      cache.put(name, candidates.map((c) => c.id), size, decision.next ?? decision.ranking); // the next view's order
      announce(decision);
    } finally {
      reveal?.();
    }
  }

  const personalizeSlot = (slot) => guarded(`slot '${slot.getAttribute(SLOT)}' keeps its default`, personalize)(slot);
  const redecideAll = () => Promise.all([...slots].map(personalizeSlot));

  // Kept synchronously, before a link can take the visitor away (see click_queue.js).
  function trackClick(event) {
    const variant = event.target.closest?.(`[${VARIANT}]`);
    const slot = variant?.closest(`[${SLOT}]`);
    if (!views.has(slot) || !personalizing() || !meaningfulClick(event.target, variant)) return;
    clicks.add({ slot: slot.getAttribute(SLOT), variant: variant.getAttribute(VARIANT), decision: slot.dataset.p13nDecision, shown: views.get(slot) });
  }

  // The engine learned queued clicks: the next view of each slot clicked shows it.
  function learnedClicks(reply, sent) {
    for (const slot of slots) {
      const next = reply.next[slot.getAttribute(SLOT)];
      if (next) cache.put(slot.getAttribute(SLOT), candidatesOf(slot).map((c) => c.id), sizeOf(slot), next);
    }
    for (const click of sent.filter((c) => reply.learned.includes(c.id))) {
      stats.learned += 1;
      emit("learn", { slot: click.slot, decision: click.decision ?? null });
    }
  }

  // The visitor's requests (requests.js), a module loaded when the first one is made.
  const page = { config, choices, cache, ask, emit, showDefaults, redecideAll, personalizing, engine: () => engine };
  const requests = lazy(new URL(P13N_REQUESTS, script.src), (module) => module.visitorRequests(page));
  const request = (name) => async (...args) => (await requests())[name](...args);
  // p13n.consent() reads the visitor's choices; with changes, it is a request.
  const consent = async (changes) => (changes === undefined ? choices.purposes() : request("consent")(changes));
  const interests = request("interests");
  const exportData = request("exportData");
  const forget = request("forget");
  const syncCode = request("syncCode");
  const useSyncCode = request("useSyncCode");

  const widget = lazyWidget({
    button: config.button,
    purposes: () => choices.purposes(),
    outdated: () => choices.outdated(),
    consent,
    interests,
    interestKinds: config.interestKinds,
    slots: () => [...slots],
    decisions,
    syncCode,
    useSyncCode,
    exportData,
    forget,
  });

  const api = {
    stats,
    decide: async (slot, candidates, size) => announce(await decide(slot, candidates, size)),
    track,
    consent,
    interests,
    syncCode,
    useSyncCode,
    exportData,
    forget,
    // `fn` once the snippet runs (the engine may still be booting: calls wait for it).
    ready: async (fn) => fn?.(window.p13n),
    openPreferences: () => widget.open(),
    strings: (strings) => widget.setStrings(strings),
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
  const queued = window.p13n?.q ?? [];
  window.p13n = Object.assign(p13n, api);
  for (const call of queued) replay(p13n, call);

  clicks = clickQueue(config.site, ask, learnedClicks);
  if (personalizing()) {
    worker(); // first: booting is the long part
    clicks.flush(); // clicks a page left with: learned before this page's slots are decided
  }
  if (choices.mustRecord()) guarded("recording consent", request("recordChoices"))(); // a change the server missed last time
  document.addEventListener("click", guarded("click tracking", trackClick), true);
  const personalizeAll = guarded("finding slots; the page keeps its default content", () => {
    watchSlots(personalizeSlot);
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
  const load = lazy(new URL(P13N_WIDGET, script.src), (module) => (widget = module.preferencesWidget(host, new URL(P13N_PREFERENCES, script.src))));
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
