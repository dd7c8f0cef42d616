"""Admin passwords, stored as scrypt hashes that carry their own salt and cost.

scrypt is slow and memory-hard on purpose: a stolen database then costs an attacker
about 32 MiB and a tenth of a second per guess per account. It costs the server the same
for every sign-in try, so `PasswordChecks` runs one at a time and turns tries away
beyond a short queue, rather than let a flood of them take a thread and 32 MiB each. The cost (OWASP's
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

import anyio
import anyio.to_thread

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


class Busy(Exception):
    """Too many password checks are running or waiting: try again in `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: int, per_address: bool) -> None:
        super().__init__(reason)
        self.retry_after, self.per_address = retry_after, per_address


class PasswordChecks:
    """`password_matches` off the event loop, bounded: at most `workers` scrypt hashes at once
    (32 MiB and a CPU core each), at most `queue` more waiting, and at most `per_address` of
    those from one client address. Beyond that a try is refused at once (Busy), so a flood
    of sign-ins costs the server a few refusals, not a thread and 32 MiB per try, and one
    address cannot fill the queue that everyone else's sign-ins wait in."""

    def __init__(self, workers: int = 1, queue: int = 8, per_address: int = 2) -> None:
        self._limiter = anyio.CapacityLimiter(workers)
        self._capacity, self._per_address = workers + queue, per_address
        self._admitted: dict[str, int] = {}  # client address -> its checks running or waiting

    async def matches(self, address: str, stored_hash: str | None, password: str) -> bool:
        """Whether `password` is right; Busy if the server will not check it now."""
        if self._admitted.get(address, 0) >= self._per_address:
            raise Busy("sign-in tries from this address are already being checked", retry_after=1, per_address=True)
        if sum(self._admitted.values()) >= self._capacity:
            raise Busy("the server is checking too many sign-in tries", retry_after=2, per_address=False)
        self._admitted[address] = self._admitted.get(address, 0) + 1
        try:
            return await anyio.to_thread.run_sync(password_matches, stored_hash, password, limiter=self._limiter)
        finally:
            self._admitted[address] -= 1
            if not self._admitted[address]:
                del self._admitted[address]


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
