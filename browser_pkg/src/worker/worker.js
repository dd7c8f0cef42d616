// The personalizer's worker: Python stays off the page's main thread, and so does every
// call to the sync server. The page sends {id, type, ...}; the worker answers {id, reply} or
// {id, error}, and tells the page {event: "saved", unsaved}, the changes not saved yet, after
// each change (before its reply) and each checkpoint, {event: "merged", version} after taking
// a new global model and {event: "warning", message} for problems it recovered from (the page
// logs them: a worker's console is easy to miss).
//
// What leaves the device follows the visitor's consent: nothing but requests for the global
// model without it; anonymous updates with `improve` (federation.js), and, for them, a
// participation token a round under the visitor's secret; the profile, under the visitor's
// secret, with `sync`. The page keeps the consent (snippet/visitor.js) and passes it in `boot`
// and `consent` as {visitor, secret, policyVersion, purposes: {personalize, improve, sync}};
// the worker holds the one it was last given, `visitor`, which federation and the profile's
// sync read. `restore` reads the profile another device synced, under the id and secret the
// visitor brought from it, and acts under them from then on, as the page does.

import { bootEngine } from "./engine.js";
import { checkpointer } from "./checkpoint.js";
import { federation } from "./federation.js";
import { forgetVisitor } from "../shared/forget.js";
import { openStateStore } from "../shared/state_store.js";
import { syncClient } from "../shared/sync_client.js";

const PROFILE_SYNC_DELAY_MS = 5000; // a burst of clicks makes one upload
let engine = null; // a promise, set by the "boot" message
const NOBODY = { purposes: {} }; // no identity, nothing granted: before boot, and after "forget me"
let visitor = NOBODY;

const warn = (message) => postMessage({ event: "warning", message });

async function fetchModel(client) {
  try {
    return await client.model(null);
  } catch (error) {
    warn(`global model unavailable; starting fresh: ${error.message}`);
    return null;
  }
}

// Uploads the profile (with `sync`) a little after it changed.
function profileSync(booted, client) {
  let timer = null;
  const allowed = () => client && visitor.purposes.sync;
  const upload = () =>
    allowed() && client.putProfile(visitor, booted.ask({ type: "profile" }).profile).catch((error) =>
      warn(`could not sync the profile; it stays on this device: ${error.message}`));
  return {
    now: upload,
    soon() {
      if (allowed() && !timer) timer = setTimeout(() => ((timer = null), upload()), PROFILE_SYNC_DELAY_MS);
    },
  };
}

// Learning from before a consent is not sent under it. When `improve` is granted (on this
// visit, or on one where the engine did not run), the engine measures its next delta from its
// model as it is now, and the counters so far count as sent; `meta.improving` remembers
// the grant across visits.
async function followImprove({ ask, meta, store, changed }) {
  const improving = Boolean(visitor.purposes.improve);
  if (improving === Boolean(meta.improving)) return;
  if (improving) {
    meta.counted = ask({ type: "begin_federation" }).counted;
    changed();
  }
  meta.improving = improving;
  await store.saveMeta({ ...meta });
}

async function boot(config) {
  const client = config.sync ? syncClient(config.sync, config.site) : null;
  const opened = openStateStore(config.site, warn);
  const saved = opened.then((o) => o.saved);
  const fetched = saved.then((state) => (state || !client ? null : fetchModel(client)));
  const booted = await bootEngine(config, saved, fetched.then((f) => f?.body ?? null), warn);
  const { store, meta } = await opened;
  if (booted.discarded) await store.clear();
  const saving = () => [booted.state(), booted.earlyTable()];
  const changed = checkpointer(saving, store.save, (unsaved) => postMessage({ event: "saved", unsaved }));
  const onMerged = (version) => {
    changed();
    postMessage({ event: "merged", version });
  };
  const federated = client
    ? federation({ ask: booted.ask, merge: booted.merge, client, meta, saveMeta: store.saveMeta, warn, onMerged,
                   who: () => visitor })
    : { start() {}, sendDue() {}, reset() {} };
  await federated.start(await fetched);
  const running = { ...booted, config, client, store, meta, changed, federated, profile: profileSync(booted, client) };
  await followImprove(running);
  federated.sendDue();
  return running;
}

// {recorded, profile_erased}: consent is recorded with the server only when the page asks
// (the visitor granted something the server is needed for, or it knows them already), and
// then takes effect only once the server has it: a refusal or a failure changes nothing.
async function consent(running, { record, ...given }) {
  if (record && !running.client) throw new Error("no sync server (data-sync) to record consent with");
  const answer = record ? await running.client.consent(given) : null;
  visitor = given;
  await followImprove(running);
  running.federated.sendDue();
  if (!answer) return { recorded: false, profile_erased: false };
  running.profile.now();
  return { recorded: true, profile_erased: answer.profile_erased };
}

// Everything held about the visitor: the engine's state on this device, and the server's
// copy when the server knows them.
async function exportData(running, { known }) {
  const server = known && running.client ? await running.client.exportProfile(visitor) : null;
  return { device: { engine: JSON.parse(running.state()), federation: { ...running.meta } }, server };
}

// "Forget me" (forget.js): the engine starts over as a new visitor's, from the global model as
// it is now, and federation as a device the server never saw.
async function forget(running, { known }) {
  let fetched = null;
  const startOver = async () => {
    visitor = NOBODY;
    running.federated.reset();
    fetched = running.client ? await fetchModel(running.client) : null;
    running.reset(fetched?.body ?? null);
  };
  const { sync, site } = running.config;
  const server = await forgetVisitor({ sync, site, who: visitor, known }, warn, startOver);
  await running.federated.start(fetched);
  return { forgotten: true, server };
}

// Take the profile another device synced, under the id and secret of the visitor's sync code:
// {restored: true, interests, inForce} (the consent the server holds), or {restored: false,
// reason} for a code that opens no profile. The server copy of this device's former id, if
// it knew one, is erased first: the visitor could not reach it any more.
async function restore(running, { visitor: id, secret, known }) {
  if (!running.client) throw new Error("no sync server (data-sync) to restore a profile from");
  const held = await running.client.exportProfile({ visitor: id, secret }).catch((error) => {
    if (error.code === "wrong_secret") return null;
    throw error;
  });
  if (held === null) return { restored: false, reason: "unknown" };
  if (held.profile === null) return { restored: false, reason: "empty" };
  if (known && visitor.visitor !== id) await running.client.forget(visitor);
  const reply = running.ask({ type: "restore_profile", profile: held.profile });
  if (reply.error) throw new Error(`could not restore the synced profile: ${reply.error}`);
  visitor = { ...visitor, visitor: id, secret };
  running.changed();
  const latest = held.consents.at(-1);
  return { restored: true, interests: reply.interests, inForce: latest && { policyVersion: latest.policy_version, purposes: latest.purposes } };
}

// Epoch ms as ms on the page's clock, whose origin the page sends.
const pageClock = (timings, origin = 0) => Object.fromEntries(Object.entries(timings).map(([step, at]) => [step, at - origin]));

const VISITOR_CALLS = { consent, export: exportData, forget, restore };

async function answer({ type, ...message }) {
  if (type === "boot") {
    visitor = message.visitor ?? visitor;
    engine = boot(message.config);
    return { booted: true, timings: pageClock((await engine).timings, message.origin) };
  }
  if (!engine) throw new Error("the worker got a message before 'boot'");
  const running = await engine;
  if (VISITOR_CALLS[type]) return VISITOR_CALLS[type](running, message);
  const reply = running.ask({ type, ...message });
  if (reply.error) throw new Error(reply.error);
  follow(running, running.changes[type] ?? []);
  return reply;
}

// Act on what a message changed, as edge/worker_api.py's CHANGES names it: save the engine's
// state, sync the visitor's profile (with `sync`), send what was learned once an update is
// due (with `improve`). Each waits until the page has its reply.
function follow(running, changed) {
  if (changed.includes("state")) running.changed(); // counted now, written a task later (checkpoint.js)
  if (changed.includes("profile")) running.profile.soon();
  if (changed.includes("learned")) setTimeout(running.federated.sendDue);
}

self.onmessage = async ({ data }) => {
  try {
    postMessage({ id: data.id, reply: await answer(data) });
  } catch (error) {
    postMessage({ id: data.id, error: String(error?.message ?? error) });
  }
};
