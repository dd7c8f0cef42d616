// Start Python with the `edge` package importable. Initializing the interpreter and importing
// the engine is most of a boot, so build.py boots Pyodide once under Node, imports `edge` and
// keeps a snapshot of Python's memory (code only: no visitor exists at build time) as a
// hashed, precompressed file beside Pyodide, its zero pages left out (sparse.js). Every boot,
// a first visit's too, restores it instead of starting Python; one that does not restore (a
// server that does not serve it, a browser that cannot take it) means a normal, slower boot
// and a warning. Snapshots use Pyodide's `_makeSnapshot`/`_loadSnapshot` options, which it
// marks experimental: the version is pinned, and the snapshot's name names the Pyodide and
// `edge` builds it holds.
//
// Python imports `edge` from its zip (zipimport), written as it is into Pyodide's file
// system: the snapshot holds the modules already imported and the zip's directory, so a
// restored boot runs no Python before the engine's own (unpacking the zip ran Python's
// zipfile on every boot, and cost a tenth of it).

import { unpack } from "./sparse.js";

const EDGE_ZIP = "/home/pyodide/edge.zip";

// Python, with `edge` importable. Shared with browser_pkg/tools/python_snapshot.mjs, so the
// snapshot is made from the same steps.
export async function withEdge(loadPyodide, options, archive) {
  const [pyodide, bytes] = await Promise.all([loadPyodide(options), archive]);
  pyodide.FS.writeFile(EDGE_ZIP, new Uint8Array(bytes));
  if (!options._loadSnapshot) pyodide.pyimport("sys").path.insert(0, EDGE_ZIP); // a snapshot has it there
  return pyodide;
}

// `pyodideURL` is Pyodide's folder; `archive` and `snapshot` promises of the edge zip's and
// the sparse snapshot's bytes, downloading while Pyodide's own files do; `loaded` is called
// when Pyodide is up, before `edge` is in place (the boot timings).
export async function startPython(pyodideURL, archive, snapshot, warn, loaded = () => {}) {
  globalThis.caches?.delete("p13n-python").catch(() => {}); // where earlier versions kept a snapshot per device (6 MB)
  const { loadPyodide: load } = await import(`${pyodideURL}pyodide.mjs`);
  const loadPyodide = (options) => load(options).then(loaded);
  const memory = snapshot.then(unpack);
  memory.catch(() => {}); // Pyodide takes the promise, and fails with its error
  try {
    return await withEdge(loadPyodide, { indexURL: pyodideURL, _loadSnapshot: memory }, archive);
  } catch (error) {
    warn(`the Python snapshot did not restore; starting Python afresh: ${error?.message ?? error}`);
  }
  const pyodide = await withEdge(loadPyodide, { indexURL: pyodideURL }, archive);
  pyodide.runPython("import edge.worker_api");
  return pyodide;
}
