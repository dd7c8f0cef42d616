"""Build the deployable bundle in dist/: what a site serves under /p13n/.

    python build.py            # incremental; unchanged inputs give identical bytes

dist/
  personalize.js          the snippet a page loads (bundled, minified); its name never changes
  widget.HASH.js          the preferences widget's button, which the snippet loads once it
                          has found the page's slots
  preferences.HASH.js     the preferences panel, which the widget loads only when it opens
  early.HASH.js           the early ranker: the slots' first paint, decided in JavaScript from
                          the visitor's model or the site's while the worker boots Python; the
                          snippet loads it beside the worker
  requests.HASH.js        the visitor's requests (consent changes, interests, export, forget,
                          sync codes), which the snippet loads only when the first one is made
  worker.HASH.js          the module worker that runs the engine
  tokens.HASH.js          participation tokens, imported by the worker only with `improve`
  edge.HASH.zip           the `edge` Python package, which the worker's Python imports from
  python-snapshot.HASH.bin  Python's memory with `edge` imported, made under Node, its zero
                          pages left out; the worker restores it instead of starting Python
                          (HASH: of the Pyodide and edge builds it was made from and the code
                          that makes it, so an unchanged build does not make it again)
  pyodide.HASH/           Pyodide's core runtime, copied from npm's package
  uplot/                  uPlot's script and style, for the admin dashboard's charts (not for pages)
  *.br, *.gz              precompressed copies, served to clients that accept them
  manifest.json           every file with its size and SRI hash (sha384), the entry points,
                          and the snippet's gzipped size

HASH is the start of the SHA-256 of the content, so every name but personalize.js is immutable:
the server may let browsers cache those files for a year. The snapshot's HASH is of its inputs
(two snapshots of the same Pyodide and edge differ in bytes, not in what they restore). Each
file names the next one (the snippet names the worker, the early ranker, the widget, the preferences panel
and the requests module, the worker the archive, Pyodide's folder and the Python snapshot),
so one short-lived file, personalize.js, is all a browser needs to revalidate. dist/ belongs to the build: files an
earlier build wrote and this one did not are removed.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import brotli

ROOT = Path(__file__).resolve().parent
PYODIDE = ROOT / "node_modules" / "pyodide"
SNAPSHOT_TOOL = ROOT / "browser_pkg" / "tools" / "python_snapshot.mjs"
# The code that makes a snapshot, and that the worker restores it with: a change makes a new one.
SNAPSHOT_CODE = (SNAPSHOT_TOOL, *(ROOT / "browser_pkg" / "src" / "worker" / name for name in ("python.js", "sparse.js")))
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
UPLOT = ROOT / "node_modules" / "uplot" / "dist"  # pinned in package.json
UPLOT_FILES = ("uPlot.iife.min.js", "uPlot.min.css")
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps keep the archive's bytes reproducible
HASH_CHARS = 12
COMPRESSIBLE = {".js", ".mjs", ".wasm", ".json", ".zip", ".bin"}  # Pyodide's stdlib zip stores most files uncompressed
# Quality 11 takes ~50 s on the 15 MB snapshot for 15 % fewer bytes than 9 (4.1 MB, not 4.9), on
# every first visit: worth it, once per snapshot. Larger files would take minutes.
BROTLI_BEST_UP_TO = 16 << 20
ENCODINGS = {
    ".br": lambda data: brotli.compress(data, quality=11 if len(data) <= BROTLI_BEST_UP_TO else 9),
    ".gz": lambda data: gzip.compress(data, 9, mtime=0),
}


class BuildError(Exception):
    """A build step could not run; the message says what to do."""


def content_hash(*blobs: bytes) -> str:
    digest = hashlib.sha256()
    for blob in blobs:
        digest.update(hashlib.sha256(blob).digest())
    return digest.hexdigest()[:HASH_CHARS]


def hashed(name: str, data: bytes) -> str:
    """`edge.zip` → `edge.3f2a9c1b7d04.zip`: a new name whenever the content changes."""
    stem, dot, suffix = name.partition(".")
    return f"{stem}.{content_hash(data)}{dot}{suffix}"


def write_if_changed(path: Path, data: bytes) -> None:
    """Leave an up-to-date file untouched so rebuilding changes nothing on disk."""
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def copy_pyodide(dist: Path) -> str:
    """Copy Pyodide's core into a folder named by its content; return the folder's name."""
    if not PYODIDE.is_dir():
        raise BuildError("node_modules/pyodide is missing: run `npm ci` first")
    folder = "pyodide." + content_hash(*((PYODIDE / name).read_bytes() for name in PYODIDE_FILES))
    for name in PYODIDE_FILES:
        source, target = PYODIDE / name, dist / folder / name
        if not (target.exists() and target.stat().st_size == source.stat().st_size):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return folder


def copy_uplot(dist: Path) -> None:
    """Copy uPlot to dist/uplot/: the server serves the admin's charts from the build, not from node_modules."""
    for name in UPLOT_FILES:
        if not (UPLOT / name).exists():
            raise BuildError(f"node_modules/uplot/dist/{name} is missing: run `npm ci` first")
        write_if_changed(dist / "uplot" / name, (UPLOT / name).read_bytes())


def edge_archive() -> bytes:
    """The `edge` package as a zip with sorted entries and fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((ROOT / "edge").rglob("*.py")):
            info = zipfile.ZipInfo(path.relative_to(ROOT).as_posix(), ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def python_snapshot(dist: Path, pyodide: str, edge: str) -> str:
    """Boot Pyodide under Node with the `edge` archive, import the engine and write Python's
    memory to `python-snapshot.HASH.bin`, HASH naming the two builds it holds and the code
    that makes and restores it."""
    name = f"python-snapshot.{content_hash(pyodide.encode(), edge.encode(), *(p.read_bytes() for p in SNAPSHOT_CODE))}.bin"
    if (dist / name).exists():
        return name
    if shutil.which("node") is None:
        raise BuildError("node is missing: install Node.js (it makes the Python snapshot)")
    tmp = dist / (name + ".tmp")
    result = subprocess.run(["node", str(SNAPSHOT_TOOL), str(PYODIDE), str(dist / edge), str(tmp)], capture_output=True, cwd=ROOT)
    if result.returncode:
        raise BuildError(f"the Python snapshot failed under Node:\n{result.stderr.decode()[-2000:]}")
    tmp.replace(dist / name)
    return name


def bundle(entry: str, fmt: str, constants: dict[str, object]) -> bytes:
    """Bundle one of browser_pkg's ES module trees with esbuild, baking in `constants`."""
    if not ESBUILD.exists():
        raise BuildError("esbuild is missing: run `npm ci` first")
    command = [str(ESBUILD), str(ROOT / "browser_pkg" / "src" / entry), "--bundle", "--minify",
               f"--format={fmt}", "--target=es2020", "--legal-comments=none", "--log-level=warning",
               *(f"--define:{name}={json.dumps(value)}" for name, value in constants.items())]
    result = subprocess.run(command, capture_output=True, cwd=ROOT)
    if result.returncode:
        raise BuildError(f"esbuild failed on {entry}:\n{result.stderr.decode()}")
    return result.stdout


def write_hashed(dist: Path, name: str, data: bytes) -> str:
    path = hashed(name, data)
    write_if_changed(dist / path, data)
    return path


def compress(path: Path) -> None:
    """Write `path.br` and `path.gz` next to `path` unless they are already newer than it."""
    data = None
    for suffix, encode in ENCODINGS.items():
        target = path.with_name(path.name + suffix)
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        data = data if data is not None else path.read_bytes()
        write_if_changed(target, encode(data))
        print(".", end="", flush=True)


def built_files(dist: Path) -> list[Path]:
    return sorted(p for p in dist.rglob("*") if p.is_file() and p.suffix not in ENCODINGS and p.name != "manifest.json")


def precompress(dist: Path) -> None:
    for path in built_files(dist):
        if path.suffix in COMPRESSIBLE:
            compress(path)


def remove_stale(dist: Path, entry_points: dict[str, str]) -> None:
    """Delete what earlier builds wrote that this build did not: old hashed names pile up otherwise."""
    keep = {"personalize.js", "manifest.json", *(name for key, name in entry_points.items() if key != "pyodide")}
    for path in sorted(dist.rglob("*"), reverse=True):  # children before their folders
        name = path.relative_to(dist).as_posix()
        base = name.removesuffix(".br").removesuffix(".gz")
        if base in keep or base.startswith((entry_points["pyodide"], "uplot")):
            continue
        path.rmdir() if path.is_dir() else path.unlink()


def manifest(dist: Path, entry_points: dict[str, str]) -> bytes:
    files = {}
    for path in built_files(dist):
        data = path.read_bytes()
        digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
        entry = {"size": len(data), "integrity": f"sha384-{digest}"}
        for suffix, encoding in ((".br", "br"), (".gz", "gzip")):
            compressed = path.with_name(path.name + suffix)
            if compressed.exists():
                entry[encoding] = compressed.stat().st_size
        files[path.relative_to(dist).as_posix()] = entry
    snippet = (dist / "personalize.js").read_bytes()
    summary = {"files": files, "entry_points": entry_points,
               "snippet_gzip_bytes": len(gzip.compress(snippet, 9, mtime=0))}
    return json.dumps(summary, indent=2, sort_keys=True).encode() + b"\n"


def build(dist: Path) -> dict:
    names: dict[str, str] = {}

    def bundle_worker() -> None:
        assets = {"pyodide": names["pyodide"] + "/", "edge": names["edge"], "snapshot": names["snapshot"],
                  "tokens": names["tokens"]}
        names["worker"] = write_hashed(dist, "worker.js", bundle("worker/worker.js", "esm", {"P13N_ASSETS": assets}))

    steps = [
        ("copy Pyodide core", lambda: names.update(pyodide=copy_pyodide(dist))),
        ("copy uPlot (the admin's charts)", lambda: copy_uplot(dist)),
        ("pack edge.zip", lambda: names.update(edge=write_hashed(dist, "edge.zip", edge_archive()))),
        ("snapshot Python with edge imported (Node)",
         lambda: names.update(snapshot=python_snapshot(dist, names["pyodide"], names["edge"]))),
        ("bundle tokens.js", lambda: names.update(tokens=write_hashed(
            dist, "tokens.js", bundle("tokens/tokens.js", "esm", {})))),
        ("bundle worker.js", bundle_worker),
        ("bundle preferences.js", lambda: names.update(preferences=write_hashed(
            dist, "preferences.js", bundle("snippet/preferences/panel.js", "esm", {})))),
        ("bundle widget.js", lambda: names.update(widget=write_hashed(
            dist, "widget.js", bundle("snippet/preferences/widget.js", "esm", {})))),
        ("bundle early.js", lambda: names.update(early=write_hashed(
            dist, "early.js", bundle("early/painter.js", "esm", {})))),
        ("bundle requests.js", lambda: names.update(requests=write_hashed(
            dist, "requests.js", bundle("snippet/requests.js", "esm", {})))),
        ("bundle personalize.js", lambda: write_if_changed(dist / "personalize.js", bundle(
            "snippet/index.js", "iife", {"P13N_WORKER": names["worker"], "P13N_PREFERENCES": names["preferences"],
                                         "P13N_WIDGET": names["widget"], "P13N_REQUESTS": names["requests"],
                                         "P13N_EARLY": names["early"]}))),
        ("remove stale files", lambda: remove_stale(dist, names)),
        ("precompress (brotli, gzip)", lambda: precompress(dist)),
        ("write manifest.json", lambda: write_if_changed(dist / "manifest.json", manifest(dist, names))),
    ]
    for number, (name, step) in enumerate(steps, 1):
        started = time.perf_counter()
        print(f"[{number}/{len(steps)}] {name} …", end="", flush=True)
        step()
        print(f" {1000 * (time.perf_counter() - started):.0f} ms")
    return json.loads((dist / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    args = parser.parse_args()
    try:
        summary = build(args.dist)
    except BuildError as error:
        sys.exit(f"\nbuild failed: {error}")
    total = sum(f["size"] for f in summary["files"].values())
    print(f"built {args.dist}: {len(summary['files'])} files, {total / 1e6:.1f} MB; "
          f"snippet {summary['snippet_gzip_bytes']} bytes gzipped")


if __name__ == "__main__":
    main()
