"""Errors that become JSON answers naming the problem: `{"error": code, "detail": text}`."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Scope

from sync_server import metrics

HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}  # Starlette's own refusals


class ApiError(Exception):
    """A request the server refuses; nothing was changed."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def invalid(detail: str) -> ApiError:
    return ApiError(422, "invalid_update", detail)


def error_response(scope: Scope, error: ApiError) -> JSONResponse:
    """The answer to a refused request, counted in the metrics by route and reason."""
    metrics.REFUSED.labels(metrics.route_template(scope), error.code).inc()
    body = {"error": error.code, "detail": error.detail}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def api_error_response(request: Request, error: ApiError) -> JSONResponse:
    return error_response(request.scope, error)


async def http_error_response(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's own refusals (unknown path, wrong method) in the same shape."""
    code = HTTP_CODES.get(error.status_code, "http_error")
    return error_response(request.scope, ApiError(error.status_code, code, error.detail, error.headers))
