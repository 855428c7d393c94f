"""Savings of a month: headline figures and breakdowns by site, carrier, department and call type.

All sums run in DuckDB on the lake's exact decimals and come back as :class:`decimal.Decimal`, so a
report total is the sum of the per-call rounded costs to the cent (SPEC §5).  Costs are summed over
*rated* calls only; unrated calls (no tariff could price them, costs empty) are counted in their own
``unrated_calls`` figure and never enter a cost as 0 — a missing price would otherwise silently
inflate or shrink the savings.

    >>> from analytics.savings import summary, savings_figure
    >>> s = summary("callcost-demo/lake", "2026-10")     # doctest: +SKIP
    >>> s.savings, s.unrated_calls                         # doctest: +SKIP
    (Decimal('48210.37'), 12)
    >>> s.by_site                                          # doctest: +SKIP
    >>> savings_figure(s.by_site, by="site").show()       # doctest: +SKIP

Month boundaries are the lake's UTC date partitions (see :func:`analytics.calls.month_range`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics.aggregates import FIGURES_SQL
from analytics.calls import month_range
from analytics.selection import select

__all__ = ["BREAKDOWNS", "BREAKDOWN_COLUMNS", "NO_VALUE", "Summary", "breakdown", "minutes_of", "savings_figure", "summary"]

#: Columns of every breakdown table, in order (the group is the index).
BREAKDOWN_COLUMNS = ("calls", "minutes", "actual_cost", "reference_cost", "savings", "unrated_calls")
#: The dimensions :func:`summary` breaks down by.
BREAKDOWNS = ("site", "carrier", "department", "call_type")
#: Label for calls whose dimension is empty (internal calls have no carrier, some extensions no department).
NO_VALUE = "(none)"



def minutes_of(seconds: int) -> Decimal:
    """Talk minutes to 0.01, exact (a float of 1/60ths would print 0.30000000000000004)."""
    return (Decimal(int(seconds)) / 60).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Summary:
    """The month's figures: headline totals and four breakdowns (index = group, columns = BREAKDOWN_COLUMNS).

    Money is ``Decimal`` at the lake's scale (the currency's minor unit); ``minutes`` are talk
    minutes as ``Decimal`` to 0.01.  ``calls`` and ``minutes`` include unrated calls; the three
    money figures cover rated calls only, and ``unrated_calls`` says how many were left out.
    """

    period: str
    start: date
    end: date
    calls: int
    answered_calls: int
    minutes: Decimal
    actual_cost: Decimal
    reference_cost: Decimal
    savings: Decimal
    unrated_calls: int
    unrated_minutes: Decimal
    scale: int
    currency: str | None
    by_site: pd.DataFrame = field(repr=False)
    by_carrier: pd.DataFrame = field(repr=False)
    by_department: pd.DataFrame = field(repr=False)
    by_call_type: pd.DataFrame = field(repr=False)

    @property
    def rated_calls(self) -> int:
        return self.calls - self.unrated_calls

    @property
    def savings_pct(self) -> Decimal | None:
        """Savings as a percentage of the reference cost, to 0.1 (None when there is no reference cost)."""
        if not self.reference_cost:
            return None
        return (self.savings * 100 / self.reference_cost).quantize(Decimal("0.1"))

    def headline(self) -> pd.Series:
        """The headline figures as one Series (exact values), e.g. to print or to compare months."""
        keys = ("calls", "answered_calls", "minutes", "actual_cost", "reference_cost", "savings", "unrated_calls",
                "unrated_minutes")
        return pd.Series({k: getattr(self, k) for k in keys}, name=self.period, dtype=object)

    def _repr_html_(self) -> str:  # Jupyter shows the figures, not a dataclass dump
        return (f"<h4>{self.period} ({self.currency or 'no calls'})</h4>"
                + self.headline().to_frame().to_html() + self.by_site.to_html())

    def breakdowns(self) -> dict[str, pd.DataFrame]:
        """The four breakdown tables keyed by dimension, in display order."""
        return {"site": self.by_site, "carrier": self.by_carrier, "department": self.by_department,
                "call_type": self.by_call_type}


def _to_frame(table, by: str) -> pd.DataFrame:
    return table.to_pandas().set_index(by)[list(BREAKDOWN_COLUMNS)]


def _empty_breakdown(by: str) -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series([], dtype="int64" if c.endswith("calls") else object) for c in BREAKDOWN_COLUMNS})
    df.index.name = by
    return df


def breakdown(con: duckdb.DuckDBPyConnection, relation: str | None, by: str) -> pd.DataFrame:
    """Figures per value of column *by* (empty values as ``(none)``), ordered by that value."""
    if by not in BREAKDOWNS:
        raise ValueError(f"cannot break down by '{by}' (one of {', '.join(BREAKDOWNS)})")
    if relation is None:
        return _empty_breakdown(by)
    sql = (f'SELECT coalesce(CAST("{by}" AS VARCHAR), \'{NO_VALUE}\') AS "{by}", {FIGURES_SQL} '
           f"FROM {relation} GROUP BY 1 ORDER BY 1")
    return _to_frame(con.sql(sql).to_arrow_table(), by)


def summary(lake: str | os.PathLike[str], period: str) -> Summary:
    """Headline figures and breakdowns for the month *period* (``YYYY-MM``).

    An empty lake, or a month without calls, gives zeros and empty breakdowns.

    >>> s = summary("callcost-demo/lake", "2026-10")                  # doctest: +SKIP
    >>> s.by_carrier.loc["acme", "savings"]                            # doctest: +SKIP
    Decimal('8123.40')
    """
    start, end = month_range(period)
    sel = select(lake, start=start, end=end, check=False)
    with sel.open() as (con, calls):
        if sel.empty:
            head = {"calls": 0, "answered_calls": 0, "seconds": 0, "unrated_calls": 0, "unrated_seconds": 0,
                    "actual_cost": Decimal(0), "reference_cost": Decimal(0), "savings": Decimal(0)}
            currency = None
        else:
            table = con.sql(f"SELECT {FIGURES_SQL}, any_value(currency) AS currency FROM {calls}").to_arrow_table()
            head = table.to_pylist()[0]
            currency = head["currency"]
        frames = {by: breakdown(con, None if sel.empty else calls, by) for by in BREAKDOWNS}
    scale = sel.scale
    quantum = Decimal(1).scaleb(-scale)
    return Summary(
        period=period, start=start, end=end,
        calls=int(head["calls"]), answered_calls=int(head["answered_calls"]), minutes=minutes_of(head["seconds"]),
        actual_cost=Decimal(head["actual_cost"]).quantize(quantum),
        reference_cost=Decimal(head["reference_cost"]).quantize(quantum),
        savings=Decimal(head["savings"]).quantize(quantum),
        unrated_calls=int(head["unrated_calls"]), unrated_minutes=minutes_of(head["unrated_seconds"]),
        scale=scale, currency=currency,
        by_site=frames["site"], by_carrier=frames["carrier"], by_department=frames["department"],
        by_call_type=frames["call_type"],
    )


def savings_figure(df: pd.DataFrame, by: str = "site", *, currency: str | None = None) -> go.Figure:
    """A bar chart of reference cost, actual cost and savings per *by*.

    *df* is either a breakdown (``summary(...).by_site``: the group is the index) or calls from a
    selection's ``frame()`` (then it is grouped by the column *by* first, rated calls only).
    Decimals become floats here and only here: a chart draws, it does not account.

    >>> savings_figure(select(lake, "2026-10").frame(), by="carrier")   # doctest: +SKIP
    """
    if by in df.columns:  # raw calls
        rated = df[df["rating_status"] == "rated"]
        keys = rated[by].fillna(NO_VALUE)
        table = rated[["actual_cost", "reference_cost", "savings"]].groupby(keys).sum()
    else:
        table = df
    labels = [str(i) for i in table.index]
    unit = f" ({currency})" if currency else ""
    fig = go.Figure()
    for column, name, colour in (("reference_cost", "Reference cost", "#9aa5b1"),
                                 ("actual_cost", "Actual cost", "#3b6ea5"),
                                 ("savings", "Savings", "#2e8b57")):
        values = [float(v) for v in table[column]] if len(table) else []
        fig.add_bar(x=labels, y=values, name=name, marker_color=colour)
    fig.update_layout(barmode="group", title=f"Savings by {by.replace('_', ' ')}{unit}",
                      xaxis_title=by.replace("_", " "), yaxis_title=f"amount{unit}",
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2})
    return fig
