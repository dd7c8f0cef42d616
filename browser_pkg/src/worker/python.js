// Start Python with the `edge` package importable, from a memory snapshot when this device
// has one. Initializing the interpreter and importing the engine is most of a boot; the first
// boot therefore snapshots Python's memory right after importing `edge` (code only: no visitor
// data exists yet) into Cache Storage, gzipped, and later boots restore it several times
// faster. The key names the Pyodide and `edge` builds, so a new build never restores an old
// snapshot; one that fails to restore is deleted with a warning. Snapshots use Pyodide's
// `_makeSnapshot`/`_loadSnapshot` options, which it marks experimental; the version is pinned.

const EDGE_DIR = "/home/pyodide/p13n";
const CACHE = "p13n-python";

async function readSnapshot(cache, key) {
  const hit = await cache.match(key);
  if (!hit) return null;
  const bytes = new Response(hit.body.pipeThrough(new DecompressionStream("gzip")));
  return new Uint8Array(await bytes.arrayBuffer());
}

async function writeSnapshot(cache, key, bytes) {
  const gzipped = new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip")));
  await cache.put(key, new Response(await gzipped.blob()));
  for (const old of await cache.keys()) if (old.url !== key.href) await cache.delete(old);
}

// Python, with `edge` unpacked (files live outside the snapshot) and on sys.path.
async function withEdge(loadPyodide, options, archive) {
  const [pyodide, bytes] = await Promise.all([loadPyodide(options), archive]);
  pyodide.unpackArchive(bytes, "zip", { extractDir: EDGE_DIR });
  pyodide.runPython(`import sys\nif '${EDGE_DIR}' not in sys.path: sys.path.insert(0, '${EDGE_DIR}')`);
  return pyodide;
}

// `pyodideURL` is Pyodide's folder; `archive` a promise of the edge zip's bytes.
export async function startPython(pyodideURL, archive, warn) {
  const { loadPyodide } = await import(`${pyodideURL}pyodide.mjs`);
  const key = new URL(`snapshot/${P13N_ASSETS.pyodide}${P13N_ASSETS.edge}`, pyodideURL);
  const cache = globalThis.caches ? await caches.open(CACHE) : null; // none outside secure contexts
  const snapshot = cache && (await readSnapshot(cache, key).catch((error) => {
    warn(`could not read the Python snapshot; starting Python afresh: ${error}`);
    return null;
  }));
  if (snapshot) {
    try {
      return await withEdge(loadPyodide, { indexURL: pyodideURL, _loadSnapshot: snapshot }, archive);
    } catch (error) {
      warn(`discarded a Python snapshot that did not restore: ${error}`);
      await cache.delete(key);
    }
  }
  const pyodide = await withEdge(loadPyodide, { indexURL: pyodideURL, _makeSnapshot: Boolean(cache) }, archive);
  pyodide.runPython("import edge.worker_api");
  if (cache) {
    writeSnapshot(cache, key, pyodide.makeMemorySnapshot()).catch((error) =>
      warn(`could not keep a Python snapshot; the next boot starts Python afresh: ${error}`));
  }
  return pyodide;
}
