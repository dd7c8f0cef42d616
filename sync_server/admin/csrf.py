"""Cross-site request forgery: a request that changes something must prove it came from our pages.

Two independent checks, so one failing open does not let a forgery through:

1. the request's `Origin` (or, without one, its `Sec-Fetch-Site`) must be this server's
   own; browsers set both and pages cannot forge them;
2. it must carry the session's secret CSRF token, which only our own pages know: forms
   send it in the hidden field `csrf`, scripts in the `X-CSRF-Token` header.

The sign-in form has no session yet, so it uses a double-submitted token instead: the
same random value in a cookie and in the form; another site can set neither.

>>> same_token("abc", "abc"), same_token("abc", "abd"), same_token("abc", None), same_token("", "")
(True, False, False, False)
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from starlette.datastructures import URL
from starlette.requests import Request

FIELD = "csrf"
HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class CsrfError(PermissionError):
    """The request may have been forged by another site; nothing was changed."""


class FormError(ValueError):
    """The body is not a URL-encoded form of UTF-8 text; nothing was changed."""


def same_token(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


def check_origin(request: Request) -> None:
    """CsrfError unless the browser says the request comes from this server's own pages."""
    origin = request.headers.get("origin")
    url = URL(scope=request.scope)
    if origin is not None and origin != f"{url.scheme}://{url.netloc}":
        raise CsrfError(f"a request from {origin!r} may not change anything here")
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise CsrfError("a request from another site may not change anything here")


async def form(request: Request) -> dict[str, str]:
    """The request's URL-encoded form fields (the last value of a repeated field); FormError
    if the body is not one, CsrfError if it is not even sent as one (browsers' forms are)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise CsrfError("send the form as application/x-www-form-urlencoded")
    try:
        return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True, errors="strict"))
    except UnicodeError:
        raise FormError("the form is not UTF-8 text") from None


async def checked_form(request: Request, csrf_token: str) -> dict[str, str]:
    """The form's fields, once both checks passed."""
    check_origin(request)
    fields = await form(request)
    if not same_token(csrf_token, fields.get(FIELD)):
        raise CsrfError("the form's CSRF token is missing or stale: reload the page and try again")
    return fields


def check_header(request: Request, csrf_token: str) -> None:
    """Both checks, for a script's request (the token in `X-CSRF-Token`)."""
    check_origin(request)
    if not same_token(csrf_token, request.headers.get(HEADER)):
        raise CsrfError("the X-CSRF-Token header is missing or stale")
