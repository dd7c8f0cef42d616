// The visitor's engine state in IndexedDB: one JSON text per site, on this device only.
// A database this code cannot use (another version, missing store, not text) is discarded
// with a warning: the visitor loses what was learned, never the page.

const DB_NAME = "p13n";
const VERSION = 1;
const STORE = "engine-state";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function open() {
  const req = indexedDB.open(DB_NAME, VERSION);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE);
  const db = await request(req);
  db.onversionchange = () => db.close(); // let another tab upgrade or delete the database
  return db;
}

async function openStore(site, warn) {
  const db = await open();
  const run = (mode, action) => request(action(db.transaction(STORE, mode).objectStore(STORE)));
  const store = {
    load: () => run("readonly", (s) => s.get(site)),
    save: (stateJson) => run("readwrite", (s) => s.put(stateJson, site)),
    clear: () => run("readwrite", (s) => s.delete(site)),
  };
  const saved = await store.load();
  if (saved === undefined || typeof saved === "string") return { store, saved: saved ?? null };
  warn(`discarded saved state that is a ${typeof saved}, not JSON text`);
  await store.clear();
  return { store, saved: null };
}

// Resolves {store, saved}: the store to checkpoint into and the saved JSON text (or null).
export async function openStateStore(site, warn) {
  try {
    return await openStore(site, warn);
  } catch (error) {
    warn(`discarded an unusable state database (${error.name}: ${error.message})`);
    await request(indexedDB.deleteDatabase(DB_NAME));
    return openStore(site, warn);
  }
}
