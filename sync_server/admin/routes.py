"""Every admin route: the pages under /admin, the API under /v1/admin, and their static files."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sync_server.admin import api, login, pages

STATIC = Path(__file__).parent / "static"


def routes(dist: Path) -> list[BaseRoute]:
    """The admin's routes; uPlot is served from the build in `dist` (build.py copies it there)."""
    return [
        Route("/admin", pages.overview),
        Route("/admin/login", login.login_form, methods=["GET"]),
        Route("/admin/login", login.login, methods=["POST"]),
        Route("/admin/logout", login.logout, methods=["POST"]),
        Route("/admin/sites", pages.create_site, methods=["POST"]),
        Route("/admin/sites/{site}", pages.site),
        Route("/admin/sites/{site}/origins", pages.set_origins, methods=["POST"]),
        Route("/admin/sites/{site}/rotate-key", pages.rotate_key, methods=["POST"]),
        Route("/admin/sites/{site}/kill-switch", pages.set_kill_switch, methods=["POST"]),
        Route("/admin/sites/{site}/rules", pages.set_rules, methods=["POST"]),
        Route("/admin/sites/{site}/federation", pages.set_federation, methods=["POST"]),
        Route("/admin/sites/{site}/catalog", pages.import_catalog, methods=["POST"]),
        Route("/admin/sites/{site}/erase", pages.erase_visitor, methods=["POST"]),
        Route("/admin/sites/{site}/delete", pages.delete_site, methods=["POST"]),
        Route("/v1/admin/sites", api.sites),
        Route("/v1/admin/sites/{site}/dashboard", api.dashboard),
        Route("/v1/admin/sites/{site}/rules", api.put_rules, methods=["PUT"]),
        Route("/v1/admin/sites/{site}/logged-sample", api.put_logged_sample, methods=["PUT"]),
        Mount("/static/admin", StaticFiles(directory=STATIC), name="admin-static"),
        Mount("/static/uplot", StaticFiles(directory=dist / "uplot", check_dir=False), name="uplot"),
    ]
