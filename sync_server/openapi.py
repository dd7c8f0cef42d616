"""The OpenAPI 3.1 document of the `/v1` API, served at `/openapi.json`.

Written by hand so it reads as the contract it is: the device API here, the admin
API in `admin/openapi.py`. A test checks that it is valid OpenAPI, that it names
every `/v1` route of the app, and that real answers match the schemas it promises.

>>> sorted(PATHS)  # doctest: +NORMALIZE_WHITESPACE
['/v1/consent', '/v1/profiles/{visitor}', '/v1/sites/{site}/decide', '/v1/sites/{site}/events',
 '/v1/sites/{site}/model', '/v1/sites/{site}/tokens', '/v1/sites/{site}/updates']
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from edge import model_form
from sync_server.admin.openapi import ADMIN_PATHS
from sync_server.admin.openapi import SECURITY_SCHEME as ADMIN_SECURITY_SCHEME
from sync_server.auth import SECRET
from sync_server.channels import EVENT_TYPES, MAX_CANDIDATES, MAX_EVENTS, MAX_FEATURES
from sync_server.checks import VISITOR_ID
from sync_server.consent import POLICY_VERSION, PURPOSES
from sync_server.updates import COMPACT_TYPE


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    """The error answers an operation can give, all `{"error", "detail"}`."""
    return {str(status): {"$ref": f"#/components/responses/{status}"} for status in statuses}


ERROR_MEANINGS = {
    400: "Not JSON (or a compact update without its JSON line), or the site is not named",
    401: "The visitor's secret (or the backend's server key) is missing, malformed or wrong, or the server holds "
         "nothing for that visitor (one answer for both, so answers do not tell which visitor ids exist)",
    403: "The request's origin is not allowed for the site, or the visitor has not granted sync",
    404: "Unknown site",
    408: "The body did not all arrive within the body timeout (10 s by default); the connection is closed",
    409: "The update is stale or replayed, or the site's privacy budget is spent",
    413: "The body is over the size limit",
    422: "The body or a parameter has the wrong shape; `detail` names the field",
    429: "Too many requests from this address or for this visitor; see Retry-After",
}

SITE_QUERY = {"name": "site", "in": "query", "required": True, "description": "The site key (public).",
              "schema": {"type": "string"}}
SITE_PATH = {**SITE_QUERY, "in": "path"}
VISITOR_PATH = {"name": "visitor", "in": "path", "required": True,
                "description": "The pseudonymous visitor id the browser made.",
                "schema": {"type": "string", "pattern": f"^{VISITOR_ID.pattern}$"}}
VISITOR_SECURITY = [{"visitorSecret": []}]
SERVER_KEY_SECURITY = [{"serverKey": []}]
VISITOR_FIELD = {"type": "string", "pattern": f"^{VISITOR_ID.pattern}$", "description": "The synced visitor's id."}
WORDS = {"type": "array", "maxItems": MAX_FEATURES, "items": {"type": "string", "minLength": 1, "pattern": "^\\S+$"}}
SECONDS = {"type": "number", "minimum": 0, "description": "When, in seconds since 1970 (default: now)"}

CHANNEL_SCHEMAS = {
    "DecideRequest": {
        "type": "object", "required": ["visitor", "slot", "candidates"], "additionalProperties": False,
        "properties": {
            "visitor": VISITOR_FIELD, "slot": {"type": "string", "minLength": 1},
            "candidates": {"type": "array", "minItems": 1, "maxItems": MAX_CANDIDATES, "items": {
                "type": "object", "required": ["id", "features"],
                "properties": {"id": {"type": "string", "minLength": 1}, "features": WORDS}}},
            "context": {"type": "object", "description": "As a page gives it: device, hour, weekday, referrer, "
                        "page, interests (edge.features.context_tokens)"},
            "size": {"type": "integer", "minimum": 1}, "at": SECONDS,
        },
    },
    "ChannelDecision": {
        "type": "object", "required": ["slot", "ranking", "scores", "arm", "why"],
        "properties": {"slot": {"type": "string"}, "ranking": {"type": "array", "items": {"type": "string"}},
                       "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                       "arm": {"enum": ["personalized", "holdout", "off"]},
                       "why": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}},
    },
    "EventsRequest": {
        "type": "object", "required": ["visitor", "events"], "additionalProperties": False,
        "properties": {"visitor": VISITOR_FIELD, "events": {
            "type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "items": {
                "type": "object", "required": ["type", "features"], "additionalProperties": False,
                "properties": {"type": {"enum": sorted(EVENT_TYPES)}, "features": WORDS, "at": SECONDS,
                               "channel": {"type": "string", "description": "e.g. email, app (not stored)"}}}}},
    },
    "EventsLearned": {
        "type": "object", "required": ["visitor", "learned"],
        "properties": {"visitor": {"type": "string"}, "learned": {"type": "integer"}},
    },
}

SCHEMAS = {
    **CHANNEL_SCHEMAS,
    "Error": {
        "type": "object", "required": ["error", "detail"],
        "properties": {"error": {"type": "string", "description": "A stable code, e.g. `invalid_consent`."},
                       "detail": {"type": "string", "description": "What is wrong, for people."}},
    },
    "GlobalModel": {
        "type": "object", "required": ["site", "version", "intercept", "weights", "hash_bits"],
        "properties": {
            "site": {"type": "string"},
            "version": {"type": "integer", "minimum": 0},
            "intercept": {"type": "number"},
            "weights": {"type": "array", "description": "[bucket, weight] pairs of the non-zero weights.",
                        "items": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "number"}]}},
            "hash_bits": {"type": "integer", "description": "Features hash into 2**hash_bits buckets."},
            "noise_variance": {"type": "number", "minimum": 0, "description": "The variance of the privacy "
                               "noise summed into each weight; devices take the weights as a prior with it."},
            "federation": {"type": "object", "description": "How devices take part in federated rounds."},
            "settings": {"type": "object", "description": "The site's editor rules (`rules`: pins, exclusions, "
                         "boosts, holdout shares, the kill switch), which every device applies to its decisions."},
        },
    },
    "Token": {
        "type": "object", "required": ["round", "nonce", "authenticator"], "additionalProperties": False,
        "description": "A participation token of the open round (README, \"Participation tokens\"), spent once.",
        "properties": {"round": {"type": "integer", "minimum": 1},
                       "nonce": {"type": "string", "description": "32 bytes, base64url"},
                       "authenticator": {"type": "string", "description": "64 bytes, base64url"}},
    },
    "TokenRequest": {
        "type": "object", "required": ["visitor", "round", "blinded"], "additionalProperties": False,
        "properties": {"visitor": {"type": "string", "pattern": VISITOR_ID.pattern},
                       "round": {"type": "integer", "minimum": 1, "description": "The model's version + 1."},
                       "blinded": {"type": "string", "description": "The blinded nonce: a ristretto255 "
                                   "element, 32 bytes in base64url."}},
    },
    "TokenIssued": {
        "type": "object", "required": ["round", "evaluation"],
        "properties": {"round": {"type": "integer"},
                       "evaluation": {"type": "string", "description": "base64url: the 64-byte DLEQ proof, "
                                      "then the 32-byte evaluated element (RFC 9497, ristretto255-SHA512)."}},
    },
    "Update": {
        "type": "object", "required": ["base_version", "samples", "delta", "token"], "additionalProperties": False,
        "properties": {
            "token": _ref("Token"),
            "base_version": {"type": "integer", "minimum": 0, "description": "The global version trained on."},
            "samples": {"type": "integer", "minimum": 1},
            "delta": {
                "type": "object", "required": ["intercept", "idx", "val"], "additionalProperties": False,
                "properties": {"intercept": {"type": "number"},
                               "idx": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                               "val": {"type": "array", "items": {"type": "number"}}},
            },
            "update_id": {"type": "string", "minLength": 8, "maxLength": 64,
                          "description": "Made by the device; a repeated one is refused as a replay."},
            "counters": {
                "type": "array", "items": {
                    "type": "object", "required": ["slot", "variant", "arm", "impressions", "clicks"],
                    "properties": {"slot": {"type": "string"}, "variant": {"type": "string"},
                                   "arm": {"enum": ["personalized", "holdout"]},
                                   "impressions": {"type": "integer", "minimum": 0},
                                   "clicks": {"type": "integer", "minimum": 0},
                                   "conversions": {"type": "integer", "minimum": 0,
                                                   "description": "Conversions the slot's clicks led to."}},
                },
            },
        },
    },
    "Purposes": {
        "type": "object", "required": list(PURPOSES), "additionalProperties": False,
        "properties": {
            "personalize": {"type": "boolean", "description": "Rank content on the device."},
            "improve": {"type": "boolean", "description": "Send anonymous, clipped model updates."},
            "sync": {"type": "boolean", "description": "Keep the profile on the server; false erases it."},
        },
    },
    "ConsentRequest": {
        "type": "object", "required": ["visitor", "policy_version", "purposes"], "additionalProperties": False,
        "properties": {"visitor": VISITOR_PATH["schema"],
                       "policy_version": {"type": "string", "pattern": f"^{POLICY_VERSION.pattern}$"},
                       "purposes": _ref("Purposes")},
    },
    "ConsentRecord": {
        "type": "object", "required": ["policy_version", "purposes", "recorded_at"],
        "properties": {"policy_version": {"type": "string"}, "purposes": _ref("Purposes"),
                       "recorded_at": {"type": "string", "format": "date-time"}},
    },
    "ConsentRecorded": {
        "allOf": [_ref("ConsentRecord")],
        "type": "object", "required": ["site", "visitor", "profile_erased"],
        "properties": {"site": {"type": "string"}, "visitor": {"type": "string"},
                       "profile_erased": {"type": "boolean", "description": "Revoking sync erased a profile."}},
    },
    "ProfileRequest": {
        "type": "object", "required": ["profile"], "additionalProperties": False,
        "properties": {"profile": {"type": "object", "description": "The device's profile, any JSON object "
                                   "within the size limit (default 64 kB) and 16 levels of nesting."}},
    },
    "ProfileStored": {
        "type": "object", "required": ["site", "visitor", "profile_updated_at", "bytes"],
        "properties": {"site": {"type": "string"}, "visitor": {"type": "string"},
                       "profile_updated_at": {"type": "string", "format": "date-time"},
                       "bytes": {"type": "integer"}},
    },
    "VisitorData": {
        "type": "object", "required": ["site", "visitor", "profile", "profile_updated_at", "consents"],
        "properties": {
            "site": {"type": "string"}, "visitor": {"type": "string"},
            "profile": {"type": ["object", "null"]},
            "profile_updated_at": {"type": ["string", "null"], "format": "date-time"},
            "consents": {"type": "array", "items": _ref("ConsentRecord"), "description": "Oldest first."},
            "tokens_issued": {"type": "array", "description": "The rounds the visitor was issued a participation "
                              "token for, and when (not which updates spent them: the server cannot tell).",
                              "items": {"type": "object", "properties": {"round": {"type": "integer"},
                                                                         "issued_at": {"type": "string"}}}},
        },
    },
    "Erased": {
        "type": "object", "required": ["site", "visitor", "erased"],
        "properties": {
            "site": {"type": "string"}, "visitor": {"type": "string"},
            "erased": {"type": "object", "required": ["profile", "consents"],
                       "properties": {"profile": {"type": "boolean"}, "consents": {"type": "integer"}}},
        },
    },
}

PATHS = {
    "/v1/sites/{site}/model": {
        "get": {
            "summary": "The site's newest global model", "operationId": "getGlobalModel",
            "parameters": [SITE_PATH, {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}],
            "description": "In JSON, or with `Accept: application/vnd.p13n.model` in the compact form: the "
                           "same object on one line with `weights` as {layout, count} and a "
                           "`quantization_variance`, a newline, then the weights as little-endian float16, "
                           "dense (2^hash_bits values) or sparse (count uint32 buckets, then count values). "
                           "Brotli or gzip as Accept-Encoding allows; each representation has its own ETag.",
            "responses": {"200": {"description": "The model; its ETag revalidates it", "content": {
                "application/json": {"schema": _ref("GlobalModel")},
                model_form.MEDIA_TYPE: {"schema": {
                    "type": "string", "format": "binary",
                    "description": "JSON line, newline, float16 LE weights (dense, or uint32 LE buckets then values)"}},
            }},
                          "304": {"description": "Unchanged since the ETag sent"},
                          **_errors(403, 404, 429)},
        },
    },
    "/v1/sites/{site}/updates": {
        "post": {
            "summary": "Send one device's clipped model delta", "operationId": "postUpdate",
            "parameters": [SITE_PATH],
            "description": "In JSON, or in the compact form: the same object on one line with only "
                           "`intercept` in `delta`, a newline, then the n buckets as little-endian int32 and "
                           "the n values as little-endian float32 (half the bytes, parsed without a Python "
                           "object per weight). Errors name the field either way.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("Update")},
                COMPACT_TYPE.decode(): {"schema": {
                    "type": "string", "format": "binary",
                    "description": "JSON line, newline, idx (int32 LE), val (float32 LE)"}},
            }},
            "responses": {"202": _json("Stored durably", {"type": "object", "required": ["accepted"],
                                                          "properties": {"accepted": {"type": "integer"}}}),
                          **_errors(400, 403, 404, 408, 409, 413, 422, 429)},
        },
    },
    "/v1/sites/{site}/tokens": {
        "post": {
            "summary": "A participation token for the open round", "operationId": "postToken",
            "description": "For a visitor whose latest consent grants `improve`: one per round, "
                           "`device_rounds_per_year` in any 365 days, `tokens_per_network` per client network "
                           "(/24, /56) and round. The server evaluates the blinded nonce and cannot link the "
                           "token to the visitor when it is spent.",
            "parameters": [SITE_PATH], "security": VISITOR_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TokenRequest")}}},
            "responses": {"201": _json("Issued", _ref("TokenIssued")),
                          **_errors(400, 401, 403, 404, 409, 413, 422, 429)},
        },
    },
    "/v1/sites/{site}/decide": {
        "post": {
            "summary": "Rank candidates for a synced visitor in another channel (the site's backend)",
            "operationId": "channelDecide",
            "description": "With one of the site's server keys, never the public site key. For visitors whose "
                           "latest consent grants `sync`: the same engine as the browser, greedy, from the "
                           "global model, the site's rules and the visitor's synced profile.",
            "parameters": [SITE_PATH], "security": SERVER_KEY_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("DecideRequest")}}},
            "responses": {"200": _json("The ranking", _ref("ChannelDecision")),
                          **_errors(400, 401, 403, 404, 408, 409, 413, 422, 429)},
        },
    },
    "/v1/sites/{site}/events": {
        "post": {
            "summary": "Report what a synced visitor did in another channel (a click in an email)",
            "operationId": "channelEvents",
            "description": "Learned into the visitor's synced profile, which their devices take on their next "
                           "sync; the events themselves are not kept. All or nothing: one bad event stores none.",
            "parameters": [SITE_PATH], "security": SERVER_KEY_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("EventsRequest")}}},
            "responses": {"200": _json("Learned", _ref("EventsLearned")),
                          **_errors(400, 401, 403, 404, 408, 409, 413, 422, 429)},
        },
    },
    "/v1/consent": {
        "post": {
            "summary": "Record a visitor's consent per purpose", "operationId": "postConsent",
            "description": "Appends to the visitor's consent history. The first call registers the "
                           "device's secret. Consent without `sync` erases the stored profile.",
            "parameters": [SITE_QUERY], "security": VISITOR_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ConsentRequest")}}},
            "responses": {"201": _json("Recorded", _ref("ConsentRecorded")),
                          **_errors(400, 401, 403, 404, 408, 413, 422, 429)},
        },
    },
    "/v1/profiles/{visitor}": {
        "parameters": [VISITOR_PATH, SITE_QUERY],
        "get": {
            "summary": "Export everything held about the visitor", "operationId": "exportVisitor",
            "security": VISITOR_SECURITY,
            "responses": {"200": _json("The visitor's data", _ref("VisitorData")),
                          **_errors(400, 401, 403, 404, 422, 429)},
        },
        "put": {
            "summary": "Store the visitor's profile (needs sync consent)", "operationId": "putProfile",
            "security": VISITOR_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ProfileRequest")}}},
            "responses": {"200": _json("Stored", _ref("ProfileStored")),
                          **_errors(400, 401, 403, 404, 408, 413, 422, 429)},
        },
        "delete": {
            "summary": "Forget the visitor: profile, consent history and secret", "operationId": "eraseVisitor",
            "description": "Leaves an audit entry that holds no personal data.",
            "security": VISITOR_SECURITY,
            "responses": {"200": _json("Erased", _ref("Erased")), **_errors(400, 401, 403, 404, 422, 429)},
        },
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "p13n sync server", "version": "1",
        "description": "Global models and federated updates for devices; consent, profile sync, "
                       "export and erasure for visitors. Errors are JSON `{\"error\", \"detail\"}`.",
    },
    "paths": {**PATHS, **ADMIN_PATHS},
    "components": {
        "schemas": SCHEMAS,
        "responses": {str(status): _json(meaning, _ref("Error")) for status, meaning in ERROR_MEANINGS.items()},
        "securitySchemes": {"adminSession": ADMIN_SECURITY_SCHEME, "serverKey": {
            "type": "http", "scheme": "bearer",
            "description": "A server key of the site (`python -m sync_server create-server-key SITE NAME`), for "
                           "the site's own backend only: never in pages.",
        }, "visitorSecret": {
            "type": "http", "scheme": "bearer",
            "description": f"The secret the visitor's device made, matching `{SECRET.pattern}`; "
                           "registered by the first consent call.",
        }},
    },
}


async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(DOCUMENT)
