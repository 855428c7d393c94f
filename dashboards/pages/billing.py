"""Billing (``/billing``): the call-centre billing split by department and cost centre, and each line.

The split is ``analytics.billing.billing_split`` with the config's chargeback rules — the same
figures as the billing-statement and department-chargeback reports, integer minor units until shown.
It is computed for a whole month; the site and department filters (and the viewer's scope) then
choose which billing lines are shown, so a department's figure is its share of the whole, not a
re-split of a part.  Carrier and call-type filters do not apply to a bill: said on the page.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from dash import html

from analytics.billing import CELL_COUNTS, MONEY_COLUMNS, billing_split
from analytics.chargeback_rules import rules_for_enterprise
from dashboards import charts, ids
from dashboards.filters import Scope, View
from dashboards.pages import PageContext, PageData
from dashboards.pages.common import graph
from dashboards.tables import Column, Table, html_table

PATH = "/billing"
NAME = "Billing"
SLUG = "billing"
EXTRA_KEYS: tuple[str, ...] = ()

MONEY = (Column("usage", "Usage", "money"), Column("trunk_share", "Trunk share", "money"),
         Column("markup", "Markup", "money"), Column("surcharge_calls", "Per-call surcharge", "money"),
         Column("surcharge_minutes", "Per-minute surcharge", "money"),
         Column("fixed_extension", "Fixed per extension", "money"),
         Column("fixed_department", "Fixed per department", "money"), Column("total", "Total", "money"))
COUNTS = (Column("calls", "Calls", "count"), Column("minutes", "Minutes", "minutes"),
          Column("unrated_calls", "Unrated calls", "count"))


def _lines(ctx: PageContext, view: View, scope: Scope | None):
    rules = rules_for_enterprise(ctx.ent) if ctx.ent is not None else None
    split = billing_split(ctx.lake, view.month, rules, currency=ctx.currency)
    lines = split.lines
    keep = pd.Series(True, index=lines.index)
    for key in ("site", "department"):
        if view.filters.get(key):
            keep &= lines[key] == view.filters[key]
    scope = scope or Scope()
    if scope.sites is not None:
        keep &= lines["site"].isin(scope.sites)
    if scope.departments is not None:
        keep &= lines["department"].isin(scope.departments)
    return split, lines[keep]


def _rollup(split, lines: pd.DataFrame, by: str) -> pd.DataFrame:
    cols = [*CELL_COUNTS, *MONEY_COLUMNS]
    out = lines.groupby(by, sort=True, dropna=False)[cols].sum().reset_index()
    return _display(split, out)


def _display(split, frame: pd.DataFrame) -> pd.DataFrame:
    out = split.decimal(frame)
    out["minutes"] = [split.minutes(s) for s in frame["seconds"]]
    return out


def _total(frame: pd.DataFrame, label_key: str) -> dict:
    total = {label_key: "Total"}
    for c in (*COUNTS, *MONEY):
        if c.key in frame:
            total[c.key] = sum(frame[c.key], Decimal(0)) if c.kind in ("money", "minutes") else int(frame[c.key].sum())
    return total


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    out = PageData()
    if not view.month:
        out.notes.append("A bill covers a month: choose a month above to see the billing split.")
        return out
    split, lines = _lines(ctx, view, scope)
    scale = split.scale
    ignored = [k for k in ("carrier", "call_type", "extension") if view.filters.get(k)]
    if ignored:
        out.notes.append(f"Not applied to the bill: the {', '.join(ignored)} filter (a bill covers every call of "
                         "its lines).")
    depts = _rollup(split, lines, "department")
    out.add(Table("departments", "By department", depts, (Column("department", "Department"), *COUNTS, *MONEY),
                  ctx.currency, scale, _total(depts, "department")))
    centres = _rollup(split, lines, "cost_center")
    out.add(Table("cost_centres", "By cost centre", centres, (Column("cost_center", "Cost centre"), *COUNTS, *MONEY),
                  ctx.currency, scale, _total(centres, "cost_center")))
    shown = _display(split, lines.reset_index(drop=True))
    out.add(Table("lines", "Billing lines", shown,
                  (Column("site", "Site"), Column("extension", "Extension"), Column("user", "User"),
                   Column("department", "Department"), Column("cost_center", "Cost centre"), *COUNTS, *MONEY),
                  ctx.currency, scale, _total(shown, "site")))
    out.values["grand_total"] = split.to_decimal(split.total)
    return out


def render(ctx: PageContext, view: View, data: PageData) -> list:
    if "departments" not in data.tables:
        return []
    d = data.tables["departments"]
    if d.empty:
        return [html.P("No calls to bill in this month: choose another month, or run `callcost import`.",
                       className="empty")]
    return [graph(ids.BILLING_CHART, charts.bars(d.frame["department"], [("Total", "cost", list(d.frame["total"]))],
                                                 currency=d.currency, scale=d.scale, title="Charge by department")),
            html_table(d), html.H3("By cost centre"), html_table(data.tables["cost_centres"]),
            html.H3("Billing lines"), html_table(data.tables["lines"])]
