"""Build the deployable bundle in dist/: what a site serves under /p13n/.

    python build.py            # incremental; unchanged inputs give identical bytes

dist/
  personalize.js   the snippet a page loads (bundled, minified)
  worker.js        the module worker that runs the engine
  edge.zip         the `edge` Python package, unpacked by the worker
  pyodide/         Pyodide's core runtime, copied from npm's package
  manifest.json    every file with its size and SRI hash (sha384), and the snippet's gzipped size
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

ROOT = Path(__file__).resolve().parent
PYODIDE = ROOT / "node_modules" / "pyodide"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps keep the archive's bytes reproducible


class BuildError(Exception):
    """A build step could not run; the message says what to do."""


def write_if_changed(path: Path, data: bytes) -> None:
    """Leave an up-to-date file untouched so rebuilding changes nothing on disk."""
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def copy_pyodide(dist: Path) -> None:
    if not PYODIDE.is_dir():
        raise BuildError("node_modules/pyodide is missing: run `npm ci` first")
    for name in PYODIDE_FILES:
        source, target = PYODIDE / name, dist / "pyodide" / name
        if not (target.exists() and target.stat().st_size == source.stat().st_size
                and target.read_bytes() == source.read_bytes()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


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


def bundle(entry: str, fmt: str) -> bytes:
    """Bundle one of browser_pkg's ES module trees with esbuild."""
    if not ESBUILD.exists():
        raise BuildError("esbuild is missing: run `npm ci` first")
    command = [str(ESBUILD), str(ROOT / "browser_pkg" / "src" / entry), "--bundle", "--minify",
               f"--format={fmt}", "--target=es2020", "--legal-comments=none", "--log-level=warning"]
    result = subprocess.run(command, capture_output=True, cwd=ROOT)
    if result.returncode:
        raise BuildError(f"esbuild failed on {entry}:\n{result.stderr.decode()}")
    return result.stdout


def manifest(dist: Path) -> bytes:
    files = {}
    for path in sorted(p for p in dist.rglob("*") if p.is_file() and p.name != "manifest.json"):
        data = path.read_bytes()
        digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
        files[path.relative_to(dist).as_posix()] = {"size": len(data), "integrity": f"sha384-{digest}"}
    snippet = (dist / "personalize.js").read_bytes()
    summary = {"files": files, "snippet_gzip_bytes": len(gzip.compress(snippet, 9, mtime=0))}
    return json.dumps(summary, indent=2, sort_keys=True).encode() + b"\n"


def build(dist: Path) -> dict:
    steps = [
        ("copy Pyodide core", lambda: copy_pyodide(dist)),
        ("pack edge.zip", lambda: write_if_changed(dist / "edge.zip", edge_archive())),
        ("bundle personalize.js", lambda: write_if_changed(dist / "personalize.js", bundle("snippet/index.js", "iife"))),
        ("bundle worker.js", lambda: write_if_changed(dist / "worker.js", bundle("worker/worker.js", "esm"))),
        ("write manifest.json", lambda: write_if_changed(dist / "manifest.json", manifest(dist))),
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
