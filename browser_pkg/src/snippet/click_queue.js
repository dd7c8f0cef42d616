// Durable clicks. A click is written to localStorage the moment it happens, before a link can
// take the visitor away, and the worker learns it as soon as it runs: on this page, or on the
// next one if this one is gone first. The engine knows each click's id, so a click sent twice
// (a page that left before it heard back) is learned once; a click leaves the queue once the
// engine's state holding it is saved, or the engine says it cannot be learned.
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
  let flushing = Promise.resolve();

  const read = () => {
    try {
      const clicks = JSON.parse(localStorage.getItem(key));
      return Array.isArray(clicks) ? clicks : []; // anything else is not ours to learn from
    } catch {
      return [];
    }
  };
  const write = (clicks) => {
    try {
      localStorage.setItem(key, JSON.stringify(clicks.slice(-50))); // a visitor offline for long keeps the latest
    } catch (error) {
      logWarning(`could not keep a click (${error.name})`);
    }
  };
  const keepOnly = (keep) => write(read().filter(keep));

  // Send every click not yet answered to the worker, one batch at a time.
  const flush = () => (flushing = flushing.then(async () => {
    const clicks = read().filter((c) => !held.has(c.id) && !answered.has(c.id));
    if (!clicks.length) return;
    const reply = await ask("clicks", { clicks });
    reply.learned.forEach((id) => answered.add(id));
    const dropped = reply.dropped.map((d) => (logWarning(`click not learned: ${d.reason}`), d.id));
    keepOnly((c) => !dropped.includes(c.id));
    onLearned(reply, clicks);
  }).catch((error) => logError("learning clicks", error)));

  return {
    flush,
    // Keep a click: {slot, variant, decision?, shown}.
    add(click) {
      const id = Math.random().toString(36).slice(2);
      write([...read(), { id, at: Date.now() / 1000, ...click }]);
      if (click.decision) flush();
      else held.add(id);
    },
    // The slot's decision has come: this page's clicks on its painted order are learned
    // against it when it shows the variant clicked (it keeps the painted order but for a
    // strong reason), else dropped.
    settle(slot, decision) {
      write(read().flatMap((c) => {
        if (c.slot !== slot || !held.delete(c.id)) return [c];
        return decision.ranking.includes(c.variant) ? [{ ...c, decision: decision.id }] : [];
      }));
      flush();
    },
    // Personalization off, or the visitor forgotten: nothing of theirs is learned any more.
    clear() {
      held.clear();
      answered.clear();
      localStorage.removeItem(key);
    },
    // The engine's state is saved: what it learned is safe, so those clicks may go.
    saved() {
      if (!answered.size) return;
      keepOnly((c) => !answered.has(c.id));
      answered.clear();
    },
  };
}
