"""The Dash app over the lake: ``create_app(lake, currency)`` builds it, ``serve(app)`` runs it.

Pages are modules in ``dashboards/pages`` listed in ``PAGES`` and routed by their ``PATH``.  The app
loads nothing from the internet — Dash's and Plotly's JavaScript are served from the installed
packages and the CSS is inline — because the dashboard runs on intranets and in CI without one.

    >>> from dashboards.app import create_app, serve
    >>> serve(create_app("callcost-demo/lake", "USD"), port=8050)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs

from dash import Dash, Input, Output, dcc, html
from werkzeug.serving import BaseWSGIServer, make_server

from dashboards import ids
from dashboards.pages import PageContext, overview

__all__ = ["PAGES", "create_app", "make_wsgi_server", "route", "serve"]

PAGES = (overview,)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0; color: #1b2733;
       background: #f5f7f9; }
header.top { background: #1f3b5a; color: #fff; padding: .7rem 1.5rem; display: flex; gap: 2rem; align-items: baseline; }
header.top h1 { font-size: 1.2rem; margin: 0; }
header.top a { color: #cfe0f1; text-decoration: none; margin-right: 1rem; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.5rem 2rem; }
.toolbar { display: flex; justify-content: space-between; align-items: center; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: .8rem; margin: .5rem 0; }
.card { background: #fff; border: 1px solid #d5dbe1; border-radius: 6px; padding: .7rem .9rem; }
.card-label { font-size: .75rem; text-transform: uppercase; color: #5b6875; letter-spacing: .04em; }
.card-value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card-savings .card-value { color: #2e8b57; }
.card-value .unit { font-size: .8rem; font-weight: 400; color: #5b6875; }
.note { color: #5b6875; font-size: .9rem; }
table.figures { border-collapse: collapse; width: 100%; background: #fff; font-variant-numeric: tabular-nums; }
table.figures th { background: #1f3b5a; color: #fff; padding: .35rem .6rem; text-align: right; }
table.figures td { padding: .3rem .6rem; border-bottom: 1px solid #d5dbe1; text-align: right; }
table.figures th:first-child, table.figures td:first-child { text-align: left; }
table.figures tr.total td { font-weight: 700; border-top: 2px solid #1b2733; }
"""

# Dash's default page with our CSS inlined: no stylesheet to fetch from anywhere.
_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>""" + _CSS + """</style></head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""


def route(pathname: str | None, search: str | None, ctx: PageContext) -> html.Div:
    """The layout of the page at *pathname* (a dictionary lookup, not an if/elif chain).

    The query string (``?month=2026-10``) is handed to the page, so a link can open a given view.
    """
    pages = {p.PATH: p for p in PAGES}
    page = pages.get(pathname or "/")
    if page is None:
        return html.Div([html.H2("Page not found"), html.P(f"No page at {pathname}.")])
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    return page.layout(ctx, query)


def create_app(lake: str | os.PathLike[str], currency: str = "USD") -> Dash:
    """A Dash app showing the lake at *lake*; figures are read from the lake on every request."""
    ctx = PageContext(lake=Path(lake), currency=currency)
    app = Dash(__name__, title="callcost", serve_locally=True, suppress_callback_exceptions=True,
               update_title=None)
    app.index_string = _INDEX
    app.layout = html.Div([
        dcc.Location(id=ids.URL),
        html.Header(className="top", children=[
            html.H1("callcost"),
            html.Nav(id=ids.NAV, children=[dcc.Link(p.NAME, href=p.PATH) for p in PAGES]),
        ]),
        html.Main(id=ids.PAGE),
    ])

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    def _route(pathname: str | None, search: str | None):
        return route(pathname, search, ctx)

    for page in PAGES:
        page.register_callbacks(app, ctx)
    return app


def make_wsgi_server(app: Dash, host: str = "127.0.0.1", port: int = 8050) -> BaseWSGIServer:
    """A threaded WSGI server for *app*, not yet serving (port 0 picks a free port: see ``.server_port``).

    Tests run it in a thread and call ``shutdown()``; ``serve`` runs it in the foreground.
    """
    return make_server(host, port, app.server, threaded=True)


def serve(app: Dash, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve *app* until interrupted (Ctrl-C)."""
    server = make_wsgi_server(app, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        pass
    finally:
        server.server_close()
