// The Python snapshot kept on the device, in IndexedDB as a Blob. A warm boot reads it back
// in tens of milliseconds; from the HTTP cache, the same file took hundreds (brotli decoded
// again, and megabytes of chunks handed to the worker one by one). Code only, no visitor
// data: one entry, named by the build, replaced when a new build's snapshot is kept.

import { openDatabase, request } from "../shared/idb.js";

const STORE = "snapshot";

async function keep(db, name, bytes) {
  const store = db.transaction(STORE, "readwrite").objectStore(STORE);
  store.clear(); // an earlier build's
  await request(store.put(new Blob([bytes]), name));
}

// The snapshot's bytes: the device's copy, or `download()`'s, which is then kept (a device
// that cannot keep it downloads it, or takes it from the HTTP cache, next time).
export async function keptSnapshot(name, download, warn) {
  const db = await openDatabase("p13n-python", STORE).catch(() => null); // none (private modes may refuse): download
  const read = db && request(db.transaction(STORE).objectStore(STORE).get(name)).then((blob) => blob?.arrayBuffer());
  const kept = await read?.catch(() => null); // unreadable (the browser dropped its file): download
  if (kept) return kept;
  const bytes = await download();
  if (db) keep(db, name, bytes).catch((error) => warn(`could not keep the Python snapshot on this device: ${error.message}`));
  return bytes;
}
