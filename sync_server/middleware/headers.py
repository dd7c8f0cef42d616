"""Headers every answer carries, so browsers treat what the server sends as what it says it is.

- `X-Content-Type-Options: nosniff` everywhere: a JSON error that echoes input is never run
  as a script or styled as CSS;
- `Referrer-Policy: same-origin` everywhere: the admin's URLs (site keys, messages) never
  leave for another site in a Referer header. Not `no-referrer`: under it browsers send
  `Origin: null` with the admin's own form posts, which the CSRF check must then refuse;
- `Cache-Control: no-store` on the admin's pages and API (`/admin`, `/v1/admin`): nothing a
  signed-in admin saw stays in a shared or browser cache, unless the handler said otherwise.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERYWHERE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
PRIVATE_PREFIXES = ("/admin", "/v1/admin/")
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        private = scope["path"].startswith(PRIVATE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *EVERYWHERE]
                if private and not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
