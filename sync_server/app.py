"""The application factory: every route and what it is built from, top to bottom."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sync_server import api, pages
from sync_server.config import Settings
from sync_server.errors import ApiError, api_error_response, http_error_response
from sync_server.storage import Store


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    store = Store(settings.db_path)
    routes = [
        Route("/healthz", pages.healthz),
        Route("/admin", pages.admin),
        Route("/v1/sites/{site}/model", api.global_model, methods=["GET"]),
        Route("/v1/sites/{site}/updates", api.post_update, methods=["POST"]),
        Mount("/p13n", StaticFiles(directory=settings.dist_dir, check_dir=False), name="p13n"),
    ]
    if settings.demo_dir is not None:
        store.create_site(settings.demo_site)
        routes.append(Mount("/demo", StaticFiles(directory=settings.demo_dir, html=True), name="demo"))
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: api_error_response, HTTPException: http_error_response},
    )
    app.state.settings = settings
    app.state.store = store
    return app
