"""The sync server serves the built bundle precompressed, with cache headers that suit each name."""

from __future__ import annotations

import json

import httpx

from tests.conftest import ROOT

DIST = ROOT / "dist"


def entry_points() -> dict[str, str]:
    return json.loads((DIST / "manifest.json").read_text())["entry_points"]


def test_hashed_files_are_immutable_and_sent_in_the_best_encoding_the_client_accepts(server):
    wasm = f"{entry_points()['pyodide']}/pyodide.asm.wasm"
    url = f"{server.url}/p13n/{wasm}"
    original = (DIST / wasm).read_bytes()

    br = httpx.get(url, headers={"accept-encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br" and br.headers["content-type"] == "application/wasm"
    assert br.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert br.headers["vary"] == "Accept-Encoding"
    assert br.content == original  # httpx decodes it
    assert br.num_bytes_downloaded == (DIST / f"{wasm}.br").stat().st_size < len(original) / 3

    gz = httpx.get(url, headers={"accept-encoding": "gzip, br;q=0"})
    assert gz.headers["content-encoding"] == "gzip" and gz.content == original
    assert gz.num_bytes_downloaded == (DIST / f"{wasm}.gz").stat().st_size

    plain = httpx.get(url, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == original
    assert len({br.headers["etag"], gz.headers["etag"], plain.headers["etag"]}) == 3


def test_the_snippet_is_revalidated_and_answers_304_when_unchanged(server):
    first = httpx.get(f"{server.url}/p13n/personalize.js", headers={"accept-encoding": "gzip"})
    assert first.headers["cache-control"] == "no-cache" and first.headers["content-encoding"] == "gzip"
    again = httpx.get(f"{server.url}/p13n/personalize.js",
                      headers={"accept-encoding": "gzip", "if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"
    assert entry_points()["worker"] in first.text  # the snippet names its worker
    assert entry_points()["preferences"] in first.text  # and the panel it loads when it opens
    assert entry_points()["widget"] in first.text and entry_points()["requests"] in first.text  # and its other parts


def test_the_worker_names_the_archive_pyodide_and_the_python_snapshot_it_was_built_with(server):
    names = entry_points()
    worker = httpx.get(f"{server.url}/p13n/{names['worker']}")
    assert worker.headers["cache-control"].endswith("immutable")
    assert names["edge"] in worker.text and names["pyodide"] in worker.text and names["snapshot"] in worker.text
    assert httpx.get(f"{server.url}/p13n/{names['edge']}").status_code == 200
    with httpx.stream("GET", f"{server.url}/p13n/{names['snapshot']}", headers={"accept-encoding": "br"}) as snapshot:
        assert snapshot.headers["content-encoding"] == "br" and snapshot.headers["cache-control"].endswith("immutable")
        assert int(snapshot.headers["content-length"]) == (DIST / f"{names['snapshot']}.br").stat().st_size
