// Durable clicks. A click is written to localStorage the moment it happens, before a link can
// take the visitor away, and the worker learns it as soon as it runs: on this page, or on the
// next one if this one is gone first. The engine knows each click's id, so a click sent twice
// (a page that left before it heard back) is learned once; a click leaves the queue once the
// engine's state holding it is saved, or the engine says it cannot be learned.
//
// A click names the decision it was made on, or, if the slot still shows the order painted
// from an earlier view (the engine has not decided yet), carries that painted order: this
// page attaches it to the decision that keeps it (`settle`), and a later page's engine makes
// that view's decision from it.

import { logError, logWarning } from "./log.js";

const MAX_CLICKS = 50; // a visitor offline for long keeps the latest

export function clickQueue(site, ask, onLearned) {
  const key = `p13n:clicks:${site}`;
  const held = new Set(); // this page's clicks on a painted order, until its decision comes
  const answered = new Set(); // learned, waiting for the engine's state to be saved
  let flushing = Promise.resolve();

  function read() {
    try {
      const clicks = JSON.parse(localStorage.getItem(key) ?? "[]");
      return Array.isArray(clicks) ? clicks : [];
    } catch {
      return [];
    }
  }

  function write(clicks) {
    try {
      localStorage.setItem(key, JSON.stringify(clicks.slice(-MAX_CLICKS)));
    } catch (error) {
      logWarning(`could not keep a click (${error.name}); it is learned only if this page stays`);
    }
  }

  const remove = (ids) => write(read().filter((c) => !ids.includes(c.id)));

  // Send every click not yet answered to the worker, one batch at a time.
  function flush() {
    flushing = flushing.then(async () => {
      const clicks = read().filter((c) => !held.has(c.id) && !answered.has(c.id));
      if (clicks.length === 0) return;
      const reply = await ask("clicks", { clicks });
      reply.learned.forEach((id) => answered.add(id));
      remove(reply.dropped.map((d) => d.id));
      for (const { reason } of reply.dropped) logWarning(`a click was not learned: ${reason}`);
      onLearned(reply, clicks);
    }).catch((error) => logError("learning clicks", error));
    return flushing;
  }

  return {
    flush,
    // Keep a click: `click` is {slot, variant, decision} or {slot, variant, painted}.
    add(click) {
      const entry = { id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, at: Date.now() / 1000, ...click };
      write([...read(), entry]);
      if (click.painted) held.add(entry.id);
      else flush();
    },
    // The slot's decision has come: this page's clicks on its painted order belong to it
    // if it shows the variant clicked (it keeps the painted order but for a strong reason).
    settle(slot, decision) {
      const clicks = read();
      const mine = clicks.filter((c) => held.has(c.id) && c.slot === slot);
      if (mine.length === 0) return;
      mine.forEach((c) => held.delete(c.id));
      write(clicks.flatMap((c) => {
        if (!mine.includes(c)) return [c];
        const { painted, ...click } = c;
        return decision.ranking.includes(c.variant) ? [{ ...click, decision: decision.id }] : [];
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
      if (answered.size === 0) return;
      remove([...answered]);
      answered.clear();
    },
  };
}
