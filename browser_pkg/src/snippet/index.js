// personalize.js: <script src="/p13n/personalize.js" data-site="KEY" data-sync="https://…" defer>
// Finds the page's slots, ranks them in a worker running the `edge` engine, and reports
// clicks back to it. Calls made before it loads, through the stub
// `window.p13n = window.p13n || function () { (p13n.q = p13n.q || []).push(arguments) }`,
// are replayed once it is ready.

import { visitContext } from "./context.js";
import { guarded, logError } from "./log.js";
import { SLOT, VARIANT, applyRanking, candidatesOf, findSlots } from "./slots.js";
import { startWorker } from "./worker_client.js";

const script = document.currentScript; // only set while this file first runs
const listeners = new Map();
const stats = { decisions: 0, learned: 0, unsaved: 0 };

function emit(name, detail) {
  for (const fn of listeners.get(name) ?? []) guarded(`'${name}' listener`, fn)(detail);
}

function onWorkerEvent(data) {
  if (data.event === "saved") stats.unsaved = data.unsaved;
  emit(data.event, data);
}

const api = {
  stats,
  on(name, fn) {
    listeners.set(name, [...(listeners.get(name) ?? []), fn]);
  },
};

function p13n(method, ...args) {
  if (typeof api[method] !== "function") return logError("unknown call", method);
  return api[method](...args);
}

function start() {
  const config = {
    site: script.dataset.site ?? "default",
    sync: script.dataset.sync ? new URL(script.dataset.sync, location.href).href : null,
  };
  const queued = window.p13n?.q ?? [];
  window.p13n = Object.assign(p13n, api);
  for (const call of queued) guarded("queued call", p13n)(...call);

  const ask = startWorker(new URL("worker.js", script.src), onWorkerEvent);
  const booted = ask("boot", { config });
  const context = visitContext(script.dataset.pageType);

  async function personalize(slot) {
    await booted;
    const decision = await ask("decide", {
      slot: slot.getAttribute(SLOT),
      candidates: candidatesOf(slot),
      context,
    });
    applyRanking(slot, decision);
    stats.decisions += 1;
    emit("decision", decision);
  }

  async function trackClick(event) {
    const variant = event.target.closest?.(`[${VARIANT}]`);
    const slot = variant?.closest(`[${SLOT}]`);
    if (!slot?.dataset.p13nDecision) return;
    const decision = slot.dataset.p13nDecision;
    await ask("track", { event: { type: "click", decision, variant: variant.getAttribute(VARIANT) } });
    stats.learned += 1;
    emit("learn", { slot: slot.getAttribute(SLOT), decision });
  }

  document.addEventListener("click", guarded("click tracking", trackClick), true);
  for (const slot of findSlots()) guarded(`slot '${slot.getAttribute(SLOT)}' keeps its default`, personalize)(slot);
}

guarded("start-up; the page keeps its default content", start)();
