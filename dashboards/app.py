"""The Dash app over the lake: ``create_app(lake, currency, ent)`` builds it, ``serve(app)`` runs it.

Pages are modules in ``dashboards/pages`` listed in ``PAGES`` and routed by their ``PATH``; each page is
rendered from the URL (path and query) alone.  Downloads are plain Flask routes beside the app
(``/download/<page>.xlsx?<query>``, ``/download/<page>/<table>.csv?<query>``) written from the very
tables the page shows.  The app loads nothing from the internet — Dash's and Plotly's JavaScript
are served from the installed packages and the CSS is inline — because the dashboard runs on
intranets and in CI without one.  It is served by waitress (a production WSGI server, threads),
not Flask's development server.  Every page is in the viewer's language (:mod:`dashboards.i18n`:
``?lang=zh_CN``, remembered in a cookie, else the browser's ``Accept-Language``).

    >>> from dashboards.app import create_app, serve
    >>> serve(create_app("callcost-demo/lake", "USD"), port=8050)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Protocol
from urllib.parse import parse_qs

import flask
from dash import ALL, Dash, Input, Output, State, callback_context, dcc, html, no_update
from waitress.server import create_server

from dashboards import ids
from dashboards.filters import Scope, query_string
from dashboards.frame import page_layout
from dashboards.i18n import COOKIE, LANG_KEY, language_links, request_lang, translate_tree
from analytics.reporting.i18n import translator
from dashboards.pages import (PageContext, billing, carriers, destinations, extensions, live, overview, page_data,
                              quality, sites, trunks, view_of)
from dashboards.tables import csv_bytes, xlsx_bytes
from warehouse.config import Enterprise

__all__ = ["PAGES", "WsgiServer", "create_app", "make_wsgi_server", "route", "serve"]

PAGES: tuple[ModuleType, ...] = (overview, sites, carriers, destinations, extensions, billing, trunks, quality, live)

#: The viewer's scope for a request; the login issue replaces this with the signed-in user's.
ScopeFor = Callable[[], Scope | None]

_CSS = """
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans CJK SC", "PingFang SC",
       "Microsoft YaHei", sans-serif; margin: 0; color: #1b2733;
       background: #f5f7f9; }
header.top { background: #1f3b5a; color: #fff; padding: .6rem 1rem; display: flex; flex-wrap: wrap; gap: .3rem 1.5rem;
             align-items: baseline; }
header.top h1 { font-size: 1.2rem; margin: 0; }
header.top nav { display: flex; flex-wrap: wrap; gap: .2rem .9rem; }
header.top a { color: #cfe0f1; text-decoration: none; }
header.top .langs { margin-left: auto; display: flex; gap: .6rem; font-size: .85rem; }
header.top .langs a.current { color: #fff; font-weight: 600; }
main { max-width: 1200px; margin: 0 auto; padding: .8rem 1rem 2rem; }
h2 { margin: .4rem 0; }
.filters { display: flex; flex-wrap: wrap; gap: .5rem .8rem; align-items: flex-end; margin: .3rem 0 .6rem; }
.flt { display: flex; flex-direction: column; font-size: .8rem; color: #5b6875; min-width: 8.5rem; flex: 1 1 8.5rem;
       max-width: 14rem; }
.flt input { height: 36px; border: 1px solid #ccc; border-radius: 4px; padding: 0 .4rem; min-width: 0; }
.chip { align-self: center; background: #e3ecf5; border-radius: 1rem; padding: .2rem .7rem; text-decoration: none; }
.filter-error { background: #fdecea; border: 1px solid #e0a39c; color: #8a1f11; padding: .5rem .8rem; border-radius: 4px; }
.empty { background: #fff8e1; border: 1px solid #e5d28a; padding: .8rem; border-radius: 4px; }
.downloads { display: flex; flex-wrap: wrap; gap: .3rem .8rem; margin: .3rem 0; font-size: .85rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: .6rem; margin: .5rem 0; }
.card { background: #fff; border: 1px solid #d5dbe1; border-radius: 6px; padding: .6rem .8rem; min-width: 0; }
.card-label { font-size: .75rem; text-transform: uppercase; color: #5b6875; letter-spacing: .04em; }
.card-value { font-size: 1.25rem; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card-change { font-size: .8rem; color: #5b6875; }
.card-savings .card-value { color: #2e8b57; }
.note { color: #5b6875; font-size: .9rem; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: .6rem; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table.figures { border-collapse: collapse; width: 100%; background: #fff; font-variant-numeric: tabular-nums; }
table.figures th { background: #1f3b5a; color: #fff; padding: .35rem .6rem; text-align: right; white-space: nowrap; }
table.figures td { padding: .3rem .6rem; border-bottom: 1px solid #d5dbe1; text-align: right; white-space: nowrap; }
table.figures th.k-text, table.figures td.k-text, table.figures th.k-datetime, table.figures td.k-datetime
  { text-align: left; }
table.figures tr.total td { font-weight: 700; border-top: 2px solid #1b2733; }
table.figures tr.incomplete td { background: #fff4e5; }
.crumbs { display: flex; flex-wrap: wrap; gap: .4rem; margin: .3rem 0; }
.dash-graph { min-width: 0; }
"""

# Dash's default page with our CSS inlined: no stylesheet to fetch from anywhere.
_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>""" + _CSS + """</style></head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""


def _query(search: str | None) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?"), keep_blank_values=False).items()}


def route(pathname: str | None, search: str | None, ctx: PageContext, scope: Scope | None = None,
          lang: str | None = None) -> html.Div:
    """The layout of the page at *pathname* for the query *search* (a dictionary lookup, not an if-chain),
    in *lang* (default: the query's ``lang``, else English)."""
    pages = {p.PATH: p for p in PAGES}
    page = pages.get(pathname or "/")
    query = _query(search)
    lang = lang or request_lang(query)
    query.pop(LANG_KEY, None)  # the viewer's language, not a filter
    if page is None:
        tr = translator(lang)
        return html.Div([html.H2(tr.gettext("Page not found")),
                         html.P(tr.gettext("No page at {path}.").format(path=pathname)),
                         html.P([tr.gettext("Pages:") + " ",
                                 *[dcc.Link(tr.gettext(p.NAME) + " ", href=p.PATH) for p in PAGES]])])
    return page_layout(ctx, page, query, scope, lang)


def nav_links(pathname: str | None, search: str | None, lang: str) -> list:
    """The menu (page names in *lang*, links keeping the language) and the language switch."""
    tr = translator(lang)
    query = _query(search)
    keep = f"?{LANG_KEY}={lang}" if lang != "en" else ""
    links = [dcc.Link(tr.gettext(p.NAME), href=p.PATH + keep) for p in PAGES]
    langs = html.Span([html.A(name, href=href, className="current" if current else "", lang=code.replace("_", "-"))
                       for (name, href, current), code in zip(language_links(pathname or "/", query, lang),
                                                              ("en", "zh_CN"))],
                      className="langs", title=tr.gettext("Language"))
    return [*links, langs]


def new_search(search: str | None, changed: str | None, values: dict[str, str | None]) -> str:
    """The URL query after the filter bar changed: *values* are the controls' values, *changed* the one moved.

    Choosing a month drops a date range and vice versa; a cleared control drops its key.  Other keys
    (the page's own, and ``extension`` set by drilling) stay.
    """
    query = _query(search)
    for key, value in values.items():
        if key in ("start", "end", "month"):
            continue
        if value:
            query[key] = value
        else:
            query.pop(key, None)
    if changed == "month" and values.get("month"):
        query["month"] = values["month"]
        query.pop("start", None)
        query.pop("end", None)
    elif changed in ("start", "end") and values.get("start") and values.get("end"):
        query["start"], query["end"] = values["start"], values["end"]
        query.pop("month", None)
    return query_string(query) or ""


def _download(ctx: PageContext, scope_for: ScopeFor, slug: str, table: str | None, fmt: str) -> flask.Response:
    pages = {p.SLUG: p for p in PAGES}
    page = pages.get(slug)
    if page is None:
        flask.abort(404, f"no page {slug!r}")
    query = {k: v for k, v in flask.request.args.items()}
    view = view_of(ctx, page, query, scope_for())
    if not view.ok:
        return flask.Response("\n".join(view.errors) or "no calls for this view", status=400, mimetype="text/plain")
    data = page_data(ctx, page, view, scope_for())
    stem = f"callcost-{slug}-{view.period_label.replace(' … ', '_')}"
    if fmt == "xlsx":
        body, mime, name = xlsx_bytes(list(data.tables.values())), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{stem}.xlsx"
    else:
        if table not in data.tables:
            flask.abort(404, f"no table {table!r} on {slug}")
        body, mime, name = csv_bytes(data.tables[table]), "text/csv", f"{stem}-{table}.csv"
    return flask.Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def create_app(lake: str | os.PathLike[str], currency: str = "USD", ent: Enterprise | None = None, *,
               scope_for: ScopeFor | None = None) -> Dash:
    """A Dash app showing the lake at *lake* (figures cached by the lake's contents).

    *ent* (the loaded config) adds the configured sites and carriers, the what-if and the collector
    health; *scope_for* gives the current viewer's :class:`~dashboards.filters.Scope` (default: all).
    """
    scope_for = scope_for or (lambda: None)
    ctx = PageContext(lake=Path(lake), currency=currency, ent=ent, scope_for=scope_for)
    app = Dash(__name__, title="callcost", serve_locally=True, suppress_callback_exceptions=True,
               update_title=None, meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}])
    app.index_string = _INDEX
    app.layout = html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        html.Header(className="top", children=[
            html.H1("callcost"),
            html.Nav(id=ids.NAV, children=[dcc.Link(p.NAME, href=p.PATH) for p in PAGES]),
        ]),
        html.Main(id=ids.PAGE),
    ])

    def viewer_lang(search: str | None) -> str:
        """The language of this request; a ``?lang=`` choice is remembered in a cookie."""
        query = _query(search)
        req = flask.request
        lang = request_lang(query, req.cookies, req.headers.get("Accept-Language"))
        if query.get(LANG_KEY) and req.cookies.get(COOKIE) != lang:
            callback_context.response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="Lax")
        return lang

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    def _route(pathname: str | None, search: str | None):
        return route(pathname, search, ctx, scope_for(), viewer_lang(search))

    @app.callback(Output(ids.NAV, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    def _nav(pathname: str | None, search: str | None):
        return nav_links(pathname, search, viewer_lang(search))

    @app.callback(Output(ids.URL, "search", allow_duplicate=True),
                  Input({"type": ids.FILTER, "key": ALL}, "value"), State(ids.URL, "search"),
                  prevent_initial_call=True)
    def _filters(values: list, search: str | None):
        triggered = callback_context.triggered_id
        if not triggered:
            return no_update
        keys = [spec["id"]["key"] for spec in callback_context.inputs_list[0]]
        result = new_search(search, triggered["key"], dict(zip(keys, values)))
        return result if result != (search or "") else no_update

    server: flask.Flask = app.server

    @server.route("/download/<slug>.xlsx")
    def _xlsx(slug: str):
        return _download(ctx, scope_for, slug, None, "xlsx")

    @server.route("/download/<slug>/<table>.csv")
    def _csv(slug: str, table: str):
        return _download(ctx, scope_for, slug, table, "csv")

    for page in PAGES:
        register = getattr(page, "register_callbacks", None)
        if register is not None:
            register(app, ctx)
    app._callcost_ctx = ctx  # for tests and the benchmark: the context (and its cache)
    return app


class WsgiServer:
    """waitress serving *app* on (host, port); port 0 picks a free one (``.port``)."""

    def __init__(self, app: Dash, host: str = "127.0.0.1", port: int = 8050, threads: int = 8) -> None:
        self._server = create_server(app.server, host=host, port=port, threads=threads, ident="callcost")
        self.port = int(self._server.effective_port)
        self.host = host
        self._thread: threading.Thread | None = None
        self._closing = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            # shutdown() closes the sockets while this loop may be inside select(): a closed
            # descriptor then raises EBADF (or "negative file descriptor"); that is the stop, not a fault.
            if not self._closing:
                raise

    def start(self) -> WsgiServer:
        """Serve in a background thread (tests, the benchmark)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="callcost-dashboard")
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._closing = True
        self._server.close()
        self._server.task_dispatcher.shutdown()
        # connections still open (a client's keep-alive) are closed here, not left to the garbage collector;
        # with them gone the serving loop ends at once instead of at the join's timeout
        for channel in list(getattr(self._server, "_map", {}).values()):
            try:
                channel.close()
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=10)


def make_wsgi_server(app: Dash, host: str = "127.0.0.1", port: int = 8050, threads: int = 8) -> WsgiServer:
    """A waitress server for *app*, not yet serving (port 0 picks a free port: see ``.port``)."""
    return WsgiServer(app, host, port, threads)


def serve(app: Dash, host: str = "127.0.0.1", port: int = 8050, threads: int = 8) -> None:
    """Serve *app* with waitress until interrupted (Ctrl-C)."""
    serve_until_interrupted(make_wsgi_server(app, host, port, threads))


class Serving(Protocol):
    """What :func:`serve_until_interrupted` runs: :class:`WsgiServer`, or the TLS server of ``dashboards.auth``."""

    def serve_forever(self) -> None: ...

    def shutdown(self) -> None: ...


def serve_until_interrupted(server: Serving) -> None:
    """Run *server* until Ctrl-C, then shut it down."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        pass
    finally:
        server.shutdown()
