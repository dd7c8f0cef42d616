"""Admin-only endpoints: anonymous requests never reach them, forged ones change nothing.

`page` sends an anonymous visitor to the sign-in form and checks the CSRF token of every
form it receives; `api` answers anonymous requests 401 and checks the `X-CSRF-Token`
header of every request that is not a read. Both leave the session in
`request.state.session` (and a page's form fields in `request.state.form`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync_server.admin import csrf, markup, sessions
from sync_server.errors import ApiError

Handler = Callable[[Request], Awaitable[Response]]


def page(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        session = sessions.current(request)
        if session is None:
            return RedirectResponse("/admin/login?" + urlencode({"next": request.url.path}), status_code=303)
        request.state.session = session
        if request.method not in csrf.SAFE_METHODS:
            try:
                request.state.form = await csrf.checked_form(request, session.csrf_token)
            except csrf.FormError as error:
                return markup.page("Refused", markup.notice(str(error), "error"), session, status=400)
            except csrf.CsrfError as error:
                return markup.page("Refused", markup.notice(str(error), "error"), session, status=403)
        return await handler(request)

    return guarded


def api(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        session = sessions.current(request)
        if session is None:
            raise ApiError(401, "not_signed_in", "sign in at /admin/login first")
        request.state.session = session
        if request.method not in csrf.SAFE_METHODS:
            try:
                csrf.check_header(request, session.csrf_token)
            except csrf.CsrfError as error:
                raise ApiError(403, "csrf_failed", str(error)) from None
        return await handler(request)

    return guarded
