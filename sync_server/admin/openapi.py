"""The admin API's part of the OpenAPI document (see sync_server/openapi.py)."""

from __future__ import annotations

ADMIN_SECURITY = [{"adminSession": []}]
SECURITY_SCHEME = {
    "type": "apiKey", "in": "cookie", "name": "p13n_admin",
    "description": "The session cookie set by signing in at /admin/login. Writes also need the session's "
                   "CSRF token in `X-CSRF-Token` (the `csrf-token` meta tag of any signed-in page).",
}
_ERROR = {"$ref": "#/components/schemas/Error"}
_SITE = {"name": "site", "in": "path", "required": True, "schema": {"type": "string"}}


def _answer(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema or _ERROR}}}


_REFUSALS = {"401": _answer("Not signed in"), "404": _answer("No such site")}

ADMIN_PATHS = {
    "/v1/admin/sites": {"get": {
        "summary": "The keys of every site", "operationId": "adminListSites", "security": ADMIN_SECURITY,
        "responses": {"200": _answer("The sites", {"type": "object", "required": ["sites"], "properties": {
            "sites": {"type": "array", "items": {"type": "string"}}}}), "401": _REFUSALS["401"]},
    }},
    "/v1/admin/sites/{site}/dashboard": {"get": {
        "summary": "What the dashboard shows about a site: rounds, ε, features, effect per slot, rules",
        "operationId": "adminDashboard", "security": ADMIN_SECURITY, "parameters": [_SITE],
        "responses": {"200": _answer("The site's dashboard data", {"type": "object", "required": [
            "site", "version", "epsilon", "rounds", "features", "noise_std", "slots", "drift", "replay",
            "rules"]}), **_REFUSALS},
    }},
    "/v1/admin/sites/{site}/rules": {"put": {
        "summary": "Replace a site's editor rules (a new version, audited)", "operationId": "adminPutRules",
        "security": ADMIN_SECURITY, "parameters": [_SITE],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"200": _answer("Stored", {"type": "object", "required": ["version", "document"]}),
                      **_REFUSALS, "403": _answer("Missing or stale X-CSRF-Token"),
                      "422": _answer("The rules are malformed; `detail` names the field")},
    }},
    "/v1/admin/sites/{site}/logged-sample": {"put": {
        "summary": "Replace a site's logged sample of uniformly random impressions, for offline replay",
        "operationId": "adminPutLoggedSample", "security": ADMIN_SECURITY, "parameters": [_SITE],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["slot", "context", "candidates", "shown", "clicked"],
                "properties": {"slot": {"type": "string"}, "context": {"type": "object"},
                               "candidates": {"type": "array", "items": {"type": "object"}},
                               "shown": {"type": "string"}, "clicked": {"type": "boolean"}}}}}}},
        "responses": {"200": _answer("Stored", {"type": "object", "required": ["impressions"]}),
                      **_REFUSALS, "403": _answer("Missing or stale X-CSRF-Token"),
                      "422": _answer("The sample is malformed; `detail` names the first bad row")},
    }},
}
