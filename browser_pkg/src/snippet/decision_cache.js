// The last ranking of each slot, kept in localStorage so that a repeat visit paints the
// visitor's order synchronously, before the engine has booted. A ranking is reused only
// for the same candidates and size. Anything unreadable is dropped with a warning.

import { stored } from "./stored.js";

const VERSION = 1;

// What a ranking was made for: the candidate ids (in any order) and how many are shown.
const madeFor = (ids, size) => JSON.stringify([[...ids].sort(), size ?? null]);

export function decisionCache(site) {
  const store = stored(`p13n:decisions:${site}`, VERSION, "saved decisions", (saved) => typeof saved.slots === "object" && saved.slots !== null);
  let slots = store.read()?.slots ?? {};
  return {
    // The cached ranking of `slot` if it was made for these candidate ids and size, else null.
    get(slot, ids, size) {
      const saved = slots[slot];
      const fits = saved?.for === madeFor(ids, size) && Array.isArray(saved.ranking);
      return fits && saved.ranking.every((id) => ids.includes(id)) ? saved.ranking : null;
    },
    put(slot, ids, size, ranking) {
      slots[slot] = { for: madeFor(ids, size), ranking };
      store.write({ slots }); // failing, the next visit paints the default first
    },
    all: () => ({ ...slots }),
    clear() {
      slots = {};
      store.write(null);
    },
  };
}
