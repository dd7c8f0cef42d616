"""Signing in and out.

The sign-in form is protected like every other form (see csrf.py) and rate-limited by
client address and by admin name from that address: a few quick retries are fine,
guessing is not, and nobody's wrong guesses lock the admin out from another address.
Each try costs the server one scrypt hash, which runs off the event loop, one at a
time (see accounts.PasswordChecks).
"""

from __future__ import annotations

import functools
import re
import secrets
from html import escape

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync_server.admin import accounts, csrf, markup, sessions
from sync_server.admin.guard import page
from sync_server.middleware.ratelimit import RateLimiter, SharedRateLimiter
from sync_server.storage import Store

LOGIN_COOKIE = "p13n_login"  # the sign-in form's double-submitted CSRF token
NEXT = re.compile(r"/admin(/[A-Za-z0-9_.-]+)*")  # where to go after signing in: our own pages only


class LoginLimiter:
    """Sign-in tries per client address (50 at once, then one every 3 s) and per admin name
    from each address (20 at once, then one every 15 s), across replicas that share a database.

    The name's bucket is per address, so wrong passwords from one address never lock the
    admin out from another. Guessing one admin's password from many addresses is bounded
    instead by the password checks the server runs at all (one at a time, about 10 a second)
    and by the 12 characters a password needs."""

    def __init__(self, shared: Store | None = None) -> None:
        """In this process's memory, or in `shared`'s database (for replicas sharing it)."""
        limiter = functools.partial(SharedRateLimiter, shared) if shared else lambda _, **rates: RateLimiter(**rates)
        self.by_address = limiter("sign-in by address", rate=1 / 3, burst=50)
        self.by_name = limiter("sign-in by name", rate=1 / 15, burst=20)

    def address_wait(self, address: str) -> float:
        """Take a try from the address's bucket and return 0, or the seconds until it may try again."""
        return self.by_address.wait_time(address)

    def name_wait(self, address: str, name: str) -> float:
        """Take a try at `name` from the address's bucket for it, or the seconds until one may try again."""
        return self.by_name.wait_time(f"{address}\n{name}")


async def login_form(request: Request) -> Response:
    return _form(request, request.query_params.get("next", "/admin"))


async def login(request: Request) -> Response:
    address = request.client.host if request.client else "unknown"
    limiter: LoginLimiter = request.app.state.login_limiter
    wait = limiter.address_wait(address)  # first: even a malformed try counts
    if wait:
        return _refused(request, "/admin", 429, "Too many sign-in attempts", wait)
    try:
        csrf.check_origin(request)
        fields = await csrf.form(request)
        if not csrf.same_token(request.cookies.get(LOGIN_COOKIE, ""), fields.get(csrf.FIELD)):
            raise csrf.CsrfError("the sign-in form expired: reload the page and try again")
    except csrf.FormError as error:
        return _form(request, "/admin", str(error), status=400)
    except csrf.CsrfError as error:
        return _form(request, "/admin", str(error), status=403)
    name, password, next_page = fields.get("name", ""), fields.get("password", ""), fields.get("next", "/admin")
    wait = limiter.name_wait(address, name)
    if wait:
        return _refused(request, next_page, 429, "Too many sign-in attempts", wait)
    admin = request.app.state.store.admin(name)
    checks: accounts.PasswordChecks = request.app.state.password_checks
    try:
        right = await checks.matches(address, admin and admin["password_hash"], password)
    except accounts.Busy as busy:  # 429: this address is busy; 503: the server is
        status = 429 if busy.per_address else 503
        return _refused(request, next_page, status, f"Sign-in not checked: {busy}", busy.retry_after)
    if not right:
        return _form(request, next_page, "Wrong name or password.", status=401)
    response = RedirectResponse(next_page if NEXT.fullmatch(next_page) else "/admin", status_code=303)
    sessions.start(request.app.state.store, name, response, request)
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _refused(request: Request, next_page: str, status: int, reason: str, wait: float) -> Response:
    """The form again, saying when to try again (also in `Retry-After`, whole seconds)."""
    seconds = max(1, round(wait + 0.5))
    response = _form(request, next_page, f"{reason}: try again in {seconds} s.", status=status)
    response.headers["Retry-After"] = str(seconds)
    return response


@page
async def logout(request: Request) -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    sessions.end(request, response)
    return response


def _form(request: Request, next_page: str, error: str | None = None, status: int = 200) -> Response:
    """The sign-in form with a fresh double-submit token (in the form and in a cookie)."""
    token = secrets.token_urlsafe(32)
    body = f"""<section class="login"><h1>Sign in</h1>{markup.notice(error, "error") if error else ""}
<form method="post" action="/admin/login">
<input type="hidden" name="{csrf.FIELD}" value="{token}"><input type="hidden" name="next" value="{escape(next_page)}">
<label>Name <input name="name" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form>
<p class="hint">No account? An operator creates one with <code>python -m sync_server create-admin NAME</code>.</p>
</section>"""
    response = markup.page("Sign in", body, status=status)
    sessions.set_cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response
