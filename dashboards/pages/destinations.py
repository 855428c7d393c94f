"""Destinations (``/destinations``): the top numbers called, the countries, and the call classes.

Only outbound calls have a destination that costs money (``analytics.breakdowns.top_destinations``).
The countries are a table and a bar chart rather than a map: a plotly map fetches its world outline
from the internet, and the dashboard must work on an intranet without one.
"""

from __future__ import annotations

from dash import html

from analytics.breakdowns import top_destinations
from dashboards import charts, ids
from dashboards.filters import Scope, View
from dashboards.cube import regroup
from dashboards.pages import PageContext, PageData, cube
from dashboards.pages.common import BREAKDOWN, breakdown_table, graph
from dashboards.tables import Column, Table, html_table

PATH = "/destinations"
NAME = "Destinations"
SLUG = "destinations"
EXTRA_KEYS: tuple[str, ...] = ()
TOP = 25


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    sel = view.selection
    out = PageData()
    numbers = top_destinations(sel, TOP, level="number").reset_index()
    calls = cube(ctx, sel)
    countries = regroup(calls, "dest_country", where="direction = 'outbound'", order="actual_cost DESC").reset_index()
    countries = countries.rename(columns={"dest_country": "destination"})
    countries.insert(0, "rank", range(1, len(countries) + 1))
    cols = (Column("rank", "Rank", "count"), Column("destination", "Destination"), *BREAKDOWN)
    out.add(Table("top_numbers", f"Top {TOP} numbers by cost", numbers, cols, ctx.currency, sel.scale))
    out.add(Table("countries", "Countries by cost", countries,
                  (Column("rank", "Rank", "count"), Column("destination", "Country"), *BREAKDOWN), ctx.currency,
                  sel.scale))
    out.add(breakdown_table("classes", "Call classes", regroup(calls, "category"), "category", "Class",
                            ctx.currency, sel.scale))
    return out


def render(ctx: PageContext, view: View, data: PageData) -> list:
    n, c, k = (data.tables[x] for x in ("top_numbers", "countries", "classes"))
    if n.empty and c.empty:
        empty = [html.P("No outbound calls for this selection: choose another period or clear a filter.",
                        className="empty")]
    else:
        empty = []
    return [*empty,
            graph(ids.DEST_CHART, charts.bars(n.frame["destination"], [("Actual cost", "actual_cost",
                                                                         list(n.frame["actual_cost"]))],
                                              currency=n.currency, scale=n.scale, horizontal=True,
                                              title=f"Top {TOP} numbers by cost")),
            html_table(n),
            html.H3("Countries"),
            graph(ids.COUNTRY_CHART, charts.bars(c.frame["destination"].head(20),
                                                 [("Actual cost", "actual_cost", list(c.frame["actual_cost"].head(20))),
                                                  ("Savings", "savings", list(c.frame["savings"].head(20)))],
                                                 currency=c.currency, scale=c.scale, title="Countries by cost")),
            html_table(c),
            html.H3("Call classes"),
            graph(ids.CLASS_CHART, charts.pie(k.frame["category"], list(k.frame["calls"]), title="Calls by class")),
            html_table(k)]
