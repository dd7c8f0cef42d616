"""Signed-in admins: a session per sign-in, named by a random token in an HttpOnly cookie.

The cookie holds 256 random bits and the database only their SHA-256, so neither a
guessed nor a leaked-database cookie opens a session, and signing out or expiry ends it
on the server, whatever the browser kept. The cookie is `SameSite=Strict` (other sites'
pages cannot make the browser send it) and `Secure` when the page came over HTTPS.
Each session also has its own CSRF token, checked on every request that changes
something (see csrf.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time

from starlette.requests import Request
from starlette.responses import Response

from sync_server.storage import Store

COOKIE = "p13n_admin"
SESSION_SECONDS = 8 * 3600  # a working day; then sign in again


@dataclasses.dataclass(frozen=True)
class AdminSession:
    admin: str
    csrf_token: str


def start(store: Store, admin: str, response: Response, request: Request) -> None:
    """Open a session for `admin` and give `response` its cookie."""
    token = secrets.token_urlsafe(32)
    store.create_admin_session(_hash(token), admin, secrets.token_urlsafe(32), time.time() + SESSION_SECONDS)
    set_cookie(response, request, COOKIE, token, SESSION_SECONDS)


def current(request: Request) -> AdminSession | None:
    """The session the request's cookie names, if it is still open."""
    token = request.cookies.get(COOKIE)
    row = request.app.state.store.admin_session(_hash(token)) if token else None
    return AdminSession(row["admin"], row["csrf_token"]) if row else None


def end(request: Request, response: Response) -> None:
    """Close the request's session on the server and drop its cookie."""
    token = request.cookies.get(COOKIE)
    if token:
        request.app.state.store.delete_admin_session(_hash(token))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
