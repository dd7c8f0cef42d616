"""Reading what a request carries and checking its shape, with errors that name the problem.

The shape checks raise ValueError; each endpoint turns that into its own 422 code
(`invalid_consent`, `invalid_profile`), so the checks stay plain functions:

>>> fields("consent", {"visitor": "v"}, required={"visitor", "purposes"})
Traceback (most recent call last):
...
ValueError: consent is missing ['purposes']
>>> matching("visitor", "not a visitor id!", VISITOR_ID, VISITOR_ID_RULE)
Traceback (most recent call last):
...
ValueError: visitor must be 16 to 64 letters, digits, '-' or '_', got 'not a visitor id!'
"""

from __future__ import annotations

import re

import orjson
from starlette.requests import Request

from sync_server.errors import ApiError
from sync_server.storage import Store, UnknownSite

VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
VISITOR_ID_RULE = "16 to 64 letters, digits, '-' or '_'"


async def json_body(request: Request) -> object:
    """The request's body parsed as JSON (the app caps its size); 400 if it is not JSON."""
    return parse_json(await request.body())


def parse_json(text: bytes) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {error}") from None


def site_in_query(request: Request) -> str:
    """The site named by `?site=KEY`, which must exist."""
    site = request.query_params.get("site")
    if not site:
        raise ApiError(400, "missing_site", "name the site in the query: ?site=SITE_KEY")
    store: Store = request.app.state.store
    try:
        store.site(site)
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {site!r}") from None
    return site


def visitor_in_path(request: Request) -> str:
    try:
        return matching("visitor", request.path_params["visitor"], VISITOR_ID, VISITOR_ID_RULE)
    except ValueError as error:
        raise ApiError(422, "invalid_visitor", str(error)) from None


def fields(name: str, value: object, required: set[str], optional: frozenset[str] = frozenset()) -> dict:
    """`value` as a JSON object with every required field and nothing unknown."""
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, got {type(value).__name__}")
    missing, unknown = required - value.keys(), value.keys() - required - optional
    if missing:
        raise ValueError(f"{name} is missing {sorted(missing)}")
    if unknown:
        raise ValueError(f"{name} has unknown fields {sorted(unknown)}")
    return value


def nests_deeper(value: object, levels: int) -> bool:
    """Whether JSON `value` has objects or arrays more than `levels` deep (looking no deeper).

    >>> nests_deeper({"a": [1, 2]}, 2), nests_deeper({"a": [[1]]}, 2)
    (False, True)
    """
    if not isinstance(value, (dict, list)):
        return False
    if levels == 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(nests_deeper(child, levels - 1) for child in children)


def matching(name: str, value: object, pattern: re.Pattern, rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return value


def boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value
