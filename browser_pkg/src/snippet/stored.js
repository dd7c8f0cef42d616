// A versioned JSON record the snippet keeps in localStorage, {version, …}. One it cannot read
// (not JSON, another version, a shape `valid` refuses, storage turned off) is discarded with a
// warning; one it cannot keep (storage full or off) lasts until the page closes. Storage never
// stops the page. `what` names the record in warnings.

import { logWarning } from "./log.js";

export function stored(key, version, what, valid) {
  const attempt = (failed, action) => {
    try {
      return action();
    } catch (error) {
      logWarning(`${failed} ${what} (${error.message})`);
    }
  };
  return {
    // The record, or null: none kept, or one that could not be read, now removed.
    read() {
      const saved = attempt("discarded unreadable", () => {
        const record = JSON.parse(localStorage.getItem(key)); // null when none is kept
        if (record === null || (record.version === version && valid(record))) return record;
        throw new Error(`expected a version ${version} record`);
      });
      if (saved === undefined) attempt("could not remove", () => localStorage.removeItem(key));
      return saved ?? null;
    },
    // Keep `record` (null: remove it).
    write: (record) => attempt("could not keep", () =>
      record ? localStorage.setItem(key, JSON.stringify({ ...record, version })) : localStorage.removeItem(key)),
  };
}
