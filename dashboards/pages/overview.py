"""Overview (``/``): actual, reference and savings with the change against the previous period; the
trend by day and by month; savings by site and by carrier; the call-type mix; the unrated share.

Every figure comes from cubes (:mod:`dashboards.cube`): the period's, and one per month of the
twelve-month trend, which also gives the previous month's totals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from dash import html

from analytics.reporting.i18n import N_, Msg
from analytics.savings import NO_VALUE
from dashboards import charts, ids
from dashboards.filters import Scope, View, previous_period
from dashboards.format import count_text, minutes_text, money_text, pct_text
from analytics.calls import month_range
from dashboards.cube import cube_total, regroup
from dashboards.pages import PageContext, PageData, cube
from dashboards.pages.common import BREAKDOWN, breakdown_table, card, change_text, graph, shifted
from dashboards.tables import Column, Table, html_table

PATH = "/"
NAME = "Overview"
SLUG = "overview"
EXTRA_KEYS: tuple[str, ...] = ()


def _month_starts(end: date, n: int) -> list[date]:
    """The first days of the *n* months up to the one holding *end*, oldest first."""
    out, y, m = [], end.year, end.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def _total(cube_table) -> dict[str, object]:
    return cube_total(cube_table)


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    """Every figure of the overview for *view* (its selection already carries the filters and scope).

    The period's breakdowns come from its cube (one scan); the monthly trend from each month's cube,
    cached on its own, so moving to another month re-uses eleven of the twelve.
    """
    sel = view.selection
    currency, scale = ctx.currency, sel.scale
    current = cube(ctx, sel)
    out = PageData()
    out.values["total"] = _total(current)
    months = []
    for first in _month_starts(sel.end, 12):
        last = month_range(f"{first:%Y-%m}")[1]
        row = _total(cube(ctx, shifted(sel, first, last)))
        months.append({"month": f"{first:%Y-%m}", **row})
    monthly = pd.DataFrame(months).set_index("month")
    prev = previous_period(view)
    previous = None
    if prev is not None:
        previous = (monthly.loc[prev[0]].to_dict() if prev[0] in monthly.index
                    else _total(cube(ctx, shifted(sel, prev[1], prev[2]))))
        previous = previous if previous["calls"] else None
    out.values["previous"] = previous
    days = regroup(current, "date").reset_index()
    all_days = pd.DataFrame({"date": [str(d) for d in pd.date_range(sel.start, sel.end, freq="D").date]})
    days = all_days.merge(days, on="date", how="left")
    for c in ("calls", "unrated_calls"):
        days[c] = days[c].fillna(0).astype("int64")
    for c in ("minutes", "actual_cost", "reference_cost", "savings"):
        days[c] = [Decimal(0) if v is None or (isinstance(v, float) and v != v) else v for v in days[c]]
    out.add(breakdown_table("by_site", "Savings by site", regroup(current, "site"), "site", "Site", currency, scale))
    out.add(breakdown_table("by_carrier", "Savings by carrier", regroup(current, "carrier"), "carrier", "Carrier",
                            currency, scale))
    out.add(breakdown_table("call_types", "Call-type mix", regroup(current, "call_type"), "call_type", "Call type",
                            currency, scale))
    out.add(Table("by_day", "By day (UTC)", days, (Column("date", "Day"), *BREAKDOWN), currency, scale))
    out.add(breakdown_table("by_month", "By month", monthly, "month", "Month", currency, scale))
    total = out.values["total"]
    out.values["unrated_share"] = (Decimal(total["unrated_calls"]) * 100 / total["calls"]) if total["calls"] else None
    if total["calls"] == 0:
        out.notes.append(f"No calls in {view.period_label} for these filters: choose another month above, or clear "
                         "a filter. New calls appear here after `callcost import`.")
    return out


def cards(ctx: PageContext, data: PageData, scale: int) -> list:
    t, p, cur = data.values["total"], data.values["previous"], ctx.currency
    def ch(key: str, kind: str) -> str:
        return change_text(t[key], p[key], kind, cur, scale) if p else "no previous period to compare"
    share = data.values["unrated_share"]
    return [
        card("Calls", count_text(t["calls"]), ch("calls", "count")),
        card("Minutes", minutes_text(t["minutes"])),
        card("Actual cost", money_text(t["actual_cost"], cur, scale), ch("actual_cost", "money"), "card-actual_cost"),
        card("Reference cost", money_text(t["reference_cost"], cur, scale), ch("reference_cost", "money"),
             "card-reference_cost"),
        card("Savings", money_text(t["savings"], cur, scale), ch("savings", "money"), "card-savings"),
        card("Unrated", pct_text(share) if share is not None else "—",
             Msg("{count} call(s) not priced: left out of the costs", count=count_text(t["unrated_calls"])),
             "card-unrated"),
    ]


def _bars(table: Table, by: str, title: str) -> object:
    f = table.frame
    return charts.bars(f[by], [("Reference cost", "reference_cost", list(f["reference_cost"])),
                               ("Actual cost", "actual_cost", list(f["actual_cost"])),
                               ("Savings", "savings", list(f["savings"]))],
                       currency=table.currency, scale=table.scale, title=title)


def render(ctx: PageContext, view: View, data: PageData) -> list:
    t = data.tables
    scale = t["by_site"].scale
    site_links = {"site": lambda r: view.href("/sites", site=r["site"]) if r["site"] != NO_VALUE else view.href("/sites")}
    days, months, mix = t["by_day"].frame, t["by_month"].frame, t["call_types"].frame
    return [
        html.Div(cards(ctx, data, scale), className="cards", id=ids.CARDS),
        graph(ids.TREND_DAY, charts.line(days["date"], [("Actual cost", "actual_cost", list(days["actual_cost"])),
                                                        ("Savings", "savings", list(days["savings"]))],
                                         currency=ctx.currency, scale=scale, title=N_("Cost and savings per day (UTC)"))),
        graph(ids.TREND_MONTH, charts.bars(months["month"], [("Actual cost", "actual_cost", list(months["actual_cost"])),
                                                             ("Savings", "savings", list(months["savings"]))],
                                           currency=ctx.currency, scale=scale, title=N_("By month (last 12)"))),
        html.H3("Savings by site"), graph(ids.SITE_CHART, _bars(t["by_site"], "site", "Savings by site")),
        html_table(t["by_site"], links=site_links),
        html.H3("Savings by carrier"), graph(ids.CARRIER_CHART, _bars(t["by_carrier"], "carrier", "Savings by carrier")),
        html_table(t["by_carrier"]),
        html.H3("Call-type mix"), graph(ids.MIX_CHART, charts.pie(mix["call_type"], list(mix["calls"]),
                                                                  title="Calls by call type")),
        html_table(t["call_types"]),
    ]
