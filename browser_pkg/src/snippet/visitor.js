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

import { stored } from "./stored.js";

const VERSION = 1;
export const PURPOSES = ["personalize", "improve", "sync"];
export const SERVER_PURPOSES = ["improve", "sync"]; // they act through the server
const DEFAULT_PURPOSES = { personalize: true, improve: false, sync: false };

// Whether the server has to hear of `record`: it knows the visitor already (every change is
// kept as proof), or they just granted something it is needed for.
export function mustRecord(record) {
  const { recorded, purposes } = record;
  if (record.policyVersion === null) return false; // saved under no known version: the visitor is asked first
  if (!recorded) return SERVER_PURPOSES.some((p) => purposes[p]);
  return recorded.policyVersion !== record.policyVersion || PURPOSES.some((p) => recorded.purposes[p] !== purposes[p]);
}

// What the snippet reads on every page view. Changing the choices is the visitor's request,
// so it comes with requests.js (choice_changes.js), through `keep`.
export function visitorChoices(site, policyVersion) {
  const valid = (saved) => PURPOSES.every((p) => typeof saved.purposes?.[p] === "boolean");
  const store = stored(`p13n:visitor:${site}`, VERSION, "privacy choices", valid);
  // The defaults grant nothing, so they need no confirming under any version.
  const defaults = () => ({ version: VERSION, purposes: { ...DEFAULT_PURPOSES }, policyVersion });
  const saved = store.read();
  // Saved before choices kept their policy version: the one last recorded, if any.
  let record = saved ? { policyVersion: saved.recorded?.policyVersion ?? null, ...saved } : defaults();
  return {
    policyVersion,
    record: () => record,
    // `next` is in force from now on, and kept; null forgets the visitor: the defaults, nothing kept.
    keep(next) {
      record = next ?? defaults();
      store.write(next); // failing, they last until the page closes
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
