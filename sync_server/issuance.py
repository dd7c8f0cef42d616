"""Issuing participation tokens (`tokens`) to devices whose visitors granted `improve`.

    POST /v1/sites/{site}/tokens
    Authorization: Bearer DEVICE_SECRET
    {"visitor": "Yx3…", "round": 7, "blinded": "<32 bytes, base64url>"}

    201 {"round": 7, "evaluation": "<96 bytes, base64url>"}

`round` is the round the device's model opened (its `version` + 1); `evaluation` is the
round key's evaluation of the blinded element and its proof (`tokens.TokenKeys.issue`).
The limits, each a plain-English 4xx: one token per visitor and round (409
`token_already_issued`), `device_rounds_per_year` per visitor in any 365 days (429
`yearly_limit`), `tokens_per_network` per client network (/24 or /56) and round (429
`network_limit`), only while the latest consent grants `improve` (403 `no_improve_consent`)
and only for the open round (409 `round_closed`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from sync_server.auth import authenticate
from sync_server.checks import VISITOR_ID, VISITOR_ID_RULE, fields, json_body, matching
from sync_server.errors import ApiError
from sync_server.middleware.ratelimit import limit_visitor
from sync_server.storage import TokenRefused, UnknownSite
from sync_server.tokens import blinded_element, decode, network_of

REFUSALS = {"round_closed": 409, "token_already_issued": 409, "no_improve_consent": 403,
            "yearly_limit": 429, "network_limit": 429}
BLINDED_BYTES = 32


async def post_token(request: Request) -> JSONResponse:
    """Evaluate a device's blinded nonce under the round's key, within its limits."""
    site = request.path_params["site"]
    visitor, round_, blinded = _parse(await json_body(request))
    element = blinded_element(blinded)  # a bad element is refused before it counts against any limit
    try:
        config = request.app.state.ingest.site(site).config
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {site!r}") from None
    authenticate(request, site, visitor)
    limit_visitor(request, site, visitor)  # after the secret: a stranger cannot spend the visitor's budget
    network = network_of(request.client.host if request.client else "unknown")
    try:
        request.app.state.store.record_token_issue(site, visitor, round_, network, config)
    except TokenRefused as refused:
        raise ApiError(REFUSALS[refused.code], refused.code, str(refused)) from None
    evaluation = request.app.state.token_keys.issue(site, round_, element)
    return JSONResponse({"round": round_, "evaluation": evaluation}, status_code=201)


def _parse(payload: object) -> tuple[str, int, bytes]:
    try:
        body = fields("token request", payload, required={"visitor", "round", "blinded"})
        visitor = matching("visitor", body["visitor"], VISITOR_ID, VISITOR_ID_RULE)
        round_ = body["round"]
        if isinstance(round_, bool) or not isinstance(round_, int) or not 1 <= round_ < 2**31:
            raise ValueError(f"round must be a round number, got {round_!r}")
        blinded = body["blinded"]
        if not isinstance(blinded, str) or len(blinded) != 43:
            raise ValueError(f"blinded must be {BLINDED_BYTES} bytes in base64url (43 characters)")
        return visitor, round_, decode(blinded)
    except ValueError as error:  # binascii.Error is one too
        raise ApiError(422, "invalid_token_request", str(error)) from None
