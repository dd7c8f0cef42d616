// The visitor's engine state in IndexedDB, on this device only: per site, the engine's state
// as JSON text, its table for the early ranker, and what federation remembers between visits
// (an object, see worker/federation.js). The worker saves them, the page's early ranker reads
// the table, and "forget me" clears them.
// A database this code cannot use (another version, missing store, not text) is discarded
// with a warning: the visitor loses what was learned, never the page.

import { openDatabase, request } from "./idb.js";

const DB_NAME = "p13n";
const STORE = "engine-state";
const open = () => openDatabase(DB_NAME, STORE);

const metaKey = (site) => `${site} federation`;
const earlyKey = (site) => `${site} early`; // the page's early ranker reads it (savedEarlyTable)
const runIn = (db, mode, action) => request(action(db.transaction(STORE, mode).objectStore(STORE)));
const clearSite = (db, site) =>
  runIn(db, "readwrite", (s) => (s.delete(metaKey(site)), s.delete(earlyKey(site)), s.delete(site)));

async function openStore(site, warn) {
  const db = await open();
  const run = (mode, action) => runIn(db, mode, action);
  const store = {
    // The engine's state, and its table for the early ranker, in one transaction.
    save: ([stateJson, table]) => run("readwrite", (s) => (s.put(table, earlyKey(site)), s.put(stateJson, site))),
    saveMeta: (meta) => run("readwrite", (s) => s.put(meta, metaKey(site))),
    clear: () => clearSite(db, site),
  };
  let [saved, meta] = [await run("readonly", (s) => s.get(site)), await run("readonly", (s) => s.get(metaKey(site)))];
  if (saved !== undefined && typeof saved !== "string") {
    warn(`discarded saved state that is a ${typeof saved}, not JSON text`);
    [saved, meta] = [undefined, undefined];
    await store.clear();
  }
  return { store, saved: saved ?? null, meta: meta && typeof meta === "object" ? meta : {} };
}

// Resolves {store, saved, meta}: the store to checkpoint into, the saved JSON text (or null)
// and what federation remembered ({} if nothing).
export async function openStateStore(site, warn) {
  try {
    return await openStore(site, warn);
  } catch (error) {
    warn(`discarded an unusable state database (${error.name}: ${error.message})`);
    await request(indexedDB.deleteDatabase(DB_NAME));
    return openStore(site, warn);
  }
}

// The table the worker saved for the page's early ranker (edge/early_table.py), or null.
export async function savedEarlyTable(site) {
  const db = await open();
  try {
    const table = await runIn(db, "readonly", (s) => s.get(earlyKey(site)));
    return table instanceof Uint8Array ? table : null;
  } finally {
    db.close();
  }
}

// Erase the site's state from the page, when no worker runs to do it ("forget me"). A
// database this code cannot open is deleted whole: what it held is unusable anyway.
export async function clearState(site, warn) {
  try {
    const db = await open();
    await clearSite(db, site);
    db.close();
  } catch (error) {
    warn(`deleted an unusable state database (${error.name}: ${error.message})`);
    await request(indexedDB.deleteDatabase(DB_NAME));
  }
}
