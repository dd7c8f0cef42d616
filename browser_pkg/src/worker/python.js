// Start Python with the `edge` package importable. Initializing the interpreter and importing
// the engine is most of a boot, so build.py boots Pyodide once under Node, imports `edge` and
// keeps a snapshot of Python's memory (code only: no visitor exists at build time) as a
// hashed, precompressed file beside Pyodide. Every boot, a first visit's too, restores it
// instead of starting Python; one that does not restore (a server that does not serve it, a
// browser that cannot take it) means a normal, slower boot and a warning. Snapshots use
// Pyodide's `_makeSnapshot`/`_loadSnapshot` options, which it marks experimental: the
// version is pinned, and the snapshot's name names the Pyodide and `edge` builds it holds.

const EDGE_DIR = "/home/pyodide/p13n";

// Python, with `edge` unpacked (files live outside the snapshot) and on sys.path. Shared with
// browser_pkg/tools/python_snapshot.mjs, so the snapshot is made from the same steps.
export async function withEdge(loadPyodide, options, archive) {
  const [pyodide, bytes] = await Promise.all([loadPyodide(options), archive]);
  pyodide.unpackArchive(bytes, "zip", { extractDir: EDGE_DIR });
  pyodide.runPython(`import sys\nif '${EDGE_DIR}' not in sys.path: sys.path.insert(0, '${EDGE_DIR}')`);
  return pyodide;
}

// `pyodideURL` is Pyodide's folder; `archive` and `snapshot` promises of the edge zip's and
// the snapshot's bytes, downloading while Pyodide's own files do.
export async function startPython(pyodideURL, archive, snapshot, warn) {
  globalThis.caches?.delete("p13n-python").catch(() => {}); // where earlier versions kept a snapshot per device (6 MB)
  const { loadPyodide } = await import(`${pyodideURL}pyodide.mjs`);
  try {
    return await withEdge(loadPyodide, { indexURL: pyodideURL, _loadSnapshot: snapshot }, archive);
  } catch (error) {
    warn(`the Python snapshot did not restore; starting Python afresh: ${error?.message ?? error}`);
  }
  const pyodide = await withEdge(loadPyodide, { indexURL: pyodideURL }, archive);
  pyodide.runPython("import edge.worker_api");
  return pyodide;
}
