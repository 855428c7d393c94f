"""Carriers (``/carriers``): cost, minutes and savings per carrier and plan, and the what-if of moving
the period's outbound traffic to each configured carrier.

A what-if row that cannot price every call is marked *incomplete* (its cost covers fewer calls) and is
never ranked cheapest: only complete rows are ranked, by cost.  The what-if prices every outbound
call of the month with the rating engine (``analytics.whatif``), so it needs the config (``ent``) and
a month; a date range or a column filter is said to be not applied to it, never silently dropped.
"""

from __future__ import annotations

from dash import html

from analytics.whatif import carrier_whatif
from dashboards import charts, ids
from dashboards.filters import Scope, View
from dashboards.cube import regroup
from dashboards.pages import PageContext, PageData, cube
from dashboards.pages.common import BREAKDOWN, breakdown_table, graph, totals
from dashboards.tables import Column, Table, html_table

PATH = "/carriers"
NAME = "Carriers"
SLUG = "carriers"
EXTRA_KEYS: tuple[str, ...] = ()

WHATIF_COLUMNS = (Column("rank", "Rank"), Column("carrier", "Tariff"), Column("status", "Status"),
                  Column("calls", "Outbound calls", "count"), Column("priced_calls", "Priced", "count"),
                  Column("unrated_calls", "Not priced", "count"), Column("cost", "Cost", "money"),
                  Column("delta_vs_actual", "Against actual", "money"),
                  Column("compared_calls", "Compared calls", "count"))


def whatif_table(ctx: PageContext, view: View) -> tuple[Table | None, str | None]:
    """The what-if with a status and a rank; or why it is not shown."""
    if ctx.ent is None:
        return None, "The what-if needs the config (`callcost dashboard --config …`): it prices calls with every carrier's tariff."
    if not view.month:
        return None, "The what-if prices a month: choose a month above to see it."
    df = carrier_whatif(ctx.ent, view.month, lake=ctx.lake)
    complete = (df["unrated_calls"] == 0) & (df["kind"] == "carrier")
    df["status"] = ["complete" if c else ("incomplete: " + f"{u:,} not priced" if k == "carrier" else k)
                    for c, u, k in zip(complete, df["unrated_calls"], df["kind"])]
    ranks = df[complete].sort_values(["cost", "carrier"]).index
    df["rank"] = ""
    df.loc[ranks, "rank"] = [str(i + 1) for i in range(len(ranks))]
    table = Table("whatif", "What-if: outbound traffic under each tariff", df, WHATIF_COLUMNS, ctx.currency, ctx.scale)
    return table, None


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    sel = view.selection
    out = PageData()
    calls = cube(ctx, sel)
    plans = regroup(calls, ["carrier", "plan"]).reset_index()
    out.add(breakdown_table("by_carrier", "By carrier", regroup(calls, "carrier"), "carrier", "Carrier", ctx.currency,
                            sel.scale))
    out.add(Table("by_plan", "By carrier and plan", plans, (Column("carrier", "Carrier"), Column("plan", "Plan"),
                                                           *BREAKDOWN), ctx.currency, sel.scale,
                  {"carrier": "Total", **totals(plans)}))
    if scope is not None and (scope.sites is not None or scope.departments is not None):
        whatif, why = None, "The what-if prices the whole enterprise's traffic: it is not shown in a view limited to some sites or departments."
    else:
        whatif, why = whatif_table(ctx, view)
    if whatif is not None:
        out.add(whatif)
        if view.filters:
            out.notes.append("The what-if covers all of the month's outbound calls: the site, carrier, department "
                             "and call-type filters are not applied to it.")
    elif why:
        out.notes.append(why)
    return out


def render(ctx: PageContext, view: View, data: PageData) -> list:
    t = data.tables["by_carrier"]
    f = t.frame
    parts = [graph(ids.CARRIER_BARS, charts.bars(f["carrier"], [("Actual cost", "actual_cost", list(f["actual_cost"])),
                                                               ("Savings", "savings", list(f["savings"]))],
                                                 currency=t.currency, scale=t.scale, title="By carrier")),
             html_table(t), html.H3("By carrier and plan"), html_table(data.tables["by_plan"])]
    w = data.tables.get("whatif")
    if w is not None:
        wf = w.frame
        parts += [html.H3("What-if"),
                  html.P("Incomplete rows price fewer calls than the others, so their cost is not comparable: "
                         "they are never ranked.", className="note"),
                  graph(ids.WHATIF_CHART, charts.bars(wf["carrier"], [("Cost", "cost", list(wf["cost"]))],
                                                      currency=w.currency, scale=w.scale,
                                                      title="Outbound traffic under each tariff")),
                  html_table(w, row_class=lambda r: "incomplete" if str(r["status"]).startswith("incomplete") else "")]
    return parts
