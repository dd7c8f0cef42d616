"""A visitor's data on the server: export it, sync their profile, or forget them.

    GET    /v1/profiles/{visitor}?site=KEY   everything held: profile and consent history
    PUT    /v1/profiles/{visitor}?site=KEY   {"profile": {...}}: store it (needs `sync` consent)
    DELETE /v1/profiles/{visitor}?site=KEY   forget the visitor: profile, consents, secret

Each call must present the visitor's secret (`Authorization: Bearer SECRET`), so no
one reads or erases another visitor's data. The profile is the device's business
(declared interests, decayed affinities, whatever its engine keeps); the server
checks only that it is a JSON object, nests at most MAX_DEPTH levels and fits in
`Settings.max_profile_bytes`.

>>> parse_profile({"profile": {"interests": ["hiking"]}}, max_bytes=100)
'{"interests":["hiking"]}'
>>> parse_profile({"profile": {"notes": "x" * 200}}, max_bytes=100)
Traceback (most recent call last):
...
sync_server.errors.ApiError: the profile is 212 bytes of JSON; the limit is 100
"""

from __future__ import annotations

import orjson
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse

from sync_server.auth import authenticate
from sync_server.checks import fields, json_body, nests_deeper, site_in_query, visitor_in_path
from sync_server.consent import consent_record, iso_time
from sync_server.errors import ApiError
from sync_server.middleware.ratelimit import limit_visitor
from sync_server.storage import NoSyncConsent, Store

MAX_DEPTH = 16


def parse_profile(payload: object, max_bytes: int) -> str:
    """The profile in `{"profile": {...}}` as compact JSON text, or a 4xx naming the problem."""
    try:
        profile = fields("body", payload, required={"profile"})["profile"]
        if not isinstance(profile, dict):
            raise ValueError(f"profile must be a JSON object, got {type(profile).__name__}")
        if nests_deeper(profile, MAX_DEPTH):
            raise ValueError(f"profile nests more than {MAX_DEPTH} levels deep")
    except ValueError as error:
        raise ApiError(422, "invalid_profile", str(error)) from None
    document = orjson.dumps(profile)
    if len(document) > max_bytes:
        raise ApiError(413, "too_large", f"the profile is {len(document)} bytes of JSON; the limit is {max_bytes}")
    return document.decode()


class Profile(HTTPEndpoint):
    """`/v1/profiles/{visitor}`: export, sync and erase one visitor's data."""

    async def get(self, request: Request) -> JSONResponse:
        """Everything the server holds about the visitor."""
        site, visitor = _authenticated(request)
        store = _store(request)
        profile = store.profile(site, visitor)
        return JSONResponse({
            "site": site,
            "visitor": visitor,
            "profile": orjson.loads(profile["document"]) if profile else None,
            "profile_updated_at": iso_time(profile["updated_at"]) if profile else None,
            "consents": [consent_record(row) for row in store.consents(site, visitor)],
            "tokens_issued": [{"round": row["round"], "issued_at": iso_time(row["issued_at"])}
                              for row in store.token_issues(site, visitor)],
        })

    async def put(self, request: Request) -> JSONResponse:
        """Store the visitor's profile, replacing the one held."""
        site, visitor = _authenticated(request)
        document = parse_profile(await json_body(request), request.app.state.settings.max_profile_bytes)
        try:
            updated_at = _store(request).save_profile(site, visitor, document)
        except NoSyncConsent:
            raise ApiError(403, "no_sync_consent",
                           f"visitor {visitor!r} has not granted sync consent, so no profile is stored") from None
        return JSONResponse({"site": site, "visitor": visitor, "profile_updated_at": iso_time(updated_at),
                             "bytes": len(document.encode())})

    async def delete(self, request: Request) -> JSONResponse:
        """Forget the visitor; an audit entry records that it happened, not who it was."""
        site, visitor = _authenticated(request)
        erased = _store(request).erase_visitor(site, visitor)
        return JSONResponse({"site": site, "visitor": visitor, "erased": erased})


def _authenticated(request: Request) -> tuple[str, str]:
    """The site and visitor of a request that holds the visitor's secret."""
    site, visitor = site_in_query(request), visitor_in_path(request)
    authenticate(request, site, visitor)
    limit_visitor(request, site, visitor)  # after: only the visitor can spend their own requests
    return site, visitor


def _store(request: Request) -> Store:
    return request.app.state.store
