"""Errors that become JSON answers naming the problem."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class ApiError(Exception):
    """A request the server refuses; nothing was changed."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def invalid(detail: str) -> ApiError:
    return ApiError(422, "invalid_update", detail)


async def api_error_response(request: Request, error: ApiError) -> JSONResponse:
    return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status)


async def http_error_response(request: Request, error) -> JSONResponse:
    return JSONResponse({"error": "http_error", "detail": error.detail}, status_code=error.status_code)
