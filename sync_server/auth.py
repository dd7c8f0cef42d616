"""Visitors prove a visitor id is theirs with a secret their device made.

The device draws a random secret once (at least 128 bits, e.g. 32 random bytes in
base64url) and sends it as `Authorization: Bearer SECRET`; the visitor's first
consent call registers it. The server keeps only HMAC-SHA256(server key, secret).

Why a fast keyed hash rather than scrypt or Argon2: slow hashes make guessing
*low-entropy* passwords expensive. A secret of 128 random bits cannot be guessed at
any speed, so slowness would buy nothing and would cost CPU on every request, a lever
for denial of service. The key lives in a file outside the database, so a leaked
database alone does not even let anyone test a candidate secret. Hashes are compared
in constant time, so answer times tell nothing about a stored hash.

>>> secrets = VisitorSecrets(bytes(32))
>>> stored = secrets.hash("s" * 43)
>>> secrets.matches("s" * 43, stored), secrets.matches("t" * 43, stored)
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from starlette.requests import Request

from sync_server.errors import ApiError
from sync_server.middleware.ratelimit import limit_wrong_secrets

SECRET = re.compile(r"[A-Za-z0-9_-]{32,128}")  # base64url or hex: 128 bits or more when random
KEY_BYTES = 32


class VisitorSecrets:
    """Keyed hashes of visitors' device secrets, and checks against them."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"the server key must have at least {KEY_BYTES} bytes, got {len(key)}")
        self._key = key

    @classmethod
    def from_key_file(cls, path: Path) -> VisitorSecrets:
        """The key stored in `path` as hex; made, readable by its owner only, on first use."""
        if not path.exists():
            _make_key_file(path)
        try:
            return cls(bytes.fromhex(path.read_text()))
        except ValueError as error:
            raise ValueError(f"{path} must hold the server key as hex digits: {error}") from None

    def hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def matches(self, secret: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(secret), stored_hash)

    def derive(self, label: bytes) -> bytes:
        """A key for another purpose (e.g. participation tokens), independent of the hashes'."""
        return hmac.new(self._key, b"derive\n" + label, hashlib.sha256).digest()


def _make_key_file(path: Path) -> None:
    # Written aside and linked into place, so server processes starting together all read one whole key.
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(os.urandom(KEY_BYTES).hex() + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made the key first: everyone uses that one
    finally:
        draft.unlink()


def authenticate(request: Request, site: str, visitor: str, register: bool = False) -> str:
    """Check the secret this request presents against `visitor`'s and return its keyed hash.

    A visitor the server does not know is refused exactly like a wrong secret (401, the same
    body), so answers do not tell which visitor ids exist; unless `register` (their first
    consent call): then the hash returned is the one to register. Every refusal is charged
    to the client address (see ratelimit.limit_wrong_secrets), never to the visitor.
    """
    try:
        return _checked_hash(request, site, visitor, register)
    except ApiError:
        limit_wrong_secrets(request)
        raise


def _checked_hash(request: Request, site: str, visitor: str, register: bool) -> str:
    secrets: VisitorSecrets = request.app.state.secrets
    secret = _bearer_secret(request)
    registered = request.app.state.store.visitor(site, visitor)
    if registered is None and register:
        return secrets.hash(secret)
    if not secrets.matches(secret, registered["secret_hash"] if registered else ""):
        raise _unauthorized("wrong_secret", f"visitor {visitor!r} has no data under this secret")
    return secrets.hash(secret)


def _bearer_secret(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise _unauthorized("missing_secret", "send the visitor's secret as 'Authorization: Bearer SECRET'")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not SECRET.fullmatch(secret):
        raise _unauthorized(
            "invalid_secret", "the Authorization header must be 'Bearer ' and 32 to 128 letters, digits, '-' or '_'"
        )
    return secret


def _unauthorized(code: str, detail: str) -> ApiError:
    return ApiError(401, code, detail, headers={"WWW-Authenticate": "Bearer"})
