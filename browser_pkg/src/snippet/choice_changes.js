// Changes to the visitor's choices (visitor.js), made only when the visitor asks: they come
// with requests.js. Each takes the choices in force and keeps the new ones.

import { PURPOSES, mustRecord } from "./visitor.js";
import { base64url } from "./sync_code.js";

// 32 random bytes in base64url: the README's visitor id and secret alphabet.
const randomToken = () => base64url(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

// Grant or revoke purposes; no changes ({}) confirms the choices under this page's version.
export function choose(choices, changes) {
  for (const [purpose, value] of Object.entries(changes)) {
    if (!PURPOSES.includes(purpose)) throw new Error(`unknown purpose '${purpose}'; expected ${PURPOSES.join(", ")}`);
    if (typeof value !== "boolean") throw new Error(`consent for '${purpose}' must be true or false, got ${value}`);
  }
  const record = choices.record();
  const next = { ...record, purposes: { ...record.purposes, ...changes }, policyVersion: choices.policyVersion };
  if (mustRecord(next) && !next.id) Object.assign(next, { id: randomToken(), secret: randomToken() });
  choices.keep(next);
}

// Be the visitor of another device (their sync code): their id and secret, with `sync`.
// `inForce` is the consent the server holds for them ({policyVersion, purposes}).
export function adopt(choices, { visitor, secret }, inForce) {
  const record = choices.record();
  choices.keep({ ...record, id: visitor, secret, purposes: { ...record.purposes, sync: true }, policyVersion: choices.policyVersion, recorded: inForce });
}

// What the server acknowledged: `sent` is the forWorker() it was sent.
export function recorded(choices, { policyVersion, purposes }) {
  choices.keep({ ...choices.record(), recorded: { policyVersion, purposes } });
}

// Without the secret: it is a key to the data, not data about the visitor.
export function exported(choices) {
  const record = choices.record();
  return { id: record.id ?? null, purposes: { ...record.purposes }, policyVersion: record.policyVersion, recorded: record.recorded ?? null };
}
