// The visitor's engine state in IndexedDB: one JSON text per site, on this device only.

const DB_NAME = "p13n";
const STORE = "engine-state";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function open() {
  const req = indexedDB.open(DB_NAME, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE);
  return request(req);
}

export async function openStateStore(site) {
  const db = await open();
  const run = (mode, action) => request(action(db.transaction(STORE, mode).objectStore(STORE)));
  return {
    load: () => run("readonly", (s) => s.get(site)),
    save: (stateJson) => run("readwrite", (s) => s.put(stateJson, site)),
    clear: () => run("readwrite", (s) => s.delete(site)),
  };
}
