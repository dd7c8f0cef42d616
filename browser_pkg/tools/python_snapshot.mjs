// node python_snapshot.mjs PYODIDE_DIR EDGE_ZIP OUT: build.py's Python memory snapshot.
// Boots Pyodide under Node exactly as the worker does (python.js), imports the engine, and
// writes Python's memory to OUT, its zero pages left out (sparse.js). It holds code only:
// no visitor exists at build time.

import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { withEdge } from "../src/worker/python.js";
import { pack } from "../src/worker/sparse.js";

const [pyodideDir, edgeZip, out] = process.argv.slice(2).map((path) => resolve(path));
const { loadPyodide } = await import(pathToFileURL(`${pyodideDir}/pyodide.mjs`).href);
const archive = new Uint8Array(readFileSync(edgeZip)); // a plain array: Pyodide cannot take Node's Buffer
const pyodide = await withEdge(loadPyodide, { indexURL: `${pyodideDir}/`, _makeSnapshot: true }, archive);
pyodide.runPython("import edge.worker_api");
writeFileSync(out, pack(pyodide.makeMemorySnapshot()));
