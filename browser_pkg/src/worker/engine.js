// Boot Pyodide from our own origin and load the `edge` engine into it.
// build.py bakes in P13N_ASSETS, the content-hashed names of the files the engine needs:
// {"pyodide": "pyodide.HASH/", "edge": "edge.HASH.zip", "snapshot": "python-snapshot.HASH.bin",
// "tokens": "tokens.HASH.js"}, relative to this worker's URL.

import { startPython } from "./python.js";
import { keptSnapshot } from "./snapshot_store.js";

const base = new URL("./", import.meta.url);
const pyodideURL = new URL(P13N_ASSETS.pyodide, base).href;

async function fetchBytes(path) {
  const response = await fetch(new URL(path, base));
  if (!response.ok) throw new Error(`could not load ${path}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

// Call `fn` with the compact model's bytes as a Python memoryview (or None), freed afterwards.
function withBytes(pyodide, bytes, fn) {
  const view = bytes ? pyodide.toPy(bytes) : null;
  try {
    return fn(view);
  } finally {
    view?.destroy();
  }
}

// A Python object as JavaScript's, its proxy freed.
function taken(proxy, options) {
  try {
    return proxy.toJs(options);
  } finally {
    proxy.destroy();
  }
}

// Restore the saved state; if Python cannot read it, say so and start from the global model.
function restore(api, savedState, model, { engineConfig, visitor }, warn) {
  try {
    const booted = JSON.parse(api.boot(savedState, model, engineConfig, visitor));
    if (booted.warning) warn(booted.warning);
    return booted.restored;
  } catch (error) {
    if (savedState === null) throw error;
    warn(`discarded incompatible saved state: ${error.message.trim().split("\n").pop()}`);
    JSON.parse(api.boot(null, model, engineConfig, visitor));
    return false;
  }
}

// Downloads start at once and in parallel: `savedState` is a promise of JSON text or null,
// `globalModel` one of the compact model's bytes (or null), for a visitor without saved state.
// `timings` says when each step was done, in ms since the epoch (the page maps them to its
// own clock): the worker started, the snapshot arrived, Pyodide restored it, Python had
// `edge`, the saved state was read, the engine was ready. `visitor` is the id the page drew
// for a new visitor (its early ranker put them in a holdout group by it).
export async function bootEngine({ policy, visitor }, savedState, globalModel, warn) {
  const timings = { worker: performance.timeOrigin };
  const mark = (step) => (value) => ((timings[step] = performance.timeOrigin + performance.now()), value);
  const snapshot = keptSnapshot(P13N_ASSETS.snapshot, () => fetchBytes(P13N_ASSETS.snapshot), warn).then(mark("snapshot"));
  snapshot.catch(() => {}); // Pyodide takes the promise, and says why when it fails
  const python = startPython(pyodideURL, fetchBytes(P13N_ASSETS.edge), snapshot, warn, mark("pyodide")).then(mark("python"));
  const [pyodide, saved, model] = await Promise.all([python, savedState.then(mark("state")), globalModel]);
  const api = pyodide.pyimport("edge.worker_api");
  const fresh = { engineConfig: policy ? JSON.stringify({ policy }) : null, visitor }; // for a visitor without saved state
  const restored = withBytes(pyodide, model, (view) => restore(api, saved, view, fresh, warn));
  mark("engine")();
  return {
    restored,
    timings,
    discarded: saved !== null && !restored,
    ask: (message) => JSON.parse(api.handle(JSON.stringify(message))),
    // Take a newer global model (the compact form's bytes): {merged: version} or {error}.
    merge: (bytes) => withBytes(pyodide, bytes, (view) => JSON.parse(api.merge_model(view))),
    state: () => api.handle('{"type": "state"}'),
    // What each message may change, {type: ["state", "profile", "learned"]} (edge/worker_api.py's CHANGES).
    changes: taken(api.CHANGES, { dict_converter: Object.fromEntries }),
    // The page's early ranker's table of the engine (edge/early_table.py), as bytes.
    earlyTable: () => taken(api.early_table(Date.now() / 1000)),
    // A new visitor's engine, as after a first boot: what "forget me" leaves.
    reset: (model) => withBytes(pyodide, model, (view) => restore(api, null, view, { engineConfig: fresh.engineConfig }, warn)),
  };
}
