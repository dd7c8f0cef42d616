"""Which web pages may talk to a site's API: its allowed origins, enforced with CORS.

A site key is public (it is in the page's HTML): it says which site a request is
for, it proves nothing. What a browser does prove is the page's origin, in the
`Origin` header. So a `/v1` request that names a site (`/v1/sites/KEY/…` or
`?site=KEY`) and carries an `Origin` is let through only if that origin is in the
site's list or is this server's own origin (the demo pages); any other is refused
with 403, before the request does anything. Allowed requests get the CORS headers
the browser needs to read the answer, errors included.

Each server process reads a site's origins at most once a second (every update a browser
sends is checked), so a change made with `set-origins` applies within a second.

Requests without an `Origin` (curl, a load generator, same-origin GETs) pass: CORS
protects visitors' browsers, it cannot stop a program that forges headers, which is
why visitor data also needs the visitor's secret.

>>> parse_origin("https://Shop.example:8443"), parse_origin("https://shop.example:443")
('https://shop.example:8443', 'https://shop.example')
>>> parse_origin("http://[::1]:8000/")
'http://[::1]:8000'
>>> parse_origin("https://shop.example/products")
Traceback (most recent call last):
...
ValueError: an origin is scheme://host[:port] with http or https and no path, got 'https://shop.example/products'
"""

from __future__ import annotations

import functools
import re
import time
from urllib.parse import urlsplit

from starlette.datastructures import URL, QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_server.asgi import header
from sync_server.errors import ApiError, error_response
from sync_server.storage import Store, UnknownSite

SITE_IN_PATH = re.compile(r"/v1/sites/([^/]+)/")
ALLOW_METHODS = "GET, POST, PUT, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type, If-None-Match"
EXPOSE_HEADERS = "ETag, Retry-After"
PREFLIGHT_MAX_AGE = "600"
ORIGINS_TTL_SECONDS = 1.0  # a change of a site's origins applies within this long


def parse_origin(text: str) -> str:
    """`text` as browsers send it in `Origin` (lower case, no default port), or ValueError."""
    problem = ValueError(f"an origin is scheme://host[:port] with http or https and no path, got {text!r}")
    parts = urlsplit(text.strip())
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        raise problem from None
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise problem
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
    default_port = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


class SiteOrigins:
    """ASGI middleware: answers CORS preflights and refuses origins a site does not allow."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app, self.store = app, store
        self._origins: dict[str, tuple[float, list[str]]] = {}  # site -> (when read, its origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        origin = header(scope, b"origin")
        if origin is None or (origin := origin.decode("latin-1")) == _own_origin(scope):
            return await self.app(scope, receive, send)
        refusal = self._refusal(scope, origin)
        if refusal is not None:
            return await error_response(scope, refusal)(scope, receive, send)
        if scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method") is not None:
            headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                       "Access-Control-Allow-Methods": ALLOW_METHODS, "Access-Control-Allow-Headers": ALLOW_HEADERS,
                       "Access-Control-Max-Age": PREFLIGHT_MAX_AGE}
            return await Response(status_code=204, headers=headers)(scope, receive, send)
        raw_headers = _cors_headers(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], *raw_headers]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _refusal(self, scope: Scope, origin: str) -> ApiError | None:
        in_path = SITE_IN_PATH.match(scope["path"])
        site = in_path.group(1) if in_path else QueryParams(scope["query_string"]).get("site")
        if site is None:
            return ApiError(403, "origin_not_allowed", f"origin {origin!r} may only call endpoints that name a site")
        try:
            allowed = self._allowed_origins(site)
        except UnknownSite:
            return ApiError(404, "unknown_site", f"no site with key {site!r}")
        if origin not in allowed:
            return ApiError(403, "origin_not_allowed", f"site {site!r} does not allow requests from {origin!r}")
        return None

    def _allowed_origins(self, site: str) -> list[str]:
        # Every update a browser sends carries an Origin, and a query on the event loop lets the
        # ingest thread take the GIL: read each site's origins at most once a second.
        now = time.monotonic()
        if site not in self._origins or now - self._origins[site][0] > ORIGINS_TTL_SECONDS:
            self._origins[site] = now, self.store.site_origins(site)
        return self._origins[site][1]


@functools.lru_cache(maxsize=1024)  # only origins some site allows get here: few of them
def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """The CORS headers of an answer to `origin` (allowed), as ASGI sends them: made once per origin,
    as every update a browser sends needs them."""
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
            (b"access-control-expose-headers", EXPOSE_HEADERS.encode())]


def _own_origin(scope: Scope) -> str:
    host = header(scope, b"host")  # every HTTP/1.1 request names it: the quick way
    if host is not None:
        return f"{scope['scheme']}://{host.decode('latin-1')}"
    url = URL(scope=scope)
    return f"{url.scheme}://{url.netloc}"
