// IndexedDB with promises: a request's result, and a database of one object store.

export function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export async function openDatabase(name, store) {
  const req = indexedDB.open(name, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(store);
  const db = await request(req);
  db.onversionchange = () => db.close(); // let another tab upgrade or delete the database
  return db;
}
