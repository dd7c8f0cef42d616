// personalize.js: <script src="/p13n/personalize.js" data-site="KEY" data-sync="https://…" defer blocking="render">
// Paints each slot's last ranking at once (from localStorage), starts the engine's worker,
// ranks every slot in it (slots added later too), and reports clicks back to it. Calls made
// before it loads, through the stub
// `window.p13n = window.p13n || function () { (p13n.q = p13n.q || []).push(arguments) }`,
// are replayed once it is ready.

import { hideUntilDecided } from "./anti_flicker.js";
import { visitContext } from "./context.js";
import { decisionCache } from "./decision_cache.js";
import { guarded, logError, logWarning } from "./log.js";
import { SLOT, VARIANT, applyRanking, candidatesOf, defaultRanking, sizeOf, watchSlots } from "./slots.js";
import { startWorker } from "./worker_client.js";

const script = document.currentScript; // only set while this file first runs
const DEFAULT_ANTI_FLICKER_MS = 300;
const MAX_ANTI_FLICKER_MS = 1000; // never a blank slot for seconds
const listeners = new Map();
// `boot`, once the engine is up: when (ms) Python and the engine were ready in the worker's
// clock, and when the page heard of it in the page's clock.
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
  };
}

function emit(name, detail) {
  for (const fn of listeners.get(name) ?? []) guarded(`'${name}' listener`, fn)(detail);
}

function onWorkerEvent(data) {
  if (data.event === "warning") return logWarning(data.message);
  if (data.event === "saved") stats.unsaved = data.unsaved;
  emit(data.event, data);
}

function start() {
  const config = readConfig(script);
  const ask = startWorker(new URL(P13N_WORKER, script.src), onWorkerEvent); // first: booting is the long part
  const booted = ask("boot", { config: { site: config.site, sync: config.sync, policy: config.policy } });
  const cache = decisionCache(config.site);
  const context = visitContext(config.pageType);

  async function decide(slot, candidates, size) {
    await booted;
    return ask("decide", { slot, candidates, size, context, at: Date.now() / 1000 }); // the engine reads no clock
  }

  function announce(decision) {
    stats.decisions += 1;
    emit("decision", decision);
    return decision;
  }

  async function track(type, props = {}) {
    await booted;
    const reply = await ask("track", { event: { at: Date.now() / 1000, ...props, type } });
    stats.learned += 1;
    return reply;
  }

  async function personalize(slot) {
    const name = slot.getAttribute(SLOT);
    const candidates = candidatesOf(slot);
    const ids = candidates.map((c) => c.id);
    const size = sizeOf(slot);
    const cached = cache.get(name, ids, size);
    applyRanking(slot, cached ?? defaultRanking(slot)); // before the first paint
    if (cached) slot.dataset.p13nState = "cached";
    const reveal = cached ? () => {} : hideUntilDecided(slot, config.antiFlickerMs);
    try {
      const decision = await decide(name, candidates, size);
      applyRanking(slot, decision.ranking);
      slot.dataset.p13nDecision = decision.id;
      slot.dataset.p13nState = "personalized";
      cache.put(name, ids, size, decision.ranking);
      announce(decision);
    } finally {
      reveal();
    }
  }

  async function trackClick(event) {
    const variant = event.target.closest?.(`[${VARIANT}]`);
    const slot = variant?.closest(`[${SLOT}]`);
    if (!slot?.dataset.p13nDecision) return;
    const decision = slot.dataset.p13nDecision;
    await track("click", { decision, variant: variant.getAttribute(VARIANT) });
    emit("learn", { slot: slot.getAttribute(SLOT), decision });
  }

  const api = {
    stats,
    decide: async (slot, candidates, size) => announce(await decide(slot, candidates, size)),
    track,
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
  for (const call of queued) guarded(`queued call p13n('${call[0]}')`, p13n)(...call);

  booted.then(
    ({ timings }) => (stats.boot = { ...timings, ready: performance.now() }),
    (error) => logError("the engine did not start; slots keep their default content", error),
  );
  document.addEventListener("click", guarded("click tracking", trackClick), true);
  const personalizeAll = () =>
    watchSlots((slot) => guarded(`slot '${slot.getAttribute(SLOT)}' keeps its default`, personalize)(slot));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", personalizeAll);
  else personalizeAll();
}

guarded("start-up; the page keeps its default content", start)();
