// The visitor's choices, kept in localStorage so the first paint can honour them:
// {version, purposes: {personalize, improve, sync}, id?, secret?, recorded?}.
//
// Personalizing happens on the device, so it is on until the visitor turns it off; `improve`
// and `sync` send something to the server, so they are off until the visitor turns them on.
// The pseudonymous id and its secret are made only when the server first has to hear of the
// visitor (they granted `improve` or `sync`); `recorded` is what the server last acknowledged,
// so a change it missed (offline) is sent again on the next visit.

import { logWarning } from "./log.js";

const VERSION = 1;
export const PURPOSES = ["personalize", "improve", "sync"];
const DEFAULT_PURPOSES = { personalize: true, improve: false, sync: false };

// 32 random bytes in base64url: the README's visitor id and secret alphabet.
const randomToken = () =>
  btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function read(key) {
  const text = localStorage.getItem(key);
  if (text === null) return null;
  try {
    const saved = JSON.parse(text);
    if (saved?.version !== VERSION || PURPOSES.some((p) => typeof saved.purposes?.[p] !== "boolean")) {
      throw new Error(`expected {"version": ${VERSION}, "purposes": {…}}`);
    }
    return saved;
  } catch (error) {
    logWarning(`discarded unreadable privacy choices (${error.message}); the defaults hold`);
    localStorage.removeItem(key);
    return null;
  }
}

export function visitorChoices(site, policyVersion) {
  const key = `p13n:visitor:${site}`;
  let record = { version: VERSION, purposes: { ...DEFAULT_PURPOSES } };
  try {
    record = read(key) ?? record;
  } catch (error) {
    logWarning(`privacy choices unavailable (${error.name}); the defaults hold`);
  }
  const save = () => {
    try {
      localStorage.setItem(key, JSON.stringify(record));
    } catch (error) {
      logWarning(`could not save privacy choices (${error.name}); they last until the page closes`);
    }
  };
  const known = () => Boolean(record.recorded);
  // Whether the server has to hear of the current choices: it knows the visitor already
  // (every change is kept as proof), or they just granted something it is needed for.
  function mustRecord() {
    const { recorded, purposes } = record;
    if (!recorded) return purposes.improve || purposes.sync;
    return recorded.policyVersion !== policyVersion || PURPOSES.some((p) => recorded.purposes[p] !== purposes[p]);
  }
  return {
    purposes: () => ({ ...record.purposes }),
    known,
    // What the worker needs to act for the visitor (no identity before the server needs one).
    forWorker: () => ({ visitor: record.id, secret: record.secret, policyVersion, purposes: { ...record.purposes } }),
    mustRecord,
    choose(changes) {
      for (const [purpose, value] of Object.entries(changes)) {
        if (!PURPOSES.includes(purpose)) throw new Error(`unknown purpose '${purpose}'; expected ${PURPOSES.join(", ")}`);
        if (typeof value !== "boolean") throw new Error(`consent for '${purpose}' must be true or false, got ${value}`);
      }
      record.purposes = { ...record.purposes, ...changes };
      if (mustRecord() && !record.id) Object.assign(record, { id: randomToken(), secret: randomToken() });
      save();
    },
    recorded(purposes) {
      record.recorded = { policyVersion, purposes };
      save();
    },
    // Forgotten: a new visitor with the defaults, and nothing saved.
    forget() {
      record = { version: VERSION, purposes: { ...DEFAULT_PURPOSES } };
      localStorage.removeItem(key);
    },
    // Without the secret: it is a key to the data, not data about the visitor.
    exported: () => ({ id: record.id ?? null, purposes: { ...record.purposes }, recorded: record.recorded ?? null }),
  };
}
