// The sync server's HTTP API as the worker speaks it (README, "The sync server").
// Visitor calls carry the visitor's secret; the global model and updates carry nothing
// about the visitor: updates are anonymous on purpose. No call sends cookies: a sync server
// on the site's own origin would otherwise get the site's.

export class HttpError extends Error {
  constructor(status, code, detail) {
    super(`HTTP ${status}${code ? ` ${code}` : ""}${detail ? `: ${detail}` : ""}`);
    this.status = status;
    this.code = code;
  }
}

async function refusal(response) {
  const body = await response.json().catch(() => ({}));
  return new HttpError(response.status, body.error, body.detail);
}

async function call(method, url, { secret, body } = {}) {
  const headers = secret ? { authorization: `Bearer ${secret}` } : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url, { method, headers, credentials: "omit", body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw await refusal(response);
  return response.json();
}

const visitorUrl = (base, site, path) => new URL(`v1/${path}?site=${encodeURIComponent(site)}`, base);
const profileUrl = (base, site, visitor) => visitorUrl(base, site, `profiles/${encodeURIComponent(visitor)}`);

// A visitor the server never heard of has nothing to export or erase.
const unlessUnknown = (promise) => promise.catch((error) => {
  if (error.code === "unknown_visitor") return null;
  throw error;
});

// Erase the visitor on the server: the answer, or null if it never heard of them. On its own
// for the page, which forgets the visitor itself when no worker runs.
export const forgetVisitor = (base, site, { visitor, secret }) =>
  unlessUnknown(call("DELETE", profileUrl(base, site, visitor), { secret }));

export function syncClient(base, site) {
  const siteUrl = (path) => new URL(`v1/sites/${encodeURIComponent(site)}/${path}`, base);

  return {
    // {text, etag} of the global model, or null when `etag` still names the newest one (304).
    async model(etag) {
      const response = await fetch(siteUrl("model"), {
        headers: etag ? { "if-none-match": etag } : {},
        credentials: "omit",
        cache: "no-store", // our own If-None-Match decides; the HTTP cache would answer 200 from disk
      });
      if (response.status === 304) return null;
      if (!response.ok) throw await refusal(response);
      return { text: await response.text(), etag: response.headers.get("etag") };
    },
    postUpdate: (update) => call("POST", siteUrl("updates"), { body: update }),
    consent: ({ visitor, secret, policyVersion, purposes }) =>
      call("POST", visitorUrl(base, site, "consent"), { secret, body: { visitor, policy_version: policyVersion, purposes } }),
    putProfile: ({ visitor, secret }, document) => call("PUT", profileUrl(base, site, visitor), { secret, body: { profile: document } }),
    exportProfile: ({ visitor, secret }) => unlessUnknown(call("GET", profileUrl(base, site, visitor), { secret })),
    forget: (who) => forgetVisitor(base, site, who),
  };
}
