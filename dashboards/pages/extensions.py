"""Extensions (``/extensions``): the top talkers, a searchable extension list, and one extension's calls.

``?q=`` searches extensions and users (substring, any case); ``?extension=1001`` — the shared filter —
lists that extension's calls.  Both live in the URL like every filter.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, html, no_update

import pandas as pd

from analytics.reporting.i18n import N_
from analytics.breakdowns import AGGREGATES_SQL
from dashboards import charts, ids
from dashboards.app_links import replace_query
from dashboards.filters import Scope, View
from dashboards.pages import PageContext, PageData, selection_key
from dashboards.pages.common import BREAKDOWN, graph, totals
from dashboards.pages.sites import CALL_COLUMNS, CALL_LIMIT
from dashboards.tables import Column, Table, html_table

PATH = "/extensions"
NAME = "Extensions"
SLUG = "extensions"
EXTRA_KEYS = ("q",)
TOP = 20
WHO = (Column("extension", "Extension"), Column("user", "User"), Column("department", "Department"),
       Column("site", "Site"))


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    sel = view.selection
    out = PageData()
    listing = ctx.cache.get(("extensions", selection_key(sel)), lambda: _listing(sel))
    # top_talkers' ranking (actual cost, ties by extension) over the same per-extension figures
    talkers = listing.sort_values(["actual_cost", "extension"], ascending=[False, True], kind="stable").head(TOP)
    talkers = talkers.reset_index(drop=True)
    talkers.insert(0, "rank", range(1, len(talkers) + 1))
    out.add(Table("top_talkers", f"Top {TOP} extensions by cost", talkers, (Column("rank", "Rank", "count"), *WHO,
                                                                            *BREAKDOWN), ctx.currency, sel.scale))
    q = view.extra.get("q")
    if q:
        hit = (listing["extension"].str.contains(q, case=False, regex=False)
               | listing["user"].fillna("").str.contains(q, case=False, regex=False))
        listing = listing[hit].reset_index(drop=True)
    out.add(Table("extensions", "Extensions" + (f" matching “{q}”" if q else ""), listing, (*WHO, *BREAKDOWN),
                  ctx.currency, sel.scale, {"extension": "Total", **totals(listing)}))
    if view.filters.get("extension"):
        calls = sel.query(
            "SELECT start_utc, extension, \"user\", department, call_type, "
            "coalesce(connected_number_e164, called_number) AS number, carrier, duration_s, actual_cost, "
            f"reference_cost, savings, rating_status, call_id FROM {{calls}} ORDER BY start_utc DESC, call_id "
            f"LIMIT {CALL_LIMIT}").to_pandas()
        out.add(Table("calls", f"Calls of extension {view.filters['extension']}", calls, CALL_COLUMNS, ctx.currency,
                      sel.scale))
    return out


def _listing(sel) -> pd.DataFrame:
    """Every extension of the selection with the user, department and site of its latest call (one scan)."""
    return sel.query(
        f"SELECT extension, arg_max(\"user\", start_utc) AS \"user\", arg_max(department, start_utc) AS department, "
        f"arg_max(site, start_utc) AS site, {AGGREGATES_SQL} FROM {{calls}} WHERE extension IS NOT NULL "
        "GROUP BY 1 ORDER BY 1").to_pandas()


def render(ctx: PageContext, view: View, data: PageData) -> list:
    top, listing = data.tables["top_talkers"], data.tables["extensions"]
    link = {"extension": lambda r: view.href(PATH, extension=str(r["extension"]))}
    parts = []
    if "calls" in data.tables:
        calls = data.tables["calls"]
        parts += [html.H3(calls.title), html_table(calls) if not calls.empty else
                  html.P("No calls for this extension in the period.", className="empty")]
    parts += [graph(ids.TALKERS_CHART, charts.bars(top.frame["extension"], [("Actual cost", "actual_cost",
                                                                             list(top.frame["actual_cost"]))],
                                                   currency=top.currency, scale=top.scale, horizontal=True,
                                                   title=f"Top {TOP} extensions by cost")),
              html_table(top, links=link),
              html.H3(listing.title),
              html.Label([N_("Search") + " ", dcc.Input(id=ids.EXT_SEARCH, type="search", value=view.extra.get("q", ""),
                                               debounce=True, placeholder=N_("extension or user"))]),
              html_table(listing, links=link) if not listing.empty else
              html.P("No extension matches: change the search, or clear it.", className="empty")]
    return parts


def register_callbacks(app: Dash, ctx: PageContext) -> None:
    @app.callback(Output(ids.URL, "search", allow_duplicate=True), Input(ids.EXT_SEARCH, "value"),
                  State(ids.URL, "search"), prevent_initial_call=True)
    def _search(value: str | None, search: str | None):
        new = replace_query(search, q=(value or "").strip() or None)
        return new if new != (search or "") else no_update
