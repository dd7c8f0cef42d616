"""The versioned API that devices speak (`/v1`)."""

from __future__ import annotations

import hashlib

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sync_server import asgi
from sync_server.checks import parse_json
from sync_server.errors import ApiError
from sync_server.ingest import Ingest
from sync_server.rounds import RoundState
from sync_server.storage import Store, UnknownSite
from sync_server.tokens import Token, TokenKeys
from sync_server.updates import COMPACT_TYPE, parse_update, split_compact


def _rounds(ingest: Ingest, site: str) -> RoundState:
    try:
        return ingest.site(site)
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {site!r}") from None


async def global_model(request: Request) -> Response:
    """The newest global model and how to take part; devices revalidate it with If-None-Match."""
    state = _rounds(request.app.state.ingest, request.path_params["site"])
    try:
        body, etag = _published_model(request.app.state.model_answers, request.app.state.store,
                                      request.app.state.token_keys, state)
    except UnknownSite:  # its key was rotated since the round state was cached
        raise ApiError(404, "unknown_site", f"no site with key {state.site!r}") from None
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60, must-revalidate"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _published_model(answers: dict, store: Store, token_keys: TokenKeys, state: RoundState) -> tuple[bytes, str]:
    """The model answer and its ETag, built once per version, config and editor rules (weights
    can be many) and kept in `answers`, by site. The rules travel in the model's `settings`, so
    an editor's change (the kill switch too) reaches each device with its next model fetch."""
    rules_version, rules = store.editor_rules(state.site)
    key = (state.version, state.config, state.accepting, rules_version)
    if answers.get(state.site, (None,))[0] != key:
        intercept, weights = store.model(state.site, state.version)
        body = orjson.dumps({
            "site": state.site, "version": state.version, "intercept": intercept, "weights": weights,
            "noise_variance": state.noise_variance,  # devices weigh the weights by it (edge.federated)
            "hash_bits": state.buckets.bit_length() - 1,
            "federation": {**state.config.for_devices(), "accepting_updates": state.accepting,
                           "token_key": token_keys.public_key(state.site, state.version + 1)},
            "settings": {"rules": rules},
        })
        answers[state.site] = (key, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return answers[state.site][1:]


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
