// A sync code carries a visitor's pseudonymous id and secret to their other devices:
// base64url of "ID.SECRET", one opaque word to copy and paste. Whoever holds it can read
// and erase the visitor's synced profile, so it is shown only when the visitor asks.

const ID = /^[A-Za-z0-9_-]{16,64}$/; // the sync server's rules for ids and secrets
const SECRET = /^[A-Za-z0-9_-]{32,128}$/;

// Why a code was not taken: `malformed` (not a code), `unknown` (no visitor has it: mistyped
// or erased), `empty` (the visitor has no profile stored: sync is off on the other device).
export class SyncCodeError extends Error {
  constructor(reason) {
    super(`the sync code was not taken: ${reason}`);
    this.name = "SyncCodeError";
    this.reason = reason;
  }
}

export const base64url = (binary) => btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export const encodeSyncCode = (visitor, secret) => base64url(`${visitor}.${secret}`);

// {visitor, secret} from a pasted code (spaces and line breaks are ignored).
export function decodeSyncCode(code) {
  const word = String(code).replace(/\s+/g, "");
  let text;
  try {
    text = /^[A-Za-z0-9_-]+$/.test(word) ? atob(word.replace(/-/g, "+").replace(/_/g, "/")) : "";
  } catch {
    text = ""; // atob refuses a length no encoder makes: not a code either
  }
  const [visitor, secret, ...rest] = text.split(".");
  if (rest.length || !ID.test(visitor) || !SECRET.test(secret ?? "")) throw new SyncCodeError("malformed");
  return { visitor, secret };
}
