// Durable outcomes: clicks and conversions. Each is written to localStorage the moment it
// happens, before a link can take the visitor away, and the worker learns it as soon as it
// runs: on this page, or on the next one if this one is gone first. The engine knows each
// outcome's id, so one sent twice (a page that left before it heard back) is learned once; it
// leaves the queue once the engine's state holding it is saved, or the engine says it cannot
// be learned. Outcomes are learned in the order they happened, so a conversion never reaches
// the engine before the click that led to it.
//
// A click names the decision it was made on, if the engine had decided, and carries what the
// slot showed: a click on the order painted from an earlier view waits for this page's
// decision, which keeps that order (`settle`); a click whose decision the engine does not
// have (the page left first) is learned against that view's decision, made from what it showed.

import { logError, logWarning } from "./log.js";

export function clickQueue(site, ask, onLearned) {
  const key = `p13n:clicks:${site}`;
  const held = new Set(); // this page's clicks on a painted order, until its decision comes
  const answered = new Set(); // learned, waiting for the engine's state to be saved
  const taught = new Map(); // conversion id -> the decisions it rewarded, for its promise
  let flushing = Promise.resolve();

  const read = () => {
    try {
      const queue = JSON.parse(localStorage.getItem(key));
      return Array.isArray(queue) ? queue : []; // anything else is not ours to learn from
    } catch {
      return [];
    }
  };
  const write = (queue) => { // null: none
    try {
      if (queue) localStorage.setItem(key, JSON.stringify(queue.slice(-50))); // a visitor offline for long keeps the latest
      else localStorage.removeItem(key);
    } catch (error) {
      logWarning(`could not keep a click or conversion (${error.name})`);
    }
  };
  const keepOnly = (keep) => write(read().filter(keep));

  // Send the outcomes not yet answered, up to the first click still held, to the worker.
  const flush = () => (flushing = flushing.then(async () => {
    const queue = read();
    const firstHeld = queue.findIndex((o) => held.has(o.id));
    const outcomes = queue.slice(0, firstHeld < 0 ? queue.length : firstHeld).filter((o) => !answered.has(o.id));
    if (!outcomes.length) return;
    const reply = await ask("outcomes", { outcomes });
    reply.learned.forEach((id) => answered.add(id));
    Object.entries(reply.decisions).forEach(([id, decisions]) => taught.set(id, decisions));
    const dropped = reply.dropped.map((d) => (logWarning(`not learned: ${d.reason}`), d.id));
    keepOnly((o) => !dropped.includes(o.id));
    onLearned(reply, outcomes);
  }).catch((error) => logError("learning clicks and conversions", error)));

  return {
    flush,
    // Keep a click, {slot, variant, decision?, shown}, or a conversion, {type: "convert", goal,
    // value?}: a promise of {learned, decisions} once the engine has it (a held click: null).
    add(outcome) {
      const id = Math.random().toString(36).slice(2);
      write([...read(), { id, at: Date.now() / 1000, ...outcome }]);
      if (outcome.slot && !outcome.decision) {
        held.add(id);
        return null;
      }
      return flush().then(() => ({ learned: answered.has(id), decisions: taught.get(id) ?? [] }));
    },
    // The slot's decision has come: this page's clicks on its painted order are learned
    // against it when it shows the variant clicked (it keeps the painted order but for a
    // strong reason), else dropped.
    settle(slot, decision) {
      write(read().flatMap((o) => {
        if (o.slot !== slot || !held.delete(o.id)) return [o];
        return decision.ranking.includes(o.variant) ? [{ ...o, decision: decision.id }] : [];
      }));
      flush();
    },
    // Personalization off, or the visitor forgotten: nothing of theirs is learned any more.
    clear() {
      held.clear();
      answered.clear();
      taught.clear();
      write(null);
    },
    // The engine's state is saved: what it learned is safe, so those outcomes may go.
    saved() {
      if (!answered.size) return;
      keepOnly((o) => !answered.has(o.id));
      answered.forEach((id) => taught.delete(id));
      answered.clear();
    },
  };
}
