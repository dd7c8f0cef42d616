// Federated learning from the device (README, "Privacy accounting"). The worker keeps the
// global model fresh for every visitor (it is public: the request says nothing about them)
// and, only with `improve` consent, sends what the engine learned on it: a clipped delta and
// the counters gained since the last update, never an event.
//
// The schedule comes from the model's `federation` block. A device sends at most one update
// per global version (the unit of privacy is one device's update per round), once it has
// learned SEND_AFTER_SAMPLES examples on that version or `check_seconds` after it took the
// version, and then only with probability `participation_rate`, and never more than
// `device_rounds_per_year` updates in 365 days (the privacy accountant counts on it). Its next delta is measured
// from the next version, so nothing is sent twice. Network failures and 429/5xx answers are
// retried with exponential backoff, never slower than once every `check_seconds`.
//
// Every update spends a participation token for its round (tokens.js, loaded only with
// `improve`). The device takes it ahead of time, when it takes a new model version (or when the
// visitor grants `improve`), never in the turn that spends it, so the time of an update does not
// point back at the issuance that named the visitor. A round without a token (the server
// refused one: a limit, or the round closed) is sat out.
//
// What it remembers between visits (in IndexedDB, beside the engine state):
// {etag, federation, since, sentFor, counted, token, tokenFor, sentAt}.

const SEND_AFTER_SAMPLES = 20;
const FIRST_RETRY_S = 2;
const DEFAULT_CHECK_S = 3600;
const SECOND = 1000;
// Token refusals that hold for the whole round (README, "Participation tokens").
const FINAL_REFUSALS = new Set(["token_already_issued", "round_closed", "yearly_limit", "network_limit"]);
const YEAR = 365 * 86400 * SECOND;

// The token module, a file of its own (build.py), fetched the first time it is needed.
let tokenModule = null;
const loadTokens = () => (tokenModule ??= import(new URL(P13N_ASSETS.tokens, import.meta.url).href));

const randomId = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");

export function federation({ ask, merge, client, meta, saveMeta, warn, onMerged, who }) {
  let improve = false;
  let failures = 0;
  let timer = null;
  let running = null;
  let attempt = null; // {base, id}: a retried update keeps its id, so the server can spot a replay

  const checkSeconds = () => meta.federation?.check_seconds ?? DEFAULT_CHECK_S;
  const remember = (changes) => {
    Object.assign(meta, changes);
    return saveMeta({ ...meta });
  };

  // Take a newer global model, if there is one; keep what this visitor learned.
  async function refresh() {
    const fetched = await client.model(meta.etag);
    if (fetched === null) return;
    const { merged, error } = merge(fetched.body);
    if (error) throw new Error(`could not merge global model version ${fetched.header.version}: ${error}`);
    await remember({ etag: fetched.etag, federation: fetched.header.federation, since: Date.now() });
    onMerged(merged);
    await takeToken(merged);
  }

  // The token for the round that model `version` opened, unless it was asked for already.
  async function takeToken(version) {
    const round = (version ?? 0) + 1;
    if (!improve || meta.tokenFor === round || !meta.federation?.token_key) return;
    const { takeToken: take } = await loadTokens();
    try {
      await remember({ token: await take(client, who(), round, meta.federation.token_key), tokenFor: round });
    } catch (error) {
      if (!FINAL_REFUSALS.has(error.code)) throw error; // offline, busy, or consent not recorded yet: retry
      await remember({ token: null, tokenFor: round }); // it sits this round out
    }
  }

  async function send() {
    const federation = meta.federation;
    if (!improve || !federation?.accepting_updates) return;
    const built = ask({ type: "update", clip_norm: federation.clip_norm, counted: meta.counted ?? [] });
    if (built.error) return; // nothing learned on this version yet
    const { update, counted } = built;
    if (meta.sentFor === update.base_version) return;
    const sentAt = (meta.sentAt ?? []).filter((at) => Date.now() - at < YEAR); // the accountant's cap
    if (sentAt.length >= (federation.device_rounds_per_year ?? Infinity)) return;
    if (meta.tokenFor !== update.base_version + 1) return takeToken(update.base_version); // spent on a later turn
    const due = update.samples >= SEND_AFTER_SAMPLES || Date.now() >= (meta.since ?? 0) + checkSeconds() * SECOND;
    if (!due || !meta.token) return;
    if (Math.random() >= federation.participation_rate) return remember({ sentFor: update.base_version }); // sits this round out
    if (attempt?.base !== update.base_version) attempt = { base: update.base_version, id: randomId() };
    try {
      await client.postUpdate({ ...update, token: meta.token, update_id: attempt.id });
    } catch (error) {
      if (!(error.status >= 400 && error.status < 500 && error.status !== 429)) throw error; // offline or busy: retry
      if (error.code === "privacy_budget_spent") federation.accepting_updates = false;
      if (error.code !== "replayed_update") warn(`the sync server refused an update (${error.message}); the next version gets one`);
    }
    await remember({ sentFor: update.base_version, counted, token: null, sentAt: [...sentAt, Date.now()] });
  }

  function schedule(seconds) {
    clearTimeout(timer);
    timer = setTimeout(() => run(true), seconds * SECOND);
  }

  // One turn: send if due, then (on the timer) look for a newer model. Turns never overlap;
  // a failed one is tried again after a backoff.
  function run(withRefresh) {
    if (running) return withRefresh ? running.then(() => run(true)) : running;
    running = (async () => {
      try {
        await send();
        if (withRefresh) await refresh();
        failures = 0;
        if (withRefresh) schedule(checkSeconds());
      } catch (error) {
        failures += 1;
        const wait = Math.min(FIRST_RETRY_S * 2 ** (failures - 1), checkSeconds());
        warn(`federation: ${error.message}; trying again in ${wait} s`);
        schedule(wait);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  return {
    // Starts the turns; `fetched` is the model the engine booted from, if it fetched one.
    async start(fetched) {
      if (fetched) await remember({ etag: fetched.etag, federation: fetched.header.federation, since: Date.now() });
      schedule(fetched ? checkSeconds() : 0);
    },
    // With `improve`, what is learned from now on may be sent; without it nothing is.
    consent(purposes) {
      improve = Boolean(purposes.improve);
      if (improve) run(false);
    },
    // After the engine learned: send as soon as the update is due.
    learned: () => improve && run(false),
    // Forget: start over as a visitor the server never saw.
    reset() {
      for (const key of Object.keys(meta)) delete meta[key];
      attempt = null;
    },
  };
}
