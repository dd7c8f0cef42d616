// The visitor's choices, kept in localStorage so the first paint can honour them:
// {version, purposes: {personalize, improve, sync}, policyVersion, id?, secret?, recorded?}.
//
// Personalizing happens on the device, so it is on until the visitor turns it off; `improve`
// and `sync` send something to the server, so they are off until the visitor turns them on.
// The pseudonymous id and its secret are made only when the server first has to hear of the
// visitor (they granted `improve` or `sync`); `recorded` is what the server last acknowledged,
// so a change it missed (offline) is sent again on the next visit. `policyVersion` is the
// version of the site's privacy text the choices were made under: when the page names
// another, the choices stay in force but the visitor is asked to confirm them (`outdated`).

import { logWarning } from "./log.js";
import { base64url } from "./sync_code.js";

const VERSION = 1;
export const PURPOSES = ["personalize", "improve", "sync"];
const DEFAULT_PURPOSES = { personalize: true, improve: false, sync: false };

// 32 random bytes in base64url: the README's visitor id and secret alphabet.
const randomToken = () => base64url(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

function read(key) {
  const text = localStorage.getItem(key);
  if (text === null) return null;
  try {
    const saved = JSON.parse(text);
    if (saved?.version !== VERSION || PURPOSES.some((p) => typeof saved.purposes?.[p] !== "boolean")) {
      throw new Error(`expected {"version": ${VERSION}, "purposes": {…}}`);
    }
    // Saved before choices kept their policy version: the one last recorded, if any.
    return { policyVersion: saved.recorded?.policyVersion ?? null, ...saved };
  } catch (error) {
    logWarning(`discarded unreadable privacy choices (${error.message}); the defaults hold`);
    localStorage.removeItem(key);
    return null;
  }
}

export function visitorChoices(site, policyVersion) {
  const key = `p13n:visitor:${site}`;
  // The defaults grant nothing, so they need no confirming under any version.
  const defaults = () => ({ version: VERSION, purposes: { ...DEFAULT_PURPOSES }, policyVersion });
  let record = defaults();
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
    if (record.policyVersion === null) return false; // saved under no known version: the visitor is asked first
    if (!recorded) return purposes.improve || purposes.sync;
    return recorded.policyVersion !== record.policyVersion || PURPOSES.some((p) => recorded.purposes[p] !== purposes[p]);
  }
  return {
    purposes: () => ({ ...record.purposes }),
    known,
    // What the worker needs to act for the visitor (no identity before the server needs one).
    forWorker: () => ({ visitor: record.id, secret: record.secret, policyVersion: record.policyVersion, purposes: { ...record.purposes } }),
    mustRecord,
    // The choices in force were made under another version of the site's privacy text.
    outdated: () => record.policyVersion !== policyVersion,
    // Grant or revoke purposes; no changes ({}) confirms the choices under this page's version.
    choose(changes) {
      for (const [purpose, value] of Object.entries(changes)) {
        if (!PURPOSES.includes(purpose)) throw new Error(`unknown purpose '${purpose}'; expected ${PURPOSES.join(", ")}`);
        if (typeof value !== "boolean") throw new Error(`consent for '${purpose}' must be true or false, got ${value}`);
      }
      record.purposes = { ...record.purposes, ...changes };
      record.policyVersion = policyVersion;
      if (mustRecord() && !record.id) Object.assign(record, { id: randomToken(), secret: randomToken() });
      save();
    },
    // Be the visitor of another device (their sync code): their id and secret, with `sync`.
    // `inForce` is the consent the server holds for them ({policyVersion, purposes}).
    adopt({ visitor, secret }, inForce) {
      record = { ...record, id: visitor, secret, purposes: { ...record.purposes, sync: true }, policyVersion, recorded: inForce };
      save();
    },
    // What the server acknowledged: `sent` is the forWorker() it was sent.
    recorded({ policyVersion: version, purposes }) {
      record.recorded = { policyVersion: version, purposes };
      save();
    },
    // Forgotten: a new visitor with the defaults, and nothing saved.
    forget() {
      record = defaults();
      localStorage.removeItem(key);
    },
    // Without the secret: it is a key to the data, not data about the visitor.
    exported: () => ({
      id: record.id ?? null, purposes: { ...record.purposes }, policyVersion: record.policyVersion, recorded: record.recorded ?? null,
    }),
  };
}
