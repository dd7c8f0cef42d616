"""Small HTML builders for the admin pages. Every value is escaped where it enters markup.

>>> table(["site", "version"], [["<shop>", 3]])
'<table><thead><tr><th>site</th><th>version</th></tr></thead><tbody><tr><td>&lt;shop&gt;</td><td>3</td></tr></tbody></table>'
>>> number(0.012345), number(None), number(12000.0), number(3)
('0.0123', '—', '12,000', '3')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from starlette.responses import HTMLResponse

from sync_server.admin.csrf import FIELD
from sync_server.admin.sessions import AdminSession

# Scripts and styles come from our own origin only; no page may frame the dashboard.
CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · p13n admin</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/uplot/uPlot.min.css"><link rel="stylesheet" href="/static/admin/admin.css">
</head><body>"""


def page(title: str, body: str, session: AdminSession | None = None, status: int = 200) -> HTMLResponse:
    """A whole admin page: the header bar (with sign-out when signed in), then `body`."""
    bar = '<header><a class="brand" href="/admin">p13n <span>admin</span></a>'
    if session is not None:
        bar += (f'<form method="post" action="/admin/logout">{csrf_field(session)}'
                f'<span class="who">{escape(session.admin)}</span><button class="link">Sign out</button></form>')
    html = HEAD.format(title=escape(title))
    if session is not None:  # for scripts' writes to /v1/admin (see api.py)
        html = html.replace("</head>", f'<meta name="csrf-token" content="{escape(session.csrf_token)}"></head>')
    html += bar + f"</header><main>{body}</main>"
    html += '<script src="/static/uplot/uPlot.iife.min.js"></script><script src="/static/admin/admin.js"></script>'
    return HTMLResponse(html + "</body></html>", status_code=status,
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def csrf_field(session: AdminSession) -> str:
    return f'<input type="hidden" name="{FIELD}" value="{escape(session.csrf_token)}">'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], empty: str = "nothing yet") -> str:
    """A table of escaped cells, or a note saying `empty` when there are no rows."""
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def number(value: float | int | None) -> str:
    """A figure as people read it: three significant digits, thousands separated, — for none."""
    if value is None:
        return "—"
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def notice(text: str, kind: str = "ok") -> str:
    return f'<p class="notice {kind}" role="{"alert" if kind == "error" else "status"}">{escape(text)}</p>'
