// The personalizer's worker: Python stays off the page's main thread.
// The page sends {id, type, ...}; the worker answers {id, reply} or {id, error}, and tells
// the page {event: "saved", unsaved} after each checkpoint and {event: "warning", message}
// for problems it recovered from (the page logs them: a worker's console is easy to miss).

import { bootEngine } from "./engine.js";
import { checkpointer } from "./checkpoint.js";
import { openStateStore } from "./state_store.js";

const CHANGES_STATE = new Set(["decide", "track", "preferences", "configure"]);
let engine = null; // a promise, set by the "boot" message
let changed = () => {};

const warn = (message) => postMessage({ event: "warning", message });

async function boot(config) {
  const opened = openStateStore(config.site, warn);
  const booted = await bootEngine(config, opened.then((o) => o.saved), warn);
  const { store } = await opened;
  if (booted.discarded) await store.clear();
  changed = checkpointer(booted.state, store.save, (unsaved) => postMessage({ event: "saved", unsaved }));
  return booted;
}

async function answer({ type, ...message }) {
  if (type === "boot") {
    engine = boot(message.config);
    return { booted: true, timings: (await engine).timings };
  }
  if (!engine) throw new Error("the worker got a message before 'boot'");
  const reply = (await engine).ask({ type, ...message });
  if (reply.error) throw new Error(reply.error);
  if (CHANGES_STATE.has(type)) changed();
  return reply;
}

self.onmessage = async ({ data }) => {
  try {
    postMessage({ id: data.id, reply: await answer(data) });
  } catch (error) {
    postMessage({ id: data.id, error: String(error?.message ?? error) });
  }
};
