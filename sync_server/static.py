"""The built bundle over HTTP: precompressed files and cache headers that suit their names.

build.py writes `NAME.br` and `NAME.gz` next to each compressible file and puts a content hash
in every file name but the snippet's (`worker.3f2a9c1b7d04.js`, `pyodide.c89aaae126e6/…`).
`BundleFiles` serves the smallest copy the client accepts, and lets browsers keep hashed
files for a year without asking again; other files are revalidated with their ETag.

>>> immutable("pyodide.c89aaae126e6/pyodide.asm.wasm"), immutable("personalize.js")
(True, False)
"""

from __future__ import annotations

import os
import re
from mimetypes import guess_type

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

HASHED = re.compile(r"\.[0-9a-f]{12}(\.|/|$)")  # build.HASH_CHARS hex digits between dots
REFUSED = re.compile(r"q\s*=\s*0(\.0{0,3})?")
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))  # preferred first: brotli is smaller
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def immutable(path: str) -> bool:
    """Whether `path` has a content hash in its name, so its bytes can never change."""
    return HASHED.search(path) is not None


def accepted(header_value: str) -> set[str]:
    """The codings an `Accept-Encoding` header allows, or the media types an `Accept` header
    names (`q=0` refuses one).

    >>> sorted(accepted("gzip;q=0.5, deflate, br;q=0"))
    ['deflate', 'gzip']
    """
    allowed = set()
    for part in header_value.lower().split(","):
        coding, _, params = (text.strip() for text in part.partition(";"))
        if coding and not REFUSED.fullmatch(params):
            allowed.add(coding)
    return allowed


class BundleFiles(StaticFiles):
    """StaticFiles that sends precompressed copies and long-lived cache headers for hashed names."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        path = original = os.fspath(full_path)
        request_headers = Headers(scope=scope)
        headers = {"cache-control": IMMUTABLE if immutable(self.get_path(scope)) else REVALIDATE}
        variants = [(encoding, path + suffix) for encoding, suffix in ENCODINGS if os.path.isfile(path + suffix)]
        if variants:
            headers["vary"] = "Accept-Encoding"
        codings = accepted(request_headers.get("accept-encoding", ""))
        for encoding, compressed in variants:
            if encoding in codings:
                headers["content-encoding"] = encoding
                path, stat_result = compressed, os.stat(compressed)
                break
        media_type = guess_type(original)[0] or "text/plain"
        response = FileResponse(path, status_code, headers, media_type=media_type, stat_result=stat_result)
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response
