"""The versioned JSON API that devices speak (`/v1`)."""

from __future__ import annotations

import hashlib

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sync_server import metrics
from sync_server.checks import json_body
from sync_server.errors import ApiError
from sync_server.rounds import RoundState
from sync_server.storage import Store, UnknownSite
from sync_server.updates import parse_update


def _rounds(request: Request) -> RoundState:
    site = request.path_params["site"]
    try:
        return request.app.state.ingest.site(site)
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {site!r}") from None


async def global_model(request: Request) -> Response:
    """The newest global model and how to take part; devices revalidate it with If-None-Match."""
    body, etag = _published_model(request.app.state.model_answers, request.app.state.store, _rounds(request))
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60, must-revalidate"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _published_model(answers: dict, store: Store, state: RoundState) -> tuple[bytes, str]:
    """The model answer and its ETag, built once per version, config and editor rules (weights
    can be many) and kept in `answers`, by site. The rules travel in the model's `settings`, so
    an editor's change (the kill switch too) reaches each device with its next model fetch."""
    rules_version, rules = store.editor_rules(state.site)
    key = (state.version, state.config, state.accepting, rules_version)
    if answers.get(state.site, (None,))[0] != key:
        intercept, weights = store.model(state.site, state.version)
        body = orjson.dumps({
            "site": state.site, "version": state.version, "intercept": intercept, "weights": weights,
            "hash_bits": state.buckets.bit_length() - 1,
            "federation": {**state.config.for_devices(), "accepting_updates": state.accepting},
            "settings": {"rules": rules},
        })
        answers[state.site] = (key, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return answers[state.site][1:]


async def post_update(request: Request) -> Response:
    """Accept one device's model delta; 202 means it is committed to disk."""
    ingest = request.app.state.ingest
    state = _rounds(request)
    if not state.accepting:
        raise ApiError(409, "privacy_budget_spent", f"site {state.site!r} has spent its privacy budget "
                       f"(epsilon {state.epsilon:.3g} of {state.config.epsilon_budget}); training has stopped")
    payload = await json_body(request)
    if isinstance(payload, dict) and type(payload.get("base_version")) is int and payload["base_version"] > state.version:
        state = ingest.refresh(state.site)  # another server process may have published that version
    update = parse_update(payload, state.buckets, state.version, state.config.max_staleness)
    update_id = await ingest.submit(state.site, update)
    metrics.UPDATES_ACCEPTED.labels(state.site).inc()
    return Response(orjson.dumps({"accepted": update_id}), status_code=202, media_type="application/json")
