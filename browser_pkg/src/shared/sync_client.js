// The sync server's HTTP API (README, "The sync server"): the worker's, and "forget me"'s
// (forget.js), which the page runs when no worker does.
// Visitor calls (a participation token's issuance among them) carry the visitor's secret; the
// global model and updates carry nothing about the visitor: updates are anonymous on purpose. No call sends cookies: a sync server
// on the site's own origin would otherwise get the site's.

export class HttpError extends Error {
  constructor(status, code, detail) {
    super(`HTTP ${status}${code ? ` ${code}` : ""}${detail ? `: ${detail}` : ""}`);
    this.status = status;
    this.code = code;
  }
}

const MODEL_TYPE = "application/vnd.p13n.model";

async function refusal(response) {
  const body = await response.json().catch(() => ({}));
  return new HttpError(response.status, body.error, body.detail);
}

// `body` is sent as JSON, or as it is with a content `type`.
async function call(method, url, { secret, body, type } = {}) {
  const headers = secret ? { authorization: `Bearer ${secret}` } : {};
  if (body !== undefined) headers["content-type"] = type ?? "application/json";
  const sent = body === undefined || type ? body : JSON.stringify(body);
  const response = await fetch(url, { method, headers, credentials: "omit", body: sent });
  if (!response.ok) throw await refusal(response);
  return response.json();
}

// An update in the compact form (README, "Updates, compact and durable"): a JSON line without
// the arrays, then its buckets as int32, gradients and curvatures as float32; half the bytes of JSON.
function compactUpdate({ delta, ...rest }) {
  const intercepts = { intercept: delta.intercept, intercept_curvature: delta.intercept_curvature };
  const line = new TextEncoder().encode(`${JSON.stringify({ ...rest, delta: intercepts })}\n`);
  // The buckets, their gradients, their curvatures; little-endian on the web.
  const parts = [line, new Int32Array(delta.idx), new Float32Array(delta.val), new Float32Array(delta.curvature)];
  const bytes = new Uint8Array(parts.reduce((size, part) => size + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(new Uint8Array(part.buffer, 0, part.byteLength), at);
    at += part.byteLength;
  }
  return bytes;
}

const visitorUrl = (base, site, path) => new URL(`v1/${path}?site=${encodeURIComponent(site)}`, base);
const profileUrl = (base, site, visitor) => visitorUrl(base, site, `profiles/${encodeURIComponent(visitor)}`);

// A visitor the server never heard of has nothing to export or erase.
const unlessUnknown = (promise) => promise.catch((error) => {
  if (error.code === "unknown_visitor") return null;
  throw error;
});

// Erase the visitor on the server: the answer, or null if it never heard of them. On its own
// for "forget me" (forget.js), which the page runs when no worker does.
export const deleteProfile = (base, site, { visitor, secret }) =>
  unlessUnknown(call("DELETE", profileUrl(base, site, visitor), { secret }));

export function syncClient(base, site) {
  const siteUrl = (path) => new URL(`v1/sites/${encodeURIComponent(site)}/${path}`, base);

  return {
    // {body, header, etag} of the global model in the compact form (README, "The global
    // model"), or null when `etag` still names the newest one (304). `body` is its bytes, for
    // the engine; `header` its JSON line (version, federation, …). The browser asks for br/gzip.
    async model(etag) {
      const response = await fetch(siteUrl("model"), {
        headers: { accept: MODEL_TYPE, ...(etag ? { "if-none-match": etag } : {}) },
        credentials: "omit",
        // With an etag our own If-None-Match decides (the HTTP cache would answer 200 from disk).
        // Without one (a first visit) the HTTP cache may answer: the early ranker has just fetched it.
        cache: etag ? "no-store" : "default",
      });
      if (response.status === 304) return null;
      if (!response.ok) throw await refusal(response);
      const body = new Uint8Array(await response.arrayBuffer());
      const line = body.indexOf(10); // "\n" ends the header
      if (line < 0) throw new Error("the global model has no header line");
      return { body, header: JSON.parse(new TextDecoder().decode(body.subarray(0, line))), etag: response.headers.get("etag") };
    },
    token: ({ visitor, secret }, round, blinded) => call("POST", siteUrl("tokens"), { secret, body: { visitor, round, blinded } }),
    postUpdate: (update) => call("POST", siteUrl("updates"), { body: compactUpdate(update), type: "application/vnd.p13n.update" }),
    consent: ({ visitor, secret, policyVersion, purposes }) =>
      call("POST", visitorUrl(base, site, "consent"), { secret, body: { visitor, policy_version: policyVersion, purposes } }),
    putProfile: ({ visitor, secret }, document) => call("PUT", profileUrl(base, site, visitor), { secret, body: { profile: document } }),
    exportProfile: ({ visitor, secret }) => unlessUnknown(call("GET", profileUrl(base, site, visitor), { secret })),
    forget: (who) => deleteProfile(base, site, who),
  };
}
