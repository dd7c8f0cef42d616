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

const VERSION = 1;
export const PURPOSES = ["personalize", "improve", "sync"];
const DEFAULT_PURPOSES = { personalize: true, improve: false, sync: false };

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

// Whether the server has to hear of `record`: it knows the visitor already (every change is
// kept as proof), or they just granted something it is needed for.
export function mustRecord(record) {
  const { recorded, purposes } = record;
  if (record.policyVersion === null) return false; // saved under no known version: the visitor is asked first
  if (!recorded) return purposes.improve || purposes.sync;
  return recorded.policyVersion !== record.policyVersion || PURPOSES.some((p) => recorded.purposes[p] !== purposes[p]);
}

// What the snippet reads on every page view. Changing the choices is the visitor's request,
// so it comes with requests.js (choice_changes.js), through `keep`.
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
  return {
    policyVersion,
    record: () => record,
    // `next` is in force from now on, and kept; null forgets the visitor: the defaults, nothing kept.
    keep(next) {
      record = next ?? defaults();
      try {
        if (next) localStorage.setItem(key, JSON.stringify(next));
        else localStorage.removeItem(key);
      } catch (error) {
        logWarning(`could not save privacy choices (${error.name}); they last until the page closes`);
      }
    },
    purposes: () => ({ ...record.purposes }),
    known: () => Boolean(record.recorded),
    // What the worker needs to act for the visitor (no identity before the server needs one).
    forWorker: () => ({ visitor: record.id, secret: record.secret, policyVersion: record.policyVersion, purposes: { ...record.purposes } }),
    mustRecord: () => mustRecord(record),
    // The choices in force were made under another version of the site's privacy text.
    outdated: () => record.policyVersion !== policyVersion,
  };
}
