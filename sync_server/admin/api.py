"""The admin JSON API (`/v1/admin/...`): what the dashboard's charts read, and rules for scripts.

Signed-in admins only (401 otherwise); a write must also carry the session's
`X-CSRF-Token` (see csrf.py), which a signed-in page finds in its `csrf-token` meta tag.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from edge.rules import RuleError
from sync_server.admin.guard import api
from sync_server.admin.rules import checked_rules
from sync_server.checks import json_body
from sync_server.errors import ApiError
from sync_server.replay import LoggedSample
from sync_server.storage import Store, UnknownSite


@api
async def sites(request: Request) -> JSONResponse:
    return JSONResponse({"sites": [s["site"] for s in request.app.state.store.sites()]})


@api
async def dashboard(request: Request) -> JSONResponse:
    store: Store = _store_with_site(request)
    site = request.path_params["site"]
    version, rules = store.editor_rules(site)
    return JSONResponse({**await request.app.state.dashboards.site(site), "rules": {"version": version, "document": rules}})


@api
async def put_rules(request: Request) -> JSONResponse:
    """Replace a site's editor rules with the JSON body: a new version, audited."""
    store = _store_with_site(request)
    try:
        document = checked_rules(await request.body())
    except RuleError as error:
        raise ApiError(422, "invalid_rules", str(error)) from None
    version = store.set_editor_rules(request.path_params["site"], document, request.state.session.admin)
    return JSONResponse({"version": version, "document": document})


@api
async def put_logged_sample(request: Request) -> JSONResponse:
    """Replace a site's logged sample (a JSON list of impressions, see replay.py) for offline replay."""
    store = _store_with_site(request)
    try:
        sample = LoggedSample.parse(await json_body(request))
    except ValueError as error:
        raise ApiError(422, "invalid_sample", str(error)) from None
    store.set_logged_sample(request.path_params["site"], sample.to_rows(), request.state.session.admin)
    return JSONResponse({"impressions": len(sample.impressions)})


def _store_with_site(request: Request) -> Store:
    store: Store = request.app.state.store
    try:
        store.site(request.path_params["site"])
    except UnknownSite:
        raise ApiError(404, "unknown_site", f"no site with key {request.path_params['site']!r}") from None
    return store
