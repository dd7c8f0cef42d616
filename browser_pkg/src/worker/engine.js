// Boot Pyodide from our own origin and load the `edge` engine into it.

const base = new URL("./", import.meta.url);

async function fetchBytes(path) {
  const response = await fetch(new URL(path, base));
  if (!response.ok) throw new Error(`could not load ${path}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function fetchGlobalModel(site, syncUrl) {
  if (!syncUrl) return null;
  try {
    const response = await fetch(new URL(`v1/sites/${encodeURIComponent(site)}/model`, syncUrl));
    if (response.ok) return await response.text();
    console.warn(`[p13n] global model unavailable: HTTP ${response.status}; starting fresh`);
  } catch (error) {
    console.warn("[p13n] global model unavailable; starting fresh:", error);
  }
  return null;
}

export async function bootEngine({ site, sync }, savedState) {
  const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", base).href);
  const [pyodide, archive, globalModel] = await Promise.all([
    loadPyodide({ indexURL: new URL("pyodide/", base).href }),
    fetchBytes("edge.zip"),
    savedState ? null : fetchGlobalModel(site, sync),
  ]);
  pyodide.unpackArchive(archive, "zip", { extractDir: "/home/pyodide/p13n" });
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/p13n')");
  const api = pyodide.pyimport("edge.worker_api");
  const booted = JSON.parse(api.boot(savedState ?? null, globalModel));
  if (booted.warning) console.warn("[p13n]", booted.warning);
  return {
    ask: (message) => JSON.parse(api.handle(JSON.stringify(message))),
    state: () => api.handle('{"type": "state"}'),
  };
}
