"""Pieces several pages share: the breakdown columns, cards, one grouped scan, and the period shift."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pandas as pd
from dash import dcc, html

from analytics.reporting.i18n import Msg
from analytics.savings import BREAKDOWN_COLUMNS
from analytics.selection import CallSelection
from dashboards.format import count_text, money_text, pct_text
from dashboards.tables import Column, Table

__all__ = ["BREAKDOWN", "breakdown_table", "card", "change_text", "graph", "shifted", "totals"]

#: The figures of a breakdown row, as table columns.
BREAKDOWN = (Column("calls", "Calls", "count"), Column("minutes", "Minutes", "minutes"),
             Column("actual_cost", "Actual cost", "money"), Column("reference_cost", "Reference cost", "money"),
             Column("savings", "Savings", "money"), Column("unrated_calls", "Unrated calls", "count"))
MONEY = ("actual_cost", "reference_cost", "savings")


def shifted(sel: CallSelection, start: date, end: date) -> CallSelection:
    """The same filters over another period (the previous month, a month of the trend)."""
    return replace(sel, start=start, end=end)


def totals(frame: pd.DataFrame) -> dict[str, object]:
    """Column sums of a breakdown (exact: Decimal money, int counts); zeros when it is empty."""
    if frame.empty:
        return {"calls": 0, "minutes": Decimal(0), "actual_cost": Decimal(0), "reference_cost": Decimal(0),
                "savings": Decimal(0), "unrated_calls": 0}
    return {c: (sum(frame[c], Decimal(0)) if c in (*MONEY, "minutes") else int(frame[c].sum()))
            for c in BREAKDOWN_COLUMNS}


def breakdown_table(name: str, title: str, frame: pd.DataFrame, by: str, label: str, currency: str | None,
                    scale: int) -> Table:
    """A breakdown (group as index) as a :class:`Table` with a total line."""
    df = frame.reset_index()
    df[by] = df[by].astype(str)
    total = {by: "Total", **totals(frame)}
    return Table(name, title, df, (Column(by, label), *BREAKDOWN), currency, scale, total)


def change_text(now: object, before: object, kind: str, currency: str | None, scale: int) -> str:
    """``+12.3 % vs previous (USD 1,000.00)``; no comparison when the previous period had nothing."""
    if before is None:
        return ""
    prior = money_text(before, currency, scale) if kind == "money" else count_text(before)
    if not before:
        return Msg("previous period: {prior}", prior=prior)
    pct = (Decimal(now) - Decimal(before)) * 100 / abs(Decimal(before))
    sign = "+" if pct >= 0 else ""
    return Msg("{change} vs previous ({prior})", change=f"{sign}{pct_text(pct)}", prior=prior)


def card(label: str, value: str, change: str = "", css: str = "") -> html.Div:
    return html.Div(className=f"card {css}".strip(), children=[
        html.Div(label, className="card-label"), html.Div(value, className="card-value"),
        html.Div(change, className="card-change")])


def graph(id_: str, figure) -> dcc.Graph:
    return dcc.Graph(id=id_, figure=figure, config={"displaylogo": False, "responsive": True},
                     className="dash-graph")
