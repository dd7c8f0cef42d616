"""The application factory: every route and what it is built from, top to bottom."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sync_server import (
    admin,
    api,
    channels,
    consent,
    issuance,
    metrics,
    openapi,
    pages,
    profiles,
    tokens,
)
from sync_server.auth import VisitorSecrets
from sync_server.config import Settings
from sync_server.errors import ApiError, api_error_response, http_error_response
from sync_server.ingest import Ingest
from sync_server.middleware.bodylimit import BodyLimit
from sync_server.middleware.headers import SecurityHeaders
from sync_server.middleware.origins import SiteOrigins
from sync_server.middleware.ratelimit import LimitPerIP, RateLimiter
from sync_server.model_answers import ModelAnswers
from sync_server.static import BundleFiles
from sync_server.storage import Store


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    store = Store(settings.db_path)
    routes = [
        Route("/v1/sites/{site}/updates", api.PostUpdate(), methods=["POST"]),  # first: the busiest
        Route("/healthz", pages.healthz),
        *admin.routes(settings.dist_dir),
        Route("/v1/sites/{site}/model", api.global_model, methods=["GET"]),
        Route("/v1/consent", consent.post_consent, methods=["POST"]),
        Route("/v1/sites/{site}/tokens", issuance.post_token, methods=["POST"]),
        Route("/v1/sites/{site}/decide", channels.decide, methods=["POST"]),
        Route("/v1/sites/{site}/events", channels.events, methods=["POST"]),
        Route("/v1/profiles/{visitor}", profiles.Profile),
        Route("/openapi.json", openapi.openapi_document),
        Route("/metrics", metrics.metrics_page),
        Mount("/p13n", BundleFiles(directory=settings.dist_dir, check_dir=False), name="p13n"),
    ]
    if settings.demo_dir is not None:
        store.create_site(settings.demo_site, hash_bits=settings.demo_hash_bits)
        routes.append(Mount("/demo", StaticFiles(directory=settings.demo_dir, html=True), name="demo"))
    ingest = Ingest(store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # What start-up made (modules, River's and NumPy's among them, the app) lives as long as
        # the process: frozen, the cyclic collector stops scanning it on every full collection,
        # which would otherwise show in the updates' latency tail.
        gc.freeze()
        ingest.start()  # the writer thread that commits updates and closes rounds
        yield
        ingest.stop()

    # Outermost first: time everything; the security and CORS headers even on refusals; then the limits.
    middleware = [Middleware(metrics.RequestTimer), Middleware(SecurityHeaders), Middleware(SiteOrigins, store=store)]
    if settings.ip_rate:
        middleware.append(Middleware(LimitPerIP, limiter=RateLimiter(settings.ip_rate, settings.ip_burst)))
    middleware.append(Middleware(BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_seconds))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={ApiError: api_error_response, HTTPException: http_error_response},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.secrets = VisitorSecrets.from_key_file(settings.secret_key())
    app.state.token_keys = tokens.TokenKeys(app.state.secrets.derive(tokens.SERVER_KEY_NAME))
    # Replicas share their PostgreSQL database, and so the sign-in limits; one machine keeps them in memory.
    app.state.login_limiter = admin.LoginLimiter(store if isinstance(store.target, str) else None)
    app.state.password_checks = admin.PasswordChecks()
    app.state.visitor_limiter = RateLimiter(settings.visitor_rate, settings.visitor_burst)
    app.state.wrong_secret_limiter = RateLimiter(settings.visitor_rate, settings.visitor_burst)
    app.state.ingest = ingest
    app.state.model_answers = ModelAnswers(store, app.state.token_keys)
    app.state.dashboards = admin.Dashboards(store)
    return app
