"""Reading requests and writing answers in bare ASGI, for the few paths where Starlette's
Request and Response objects would cost more than the work itself (device updates).

>>> header({"headers": [(b"content-type", b"application/json; charset=utf-8")]}, b"content-type")
b'application/json; charset=utf-8'
>>> print(header({"headers": []}, b"origin"))
None
>>> media_type({"headers": [(b"content-type", b"Application/JSON; charset=utf-8")]})
b'application/json'
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

JSON_HEADERS = [(b"content-type", b"application/json")]


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case, as ASGI servers give names), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def media_type(scope: Scope) -> bytes:
    """The request's Content-Type without its parameters, in lower case (b"" if absent)."""
    return (header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()


async def read_body(receive: Receive) -> bytes:
    """The whole request body (the app's BodyLimit caps it)."""
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def send_json(send: Send, status: int, body: bytes) -> None:
    """Answer with `body`, already JSON text."""
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
