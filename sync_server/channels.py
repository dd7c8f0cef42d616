"""Other channels: the site's own backend ranks and learns for visitors who synced their profile.

    POST /v1/sites/{site}/decide  {"visitor", "slot", "candidates", "context"?, "size"?, "at"?}
    POST /v1/sites/{site}/events  {"visitor", "events": [{"type", "features", "at"?, "channel"?}]}

Both take a server key (`Authorization: Bearer KEY`, made with `python -m sync_server
create-server-key SITE NAME`), never the public site key that pages carry, and serve only
visitors whose latest consent grants `sync`: their profile is on the server because they
asked for it to follow them. `decide` ranks the candidates (an email's articles, an app's
products) with the same `edge` engine the browser runs, from the site's global model, its
editor rules and the visitor's synced profile, greedily: a channel shows its pick once and
cannot learn from a draw. `events` reports what the visitor did there (a click in an email,
a purchase in the app) into the synced profile, which a device takes when it restores the
profile with the visitor's sync code (a device that keeps uploading its own profile replaces
it, events and all: README, "Other channels"). Raw events are kept nowhere: they only change
the profile's decayed counts.
"""

from __future__ import annotations

import hashlib
import time

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from edge import Config, Personalizer
from edge.profile import Profile
from sync_server.checks import VISITOR_ID, VISITOR_ID_RULE, fields, json_body, matching
from sync_server.errors import ApiError
from sync_server.storage import NoSyncConsent, Store, UnknownSite

MAX_CANDIDATES, MAX_EVENTS, MAX_FEATURES = 100, 100, 50
EVENT_TYPES = {"view": Profile.see, "click": Profile.click, "convert": Profile.click}  # a purchase counts as a click


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def decide(request: Request) -> JSONResponse:
    """Rank candidates for a synced visitor, as their browser would without exploring."""
    store, site = _authorized(request)
    body = _checked(await json_body(request), {"visitor", "slot", "candidates"}, {"context", "size", "at"})
    visitor = _visitor(body)
    candidates = body["candidates"]
    if not isinstance(candidates, list) or not 0 < len(candidates) <= MAX_CANDIDATES:
        raise ApiError(422, "invalid_decision", f"candidates must be a list of 1 to {MAX_CANDIDATES}")
    if not isinstance(body.get("context", {}), dict):
        raise ApiError(422, "invalid_decision", "context must be an object, as a page gives it")
    engine = channel_engine(store, site, visitor, _synced_profile(store, site, visitor))
    try:
        decision = engine.decide(body["slot"], candidates, body.get("context"), at=_at(body), size=body.get("size"))
    except (ValueError, TypeError) as error:
        raise ApiError(422, "invalid_decision", str(error)) from None
    answer = decision.to_dict()
    return JSONResponse({key: answer[key] for key in ("slot", "ranking", "scores", "arm", "why")})


async def events(request: Request) -> JSONResponse:
    """Learn what a synced visitor did in another channel into their profile."""
    store, site = _authorized(request)
    body = _checked(await json_body(request), {"visitor", "events"})
    visitor = _visitor(body)
    reported = body["events"]
    if not isinstance(reported, list) or not 0 < len(reported) <= MAX_EVENTS:
        raise ApiError(422, "invalid_events", f"events must be a list of 1 to {MAX_EVENTS}")
    profile = _synced_profile(store, site, visitor)
    try:
        for event in reported:  # every event is checked before the profile is stored: bad input changes nothing
            _checked(event, {"type", "features"}, {"at", "channel"}, code="invalid_events")
            if not isinstance(event["type"], str) or event["type"] not in EVENT_TYPES:
                raise ValueError(f"event type must be one of {sorted(EVENT_TYPES)}, got {event['type']!r}")
            features = event["features"]
            if not isinstance(features, list) or len(features) > MAX_FEATURES:
                raise ValueError(f"features must be a list of at most {MAX_FEATURES} words")
            EVENT_TYPES[event["type"]](profile, features, _at(event))
    except ValueError as error:
        raise ApiError(422, "invalid_events", str(error)) from None
    try:
        store.save_profile(site, visitor, orjson.dumps(profile.to_dict()).decode())
    except NoSyncConsent:  # revoked meanwhile
        raise _no_sync(visitor) from None
    return JSONResponse({"visitor": visitor, "learned": len(reported)})


def channel_engine(store: Store, site: str, visitor: str, profile: Profile) -> Personalizer:
    """The engine a browser of this visitor would boot: the site's global model and settings,
    greedy, with the synced profile, deciding holdout groups by the visitor's id."""
    model = store.latest_model(site)
    state = store.round_state(site)
    model.update(weights=[list(pair) for pair in model["weights"]],
                 hash_bits=state.buckets.bit_length() - 1, settings={"rules": store.editor_rules(site)[1]})
    engine = Personalizer(Config(hash_bits=model["hash_bits"], policy="greedy"), visitor=visitor)
    engine.merge_global(model)
    engine.restore_profile(profile.to_dict())  # declared interests count as on the device
    return engine


def _authorized(request: Request) -> tuple[Store, str]:
    """The store and site of a request carrying one of the site's server keys; 401 otherwise."""
    store: Store = request.app.state.store
    site = request.path_params["site"]
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key or store.server_key_site(key_hash(key)) != site:
        raise ApiError(401, "invalid_server_key", f"this endpoint needs one of site {site!r}'s server keys "
                       "(Authorization: Bearer KEY; create-server-key makes one), never the public site key")
    try:
        store.site(site)
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {site!r}") from None
    return store, site


def _synced_profile(store: Store, site: str, visitor: str) -> Profile:
    """The visitor's synced profile (a new one if they granted `sync` but none is stored yet);
    403 unless their latest consent grants `sync`."""
    if not store.grants_sync(site, visitor):
        raise _no_sync(visitor)
    stored = store.profile(site, visitor)
    try:
        return Profile.from_dict(orjson.loads(stored["document"])) if stored else Profile()
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(409, "unreadable_profile", f"the synced profile is not one the engine reads: {error}") from None


def _no_sync(visitor: str) -> ApiError:
    return ApiError(403, "no_sync_consent", f"visitor {visitor!r} has not granted sync: other channels get nothing")


def _checked(value: object, required: set[str], optional: set[str] = frozenset(), code: str = "invalid_request") -> dict:
    try:
        return fields("body" if code == "invalid_request" else "event", value, required, frozenset(optional))
    except ValueError as error:
        raise ApiError(422, code, str(error)) from None


def _visitor(body: dict) -> str:
    try:
        return matching("visitor", body["visitor"], VISITOR_ID, VISITOR_ID_RULE)
    except ValueError as error:
        raise ApiError(422, "invalid_visitor", str(error)) from None


def _at(body: dict) -> float:
    at = body.get("at", time.time())
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 <= at < 1e11:
        raise ApiError(422, "invalid_request", f"at must be seconds since 1970, got {at!r}")
    return float(at)
