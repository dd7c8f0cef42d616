"""The versioned API that devices speak (`/v1`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sync_server import asgi
from sync_server.checks import parse_json
from sync_server.errors import ApiError
from sync_server.ingest import Ingest
from sync_server.model_answers import negotiate
from sync_server.records import RoundState, Token
from sync_server.storage import UnknownSite
from sync_server.tokens import TokenKeys
from sync_server.updates import COMPACT_TYPE, parse_update, split_compact


def _rounds(ingest: Ingest, site: str) -> RoundState:
    try:
        return ingest.site(site)
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {site!r}") from None


async def global_model(request: Request) -> Response:
    """The newest global model and how to take part, in the form (`Accept`) and coding
    (`Accept-Encoding`) the device takes; devices revalidate it with If-None-Match."""
    state = _rounds(request.app.state.ingest, request.path_params["site"])
    form, encoding = negotiate(request.headers.get("accept", ""), request.headers.get("accept-encoding", ""))
    try:
        answer = await request.app.state.model_answers.answer(state, form, encoding)
    except UnknownSite:  # its key was rotated since the round state was cached
        raise ApiError(404, "unknown_site", f"no site with key {state.site!r}") from None
    headers = {"ETag": answer.etag, "Cache-Control": "public, max-age=60, must-revalidate",
               "Vary": "Accept, Accept-Encoding"}
    if answer.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if answer.encoding:
        headers["Content-Encoding"] = answer.encoding
    return Response(answer.body, media_type=answer.media_type, headers=headers)


class PostUpdate:
    """Accept one device's model delta, in JSON or the compact form; 202 means it is committed
    to disk. A bare ASGI app rather than a Request handler, because it is the server's hot path
    (thousands of calls a second); its ApiErrors still reach the app's error handler."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ingest: Ingest = scope["app"].state.ingest
        state = _rounds(ingest, scope["path_params"]["site"])
        if not state.accepting:
            raise ApiError(409, "privacy_budget_spent", f"site {state.site!r} has spent its privacy budget "
                           f"(epsilon {state.epsilon:.3g} of {state.config.epsilon_budget} per visitor and 365 days); "
                           "rounds are paused until older rounds leave the 365 days")
        body, arrays = await asgi.read_body(receive), None
        if asgi.media_type(scope) == COMPACT_TYPE:
            body, arrays = split_compact(body)
        payload = parse_json(body)
        base_version = payload.get("base_version") if isinstance(payload, dict) else None
        if type(base_version) is int and base_version > state.version:
            state = ingest.refresh(state.site)  # another server process may have published that version
        update = parse_update(payload, state.buckets, state.version, state.config.max_staleness, arrays)
        if update.token.round > state.version + 1:
            state = ingest.refresh(state.site)
        _check_token(scope["app"].state.token_keys, state, update.token)
        update_id = await ingest.submit(state.site, update)
        await asgi.send_json(send, 202, b'{"accepted":%d}' % update_id)


def _check_token(keys: TokenKeys, state: RoundState, token: Token) -> None:
    """Refuse a token of another round than the open one, or one the round's key did not make
    (whether it was spent already, the writer checks as it stores the update)."""
    open_round = state.version + 1
    if token.round < open_round:
        raise ApiError(409, "token_expired", f"the token is for round {token.round}, which has closed; fetch the new "
                       f"model and ask for a token for round {open_round}")
    if token.round > open_round or not keys.verify(state.site, token):
        raise ApiError(403, "invalid_token", f"the token was not issued by this server for round {token.round}")
