"""Admin passwords, stored as scrypt hashes that carry their own salt and cost.

scrypt is slow and memory-hard on purpose: a stolen database then costs an attacker
about 32 MiB and a tenth of a second per guess per account. The cost (OWASP's
N=2^15, r=8, p=3) is written into each hash, so raising it later leaves existing
hashes readable, and each password gets its own random salt, so equal passwords
hash differently.

>>> stored = hash_password("correct horse battery")
>>> stored.startswith("scrypt$n=32768,r=8,p=3$")
True
>>> verify_password("correct horse battery", stored), verify_password("Correct horse battery", stored)
(True, False)
>>> check_new_password("short")
Traceback (most recent call last):
...
ValueError: a password needs at least 12 characters, got 5
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets

from sync_server.storage import AdminExists, Store

COST = {"n": 2**15, "r": 8, "p": 3}
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD = 12
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def hash_password(password: str) -> str:
    """`scrypt$n=…,r=…,p=…$SALT$KEY`, salt and key in base64."""
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password, salt, **COST)
    cost = ",".join(f"{name}={value}" for name, value in COST.items())
    return f"scrypt${cost}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` hashes to `stored`, compared in constant time."""
    scheme, cost, salt, key = stored.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    params = {name: int(value) for name, value in (part.split("=") for part in cost.split(","))}
    return hmac.compare_digest(_scrypt(password, base64.b64decode(salt), **params), base64.b64decode(key))


def check_new_password(password: str) -> str:
    """The password, if it is long enough to resist guessing; ValueError otherwise."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters, got {len(password)}")
    return password


def create_admin(store: Store, name: str, password: str) -> None:
    """Add an admin; ValueError naming the problem with the name or password."""
    if not NAME.fullmatch(name):
        raise ValueError(f"an admin name is 1 to 64 letters, digits, '_', '.', '@' or '-', got {name!r}")
    try:
        store.create_admin(name, hash_password(check_new_password(password)))
    except AdminExists:
        raise ValueError(f"there is already an admin named {name!r}") from None


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one behind `stored_hash` (None: no such admin, never a match).

    Slow on purpose (scrypt): call it off the event loop.
    """
    if stored_hash is None:  # hash all the same, so a wrong name takes as long as a wrong password
        verify_password(password, _stand_in_hash())
        return False
    return verify_password(password, stored_hash)


@functools.cache
def _stand_in_hash() -> str:
    return hash_password(os.urandom(16).hex())


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128·n·r bytes; allow twice that, as OpenSSL counts a little more.
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


DEMO_ADMIN = "demo"


def ensure_demo_admin(store: Store) -> str | None:
    """For the demo: when there is no admin yet, add `demo` with a random password and return it."""
    if store.count_admins():
        return None
    password = secrets.token_urlsafe(12)
    create_admin(store, DEMO_ADMIN, password)
    return password
