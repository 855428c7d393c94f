"""Sites (``/sites``): drill from site to department to extension to the calls themselves.

Where you are is the URL: ``?site=NYC`` shows NYC's departments, ``&department=Sales`` its
extensions, ``&extension=1001`` that extension's calls — the same filters as every page, so the
filter bar, a bar click and a table link all move through one state, and a link reproduces it.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, dcc, html, no_update

from analytics.breakdowns import savings_by
from analytics.savings import NO_VALUE
from dashboards import charts, ids
from dashboards.filters import Scope, View, query_string
from dashboards.cube import CUBE_DIMENSIONS, regroup
from dashboards.pages import PageContext, PageData, cube
from dashboards.pages.common import breakdown_table, graph
from dashboards.tables import Column, Table, html_table

PATH = "/sites"
NAME = "Sites"
SLUG = "sites"
EXTRA_KEYS: tuple[str, ...] = ()

#: The drill levels: the filter that selects a value at each level, in order.
LEVELS = (("site", "Site"), ("department", "Department"), ("extension", "Extension"))
CALL_COLUMNS = (Column("start_utc", "Start (UTC)", "datetime"), Column("extension", "Extension"),
                Column("user", "User"), Column("department", "Department"), Column("call_type", "Call type"),
                Column("number", "Number"), Column("carrier", "Carrier"), Column("duration_s", "Seconds", "count"),
                Column("actual_cost", "Actual cost", "money"), Column("reference_cost", "Reference cost", "money"),
                Column("savings", "Savings", "money"), Column("rating_status", "Status"), Column("call_id", "Call id"))
CALL_LIMIT = 2000


def level_of(filters) -> str | None:
    """The dimension the page breaks down by next (None: the calls themselves)."""
    if filters.get("extension"):
        return None
    for key, _ in LEVELS:
        if not filters.get(key):
            return key
    return None


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    sel = view.selection
    out = PageData()
    level = level_of(view.filters)
    out.values["level"] = level
    if level is not None:
        label = dict(LEVELS)[level]
        frame = regroup(cube(ctx, sel), level) if level in CUBE_DIMENSIONS else savings_by(sel, level)
        out.add(breakdown_table(f"by_{level}", f"By {label.lower()}", frame, level, label, ctx.currency, sel.scale))
    else:
        calls = sel.query(
            "SELECT start_utc, extension, \"user\", department, call_type, "
            "coalesce(connected_number_e164, called_number) AS number, carrier, duration_s, actual_cost, "
            f"reference_cost, savings, rating_status, call_id FROM {{calls}} ORDER BY start_utc DESC, call_id "
            f"LIMIT {CALL_LIMIT}").to_pandas()
        out.add(Table("calls", "Calls", calls, CALL_COLUMNS, ctx.currency, sel.scale))
        if len(calls) == CALL_LIMIT:
            out.notes.append(f"The latest {CALL_LIMIT:,} calls are listed; narrow the period to see older ones, "
                             "or use `callcost export` for all of them.")
    return out


def crumbs(view: View) -> html.Div:
    links = [dcc.Link("All sites", href=view.href(PATH, site=None, department=None, extension=None))]
    for i, (key, label) in enumerate(LEVELS):
        value = view.filters.get(key)
        if value:
            later = {k: None for k, _ in LEVELS[i + 1:]}
            links += [html.Span("›"), dcc.Link(f"{label} {value}", href=view.href(PATH, **later))]
    return html.Div(links, className="crumbs", id=ids.CRUMBS)


def render(ctx: PageContext, view: View, data: PageData) -> list:
    level = data.values["level"]
    if level is None:
        table = data.tables["calls"]
        body = [html.H3(f"Calls ({len(table.frame):,})"),
                html_table(table) if not table.empty else html.P("No calls for this selection.", className="empty")]
        return [crumbs(view), *body]
    table = data.tables[f"by_{level}"]
    # calls without a value at this level ("(none)": no department in the directory) are shown in the
    # table, but cannot be drilled into: no filter selects "no department"
    f = table.frame[table.frame[level] != NO_VALUE]
    figure = charts.bars(f[level], [("Actual cost", "actual_cost", list(f["actual_cost"])),
                                    ("Savings", "savings", list(f["savings"]))],
                         currency=table.currency, scale=table.scale,
                         title=f"By {dict(LEVELS)[level].lower()} — click a bar to drill down")
    links = {level: lambda r: view.href(PATH, **{level: str(r[level])}) if r[level] != NO_VALUE else None}
    empty = [html.P("No calls for this selection: choose another period or clear a filter.", className="empty")] \
        if table.empty else []
    return [crumbs(view), graph(ids.DRILL_CHART, figure), *empty, html_table(table, links=links)]


def drill_search(search: str | None, point: dict | None) -> str | None:
    """The URL query after clicking the bar *point*: the clicked value set at the current level."""
    if not point:
        return None
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    level = level_of(query)
    value = point.get("x")
    if level is None or value in (None, "", NO_VALUE):
        return None
    query[level] = str(value)
    return query_string(query)


def register_callbacks(app: Dash, ctx: PageContext) -> None:
    @app.callback(Output(ids.URL, "search", allow_duplicate=True), Input(ids.DRILL_CHART, "clickData"),
                  State(ids.URL, "search"), prevent_initial_call=True)
    def _drill(click: dict | None, search: str | None):
        new = drill_search(search, (click or {}).get("points", [None])[0])
        return new if new is not None else no_update
