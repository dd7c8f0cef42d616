"""Prometheus metrics, served at `/metrics`.

Every metric is a named object here, so any module can import and update it:

    from sync_server import metrics
    metrics.UPDATES_ACCEPTED.labels(site).inc()

Labels take only bounded values (site keys an admin created, route templates,
error codes), never a raw path or anything a client made up, so a scan of random
URLs cannot blow up the number of series.

>>> from starlette.routing import Route
>>> route = Route("/v1/profiles/{visitor}", lambda request: None)
>>> route_template({"type": "http", "route": route, "path": "/v1/profiles/abc"})
'/v1/profiles/{visitor}'
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "p13n_request_duration_seconds",
    "Time from receiving a request to sending the end of its answer.",
    ["route", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
REFUSED = Counter(
    "p13n_refused_requests_total",
    "Requests answered with a JSON error, by route and reason (the error code). "
    "Updates rejected by reason: route=\"/v1/sites/{site}/updates\".",
    ["route", "reason"],
)
UPDATES_ACCEPTED = Counter(
    "p13n_updates_accepted_total", "Device updates stored durably (answered 202).", ["site"]
)
ROUNDS_CLOSED = Counter(
    "p13n_rounds_closed_total", "Federated rounds closed into a new global model, by why they closed.",
    ["site", "reason"],
)
ROUND_OPEN_SECONDS = Histogram(
    "p13n_round_open_seconds", "How long a round was open: from its first update to its close.", ["site"],
    buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400),
)
ROUND_CLOSE_SECONDS = Histogram(
    "p13n_round_close_seconds", "Time closing a round takes (read, clip, aggregate, noise, account, publish).",
    ["site"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EPSILON = Gauge(
    "p13n_privacy_epsilon", "The privacy spent by a site's closed rounds: ε at the site's δ (the exact Gaussian accountant).",
    ["site"],
)

METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}


def route_template(scope: Scope) -> str:
    """The route a request is for, as written in the app ("/v1/profiles/{visitor}")."""
    route = scope.get("route") or _matching_route(scope)
    return route.path if route is not None else "unmatched"


def _matching_route(scope: Scope):
    # Before routing (a request refused by a middleware) find the route the router would take.
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        if route.matches(scope)[0] is not Match.NONE:
            return route
    return None


class RequestTimer:
    """ASGI middleware that times every HTTP request into REQUEST_SECONDS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._timers: dict[tuple[str, str, int], Histogram] = {}  # REQUEST_SECONDS by its labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            labels = (route_template(scope), scope["method"] if scope["method"] in METHODS else "other", status)
            if labels not in self._timers:  # labels() takes a lock and builds a key: once per kind of request
                self._timers[labels] = REQUEST_SECONDS.labels(*labels[:2], str(status))
            self._timers[labels].observe(time.perf_counter() - started)


async def metrics_page(request: Request) -> Response:
    """Every metric in Prometheus' text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
