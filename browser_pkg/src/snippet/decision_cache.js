// The last ranking of each slot, kept in localStorage so that a repeat visit paints the
// visitor's order synchronously, before the engine has booted. A ranking is reused only
// for the same candidates and size. Anything unreadable is dropped with a warning.

import { logWarning } from "./log.js";

const VERSION = 1;

// What a ranking was made for: the candidate ids (in any order) and how many are shown.
const madeFor = (ids, size) => JSON.stringify([[...ids].sort(), size ?? null]);

function readSlots(key) {
  const text = localStorage.getItem(key);
  if (text === null) return {};
  try {
    const saved = JSON.parse(text);
    if (saved?.version !== VERSION || typeof saved.slots !== "object" || saved.slots === null) {
      throw new Error(`expected {"version": ${VERSION}, "slots": {…}}`);
    }
    return saved.slots;
  } catch (error) {
    logWarning(`discarded unreadable saved decisions (${error.message}); slots show their default`);
    localStorage.removeItem(key);
    return {};
  }
}

export function decisionCache(site) {
  const key = `p13n:decisions:${site}`;
  let slots = {};
  try {
    slots = readSlots(key);
  } catch (error) {
    logWarning(`saved decisions unavailable (${error.name}); slots show their default`);
  }
  return {
    // The cached ranking of `slot` if it was made for these candidate ids and size, else null.
    get(slot, ids, size) {
      const saved = slots[slot];
      const fits = saved?.for === madeFor(ids, size) && Array.isArray(saved.ranking);
      return fits && saved.ranking.every((id) => ids.includes(id)) ? saved.ranking : null;
    },
    put(slot, ids, size, ranking) {
      slots[slot] = { for: madeFor(ids, size), ranking };
      try {
        localStorage.setItem(key, JSON.stringify({ version: VERSION, slots }));
      } catch (error) {
        logWarning(`could not save decisions (${error.name}); the next visit paints the default first`);
      }
    },
    all: () => ({ ...slots }),
    clear() {
      slots = {};
      localStorage.removeItem(key);
    },
  };
}
