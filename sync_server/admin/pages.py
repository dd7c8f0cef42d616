"""The dashboard pages and the controls' form handlers.

A control's change is checked in full before anything is stored: bad input shows the
page again with an error next to the form and the admin's input kept, and changes
nothing. A good change is stored as a new version and written to the audit log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from edge.rules import RuleError
from sync_server.admin import markup, views
from sync_server.admin.dashboard import ADMIN_ERASURE, audit_entries, site_summary
from sync_server.admin.guard import Handler, page
from sync_server.admin.rules import checked_rules
from sync_server.catalog import Catalog, CatalogError, fetch
from sync_server.checks import VISITOR_ID, VISITOR_ID_RULE, matching
from sync_server.middleware.origins import parse_origin
from sync_server.sites import parse_hash_bits, parse_site_key
from sync_server.storage import Store, UnknownSite

INTEGER_FIELDS = ("min_devices", "target_devices", "device_rounds_per_year")


def for_site(handler: Handler) -> Handler:
    """Answer 404 for a site that does not exist, before `handler` looks at it."""
    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        site = request.path_params["site"]
        try:
            request.app.state.store.site(site)
        except UnknownSite:
            return markup.page("No such site", markup.notice(f"There is no site {site!r}.", "error"),
                               request.state.session, status=404)
        return await handler(request)

    return checked


@page
async def overview(request: Request) -> Response:
    return _overview(request)


@page
async def create_site(request: Request) -> Response:
    """Add a site from the overview's form: its key, its origins and the size of its model."""
    store: Store = request.app.state.store
    form = request.state.form
    try:
        site = parse_site_key(form.get("site", "").strip())
        hash_bits = parse_hash_bits(form.get("hash_bits", "").strip())
        origins = _origins(form.get("origins", ""))
        if any(s["site"] == site for s in store.sites()):
            raise ValueError(f"there is a site {site!r} already")
        store.create_site(site, hash_bits=hash_bits)
    except ValueError as error:
        return _overview(request, f"site not added: {error}", form)
    store.set_site_origins(site, origins)
    store.audit(site, request.state.session.admin, "site created", {"hash_bits": hash_bits, "origins": origins})
    return _back(site, f"Site {site} added: put data-site=\"{site}\" in your pages' snippet.")


@page
@for_site
async def set_origins(request: Request) -> Response:
    site = request.path_params["site"]
    try:
        origins = _origins(request.state.form.get("origins", ""))
    except ValueError as error:
        return await _site_page(request, {"origins": f"origins not saved: {error}"}, request.state.form)
    request.app.state.store.set_site_origins(site, origins)
    request.app.state.store.audit(site, request.state.session.admin, "origins", {"origins": origins})
    return _back(site, "Origins saved.")


@page
@for_site
async def rotate_key(request: Request) -> Response:
    """Give the site a new key once the admin typed the current one; the old one stops working at once."""
    site = request.path_params["site"]
    try:
        _confirmed(request, site)
        new_key = parse_site_key(request.state.form.get("new_key", "").strip())
        request.app.state.store.rotate_site_key(site, new_key, request.state.session.admin)
    except ValueError as error:
        return await _site_page(request, {"rotate": f"key not changed: {error}"}, request.state.form)
    request.app.state.ingest.forget(site)
    request.app.state.model_answers.forget(site)
    return _back(new_key, f"The site's key is now {new_key}: put data-site=\"{new_key}\" in your pages' snippet. "
                          f"Requests for {site} are refused from now on; rotating back to it restores it.")


@page
@for_site
async def delete_site(request: Request) -> Response:
    """Delete the site and all it keeps but its audit log, once the admin typed its key."""
    site = request.path_params["site"]
    try:
        _confirmed(request, site)
    except ValueError as error:
        return await _site_page(request, {"delete": f"site not deleted: {error}"}, request.state.form)
    request.app.state.store.delete_site(site, request.state.session.admin)
    request.app.state.ingest.forget(site)
    request.app.state.model_answers.forget(site)
    return RedirectResponse("/admin?" + urlencode({"saved": f"Site {site} deleted."}), status_code=303)


@page
@for_site
async def erase_visitor(request: Request) -> Response:
    """Forget a visitor on their behalf, once the admin typed `erase`; audited without their id."""
    site, form = request.path_params["site"], request.state.form
    try:
        _confirmed(request, "erase")
        visitor = matching("visitor", form.get("visitor", "").strip(), VISITOR_ID, VISITOR_ID_RULE)
    except ValueError as error:
        return await _site_page(request, {"erase": f"nothing erased: {error}"}, {})
    store: Store = request.app.state.store
    erased = store.erase_visitor(site, visitor, reason=ADMIN_ERASURE)
    store.audit(site, request.state.session.admin, "visitor erased",
                {"profile": erased["profile"], "consent records": erased["consents"]})
    found = "their profile and " if erased["profile"] else ""
    return _back(site, f"Erased {found}{erased['consents']} consent records; the audit log counts it without the id.")


@page
@for_site
async def import_catalog(request: Request) -> Response:
    """Take the site's public catalog from the form's JSON, or fetched from the URL it gives."""
    site, form = request.path_params["site"], request.state.form
    try:
        url, text = form.get("url", "").strip(), form.get("catalog", "").strip()
        if url and text or not (url or text):
            raise CatalogError("give the catalog's JSON or a URL to fetch it from, not both")
        catalog = (await asyncio.to_thread(fetch, url)) if url else Catalog.parse(text.encode())
    except CatalogError as error:
        return await _site_page(request, {"catalog": f"catalog not imported: {error}"}, form)
    request.app.state.store.set_catalog(site, catalog.to_dict(), request.state.session.admin)
    return _back(site, f"Catalog imported: {len(catalog.variants())} variants in {len(catalog.slots)} slots.")


def _confirmed(request: Request, expected: str) -> None:
    """ValueError unless the form's typed confirmation is `expected`."""
    typed = request.state.form.get("confirm", "").strip()
    if typed != expected:
        raise ValueError(f"type {expected!r} to confirm (got {typed[:64]!r})")


def _origins(text: str) -> list[str]:
    """One origin a line (or separated by spaces), each checked; ValueError naming a bad one."""
    return sorted({parse_origin(word) for word in text.split()})


def _overview(request: Request, error: str | None = None, submitted: dict[str, str] | None = None) -> Response:
    store: Store = request.app.state.store
    sites = [{**site_summary(store, s["site"]), "killed": bool(store.editor_rules(s["site"])[1].get("kill_switch"))}
             for s in store.sites()]
    body = views.overview(sites, request.state.session, error, submitted or {})
    return markup.page("Sites", body, request.state.session, status=422 if error else 200)


@page
@for_site
async def site(request: Request) -> Response:
    return await _site_page(request, saved=request.query_params.get("saved"))


@page
@for_site
async def set_kill_switch(request: Request) -> Response:
    on = request.state.form.get("on")
    if on not in ("0", "1"):
        return await _site_page(request, {"kill_switch": f"the kill switch is on (1) or off (0), got {on!r}"})
    _, rules = request.app.state.store.editor_rules(request.path_params["site"])
    if on == "1":
        return _save_rules(request, {**rules, "kill_switch": True}, "Kill switch on: visitors get default content.",
                           "kill switch on")
    return _save_rules(request, {**rules, "kill_switch": False}, "Personalization resumed.", "kill switch off")


@page
@for_site
async def set_rules(request: Request) -> Response:
    text = request.state.form.get("rules", "")
    try:
        document = checked_rules(text)
    except RuleError as error:
        return await _site_page(request, {"rules": f"rules not saved: {error}"}, request.state.form)
    return _save_rules(request, document, "Rules saved.")


@page
@for_site
async def set_federation(request: Request) -> Response:
    store: Store = request.app.state.store
    site = request.path_params["site"]
    try:
        form = request.state.form  # a field left out keeps its value
        changes = {name: _setting(name, form[name]) for name in views.FEDERATION_FIELDS if name in form}
        config = dataclasses.replace(store.round_config(site), **changes)
    except ValueError as error:
        return await _site_page(request, {"federation": f"settings not saved: {error}"}, request.state.form)
    request.app.state.ingest.configure(site, config)
    store.audit(site, request.state.session.admin, "federated settings", changes)
    return _back(site, "Federated settings saved.")


def _setting(name: str, text: str) -> float | int | None:
    """A form field's number; ValueError naming the field if it is not one."""
    text = text.strip()
    if name == "epsilon_budget" and not text:
        return None
    try:
        return int(text) if name in INTEGER_FIELDS else float(text)
    except ValueError:
        kind = "a whole number" if name in INTEGER_FIELDS else "a number"
        raise ValueError(f"{name} must be {kind}, got {text!r}") from None


def _save_rules(request: Request, document: dict, message: str, change: str = "rules") -> Response:
    site = request.path_params["site"]
    request.app.state.store.set_editor_rules(site, document, request.state.session.admin, change)
    return _back(site, message)


def _back(site: str, message: str) -> Response:
    """Post/redirect/get: a reload does not send the form again."""
    return RedirectResponse(f"/admin/sites/{site}?" + urlencode({"saved": message}), status_code=303)


async def _site_page(request: Request, errors: dict[str, str] | None = None, submitted: dict[str, str] | None = None,
                     saved: str | None = None) -> Response:
    store: Store = request.app.state.store
    site = request.path_params["site"]
    data = await request.app.state.dashboards.site(site)
    version, rules = store.editor_rules(site)
    body = views.site_page(data, version, rules, store.site_origins(site), audit_entries(store, site),
                           request.state.session, errors or {}, submitted or {}, saved)
    return markup.page(site, body, request.state.session, status=422 if errors else 200)
