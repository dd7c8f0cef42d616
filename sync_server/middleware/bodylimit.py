"""A cap on every request body, in bytes and in time, answered like every other refusal:
JSON naming the limit.

A body whose `Content-Length` is over the cap is refused before a byte of it is
read; a body sent without one (chunked) is refused as soon as it grows past the cap.
A body that has not all arrived `timeout` seconds after the request began is refused
with 408 and its connection closed, so stalled uploads cannot hold the server's
connections and memory (a device's update is a few kilobytes; a slow phone sends the
largest body allowed, 1 MB, in well under the default 10 s).
(Starlette's own `max_body_size` answers in plain text when the endpoint has not read
the body, so the server keeps this one.)
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_server.asgi import header
from sync_server.errors import ApiError, error_response


class BodyLimit:
    """ASGI middleware: 413 for any request body over `max_bytes`, 408 for one not in after `timeout` s."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = header(scope, b"content-length") or b""
        if declared.isdigit() and int(declared) > self.max_bytes:
            refusal = ApiError(413, "too_large", f"the body is {int(declared)} bytes; the limit is {self.max_bytes}")
            return await error_response(scope, refusal)(scope, receive, send)
        received, complete = 0, False
        deadline = asyncio.get_running_loop().time() + self.timeout

        async def receive_within_limit() -> Message:
            nonlocal received, complete
            if complete:  # after the body, only the disconnect can come: no deadline for that
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise ApiError(408, "body_timeout", f"the body did not arrive within {self.timeout:g} s") from None
            complete = not message.get("more_body", False)
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # Raised inside the endpoint's read, so the app's error handler answers it.
                raise ApiError(413, "too_large", f"the body is over the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, receive_within_limit, send)
