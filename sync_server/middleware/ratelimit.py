"""Rate limits: a token bucket per client IP (every `/v1` request), per visitor, and per
client IP for wrong visitor secrets.

A visitor's bucket is charged only once their secret checked out, so nobody else can spend
it (and block their export or erasure); a wrong or missing secret is charged to the
address that sent it instead.

A bucket holds up to `burst` tokens and refills at `rate` tokens a second; each
request takes one. An empty bucket means 429 with `Retry-After` (whole seconds) and
a JSON body. Buckets live in memory, in one process: a restart forgets them, and
several server processes would each allow the full rate. Where the full rate must hold across
replicas (admins' sign-in tries, when replicas share a PostgreSQL database), `SharedRateLimiter`
keeps the buckets in the database instead.

Updates carry no visitor id (they are anonymous), so they are limited per IP only.
Behind a reverse proxy the client IP comes from `X-Forwarded-For`, which uvicorn
trusts from the addresses in `--forwarded-allow-ips`.

>>> limiter = RateLimiter(rate=1.0, burst=2)
>>> [limiter.wait_time("a", now=0.0) for _ in range(3)]
[0.0, 0.0, 1.0]
>>> limiter.wait_time("b", now=0.0), limiter.wait_time("a", now=1.0)
(0.0, 0.0)
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from sync_server.errors import ApiError, error_response

if TYPE_CHECKING:
    from sync_server.storage import Store


class RateLimiter:
    """Token buckets by key, forgetting the least recently used beyond `max_keys`."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1 request, got {burst!r}")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of), oldest use first

    def wait_time(self, key: str, now: float | None = None) -> float:
        """Take a token for `key` and return 0, or return the seconds until there is one."""
        now = time.monotonic() if now is None else now
        tokens, wait = take(self._buckets.pop(key, None), now, self.rate, self.burst)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            # A forgotten bucket is a full one: the cost of bounding memory under a flood of keys.
            del self._buckets[next(iter(self._buckets))]
        return wait


class SharedRateLimiter:
    """Token buckets kept in the database, so every server replica draws from the same ones.

    >>> from sync_server.storage import Store
    >>> limiter = SharedRateLimiter(Store(":memory:"), "sign-in", rate=1.0, burst=2)
    >>> [limiter.wait_time("a", now=0.0) for _ in range(3)]
    [0.0, 0.0, 1.0]
    """

    def __init__(self, store: Store, name: str, rate: float, burst: int) -> None:
        self.store, self.name, self.rate, self.burst = store, name, rate, burst

    def wait_time(self, key: str, now: float | None = None) -> float:
        """Take a token for `key` and return 0, or return the seconds until there is one."""
        now = time.time() if now is None else now  # the machines' clocks: replicas share the buckets
        return self.store.rate_bucket(f"{self.name}\n{key}", lambda bucket: take(bucket, now, self.rate, self.burst), now)


def take(bucket: tuple[float, float] | None, now: float, rate: float, burst: int) -> tuple[float, float]:
    """The tokens a bucket (tokens, as of when; None: a full one) holds after a request at `now`,
    and 0 if the request took one, else the seconds until there is one."""
    tokens, as_of = bucket or (burst, now)
    tokens = min(burst, tokens + (now - as_of) * rate)
    return (tokens - 1, 0.0) if tokens >= 1 else (tokens, (1 - tokens) / rate)


def _too_many(whose: str, wait: float) -> ApiError:
    seconds = math.ceil(wait)
    return ApiError(
        429, "rate_limited", f"too many requests {whose}; retry in {seconds} s", headers={"Retry-After": str(seconds)}
    )


def limit_visitor(request: Request, site: str, visitor: str) -> None:
    """Take one of the visitor's tokens, or refuse the request with 429."""
    limiter: RateLimiter = request.app.state.visitor_limiter
    wait = limiter.wait_time(f"{site}\n{visitor}")
    if wait:
        raise _too_many("for this visitor", wait)


def limit_wrong_secrets(request: Request) -> None:
    """Charge a refused visitor secret to the client address; 429 once it has had too many."""
    limiter: RateLimiter = request.app.state.wrong_secret_limiter
    wait = limiter.wait_time(request.client.host if request.client else "unknown")
    if wait:
        raise _too_many("with wrong secrets from this address", wait)


class LimitPerIP:
    """ASGI middleware: every `/v1` request takes a token from its client IP's bucket."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            client = scope.get("client")
            wait = self.limiter.wait_time(client[0] if client else "unknown")
            if wait:
                response = error_response(scope, _too_many("from this address", wait))
                return await response(scope, receive, send)
        await self.app(scope, receive, send)
