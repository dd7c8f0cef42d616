"""The versioned JSON API that devices speak (`/v1`)."""

from __future__ import annotations

import hashlib

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync_server.errors import ApiError
from sync_server.storage import Store, UnknownSite
from sync_server.updates import parse_update


def _store(request: Request) -> Store:
    return request.app.state.store


def _site(request: Request) -> dict:
    site = request.path_params["site"]
    try:
        return _store(request).site(site)
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {site!r}") from None


async def global_model(request: Request) -> Response:
    """The newest global model; devices revalidate it cheaply with If-None-Match."""
    site = _site(request)
    model = _store(request).latest_model(site["site"])
    body = orjson.dumps({**model, "hash_bits": site["hash_bits"]})
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60, must-revalidate"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def post_update(request: Request) -> Response:
    """Accept one device's model delta; 202 means it is stored durably."""
    site = _site(request)
    body = await _read_body(request)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {error}") from None
    store = _store(request)
    latest = store.latest_model(site["site"])["version"]
    update = parse_update(payload, 1 << site["hash_bits"], latest)
    update_id = store.add_update(site["site"], update)
    return JSONResponse({"accepted": update_id}, status_code=202)


async def _read_body(request: Request) -> bytes:
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"body is {declared} bytes; the limit is {limit}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", f"body is over the limit of {limit} bytes")
    return body
