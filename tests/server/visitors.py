"""A browser's visitor as the server tests drive it: a random id and the device's secret."""

from __future__ import annotations

import dataclasses
import secrets

import httpx

from tests.conftest import TEST_SITE, RunningServer

PURPOSES = ("personalize", "improve", "sync")


@dataclasses.dataclass
class Visitor:
    server: RunningServer
    site: str = TEST_SITE
    id: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(16))
    secret: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(32))

    def call(self, method: str, path: str, body: object = None, *, secret: str | None = None,
             headers: dict | None = None, **options) -> httpx.Response:
        """One request as this visitor's device makes it (`secret=""` sends none)."""
        secret = self.secret if secret is None else secret
        headers = {**({"authorization": f"Bearer {secret}"} if secret else {}), **(headers or {})}
        if body is not None:
            options["json"] = body
        options.setdefault("params", {"site": self.site})
        return httpx.request(method, f"{self.server.url}{path}", headers=headers, **options)

    def consent(self, sync: bool = False, improve: bool = False, personalize: bool = True,
                policy_version: str = "2026-01", **options) -> httpx.Response:
        purposes = {"personalize": personalize, "improve": improve, "sync": sync}
        body = {"visitor": self.id, "policy_version": policy_version, "purposes": purposes}
        return self.call("POST", "/v1/consent", body, **options)

    def export(self, **options) -> httpx.Response:
        return self.call("GET", f"/v1/profiles/{self.id}", **options)

    def put_profile(self, profile: object, **options) -> httpx.Response:
        return self.call("PUT", f"/v1/profiles/{self.id}", {"profile": profile}, **options)

    def erase(self, **options) -> httpx.Response:
        return self.call("DELETE", f"/v1/profiles/{self.id}", **options)

    def rows(self, table: str) -> list[dict]:
        """What the server's database holds for this visitor in `table`."""
        return list(self.server.db()[table].rows_where("site = ? AND visitor = ?", [self.site, self.id]))
