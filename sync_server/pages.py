"""HTML pages for people: the admin overview (a fuller dashboard grows here)."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>p13n admin</title>
<style>body{{font:15px system-ui;margin:2rem;max-width:60rem}}td,th{{padding:.3rem .8rem;text-align:left}}</style>
</head><body><h1>Sites and their global models</h1>
<table><tr><th>site</th><th>model version</th><th>weights</th><th>updates received</th></tr>{rows}</table>
</body></html>"""


async def admin(request: Request) -> HTMLResponse:
    store = request.app.state.store
    rows = []
    for site in store.sites():
        model = store.latest_model(site["site"])
        cells = (site["site"], model["version"], len(model["weights"]), store.count_updates(site["site"]))
        rows.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    return HTMLResponse(PAGE.format(rows="".join(rows)))


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})
