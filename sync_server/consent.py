"""Purpose-level consent: what a visitor allows, under which policy version, and when.

    POST /v1/consent?site=SITE_KEY
    Authorization: Bearer DEVICE_SECRET
    {"visitor": "Yx3…", "policy_version": "2026-01",
     "purposes": {"personalize": true, "improve": false, "sync": true}}

The purposes are

- `personalize`: rank content on the device (nothing leaves it for this);
- `improve`: send clipped, anonymous model updates to the server;
- `sync`: keep the visitor's profile on the server. Revoking it erases that profile.

Every call appends a record, the latest one is in force, and the history stays (it is
the proof of what was allowed when) until the visitor asks to be forgotten. The
visitor's first call registers their device secret (see `auth`).

>>> parse_consent({"visitor": "a" * 22, "policy_version": "v1",
...                "purposes": {"personalize": True, "improve": False, "sync": False}})
Consent(visitor='aaaaaaaaaaaaaaaaaaaaaa', policy_version='v1', personalize=True, improve=False, sync=False)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from sync_server.auth import authenticate
from sync_server.checks import VISITOR_ID, VISITOR_ID_RULE, boolean, fields, json_body, matching, site_in_query
from sync_server.errors import ApiError
from sync_server.middleware.ratelimit import limit_visitor
from sync_server.records import Consent

PURPOSES = ("personalize", "improve", "sync")
POLICY_VERSION = re.compile(r"[\x21-\x7e]{1,64}")  # printable ASCII, no spaces: "2026-01", "v3.1"


def parse_consent(payload: object) -> Consent:
    """The consent in `payload`, or a 422 naming the first problem."""
    try:
        body = fields("consent", payload, required={"visitor", "policy_version", "purposes"})
        purposes = fields("purposes", body["purposes"], required=set(PURPOSES))
        return Consent(
            visitor=matching("visitor", body["visitor"], VISITOR_ID, VISITOR_ID_RULE),
            policy_version=matching(
                "policy_version", body["policy_version"], POLICY_VERSION, "1 to 64 printable characters, no spaces"
            ),
            **{purpose: boolean(f"purposes.{purpose}", purposes[purpose]) for purpose in PURPOSES},
        )
    except ValueError as error:
        raise ApiError(422, "invalid_consent", str(error)) from None


def consent_record(row: dict) -> dict:
    """A stored consent row as visitors see it."""
    return {
        "policy_version": row["policy_version"],
        "purposes": {purpose: bool(row[purpose]) for purpose in PURPOSES},
        "recorded_at": iso_time(row["recorded_at"]),
    }


def iso_time(timestamp: float) -> str:
    """Seconds since the epoch as ISO 8601 in UTC, to the millisecond.

    >>> iso_time(0)
    '1970-01-01T00:00:00.000Z'
    """
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def post_consent(request: Request) -> JSONResponse:
    """Record a visitor's consent; the first call registers the device secret."""
    site = site_in_query(request)
    consent = parse_consent(await json_body(request))
    secret_hash = authenticate(request, site, consent.visitor, register=True)
    limit_visitor(request, site, consent.visitor)  # after: only the visitor can spend their own requests
    row, profile_erased = request.app.state.store.record_consent(site, secret_hash, consent)
    body = {"site": site, "visitor": consent.visitor, **consent_record(row), "profile_erased": profile_erased}
    return JSONResponse(body, status_code=201)
