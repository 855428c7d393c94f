"""The figures most report types share — calls, minutes, actual/reference cost, savings, unrated calls —
summed per group in DuckDB over one month of the lake, and turned into report table rows.

One aggregation for every report type, so "carrier cost", "top-N" and "destination classes" cannot
disagree about what a cost total is: the exact sum of per-call rounded costs of *rated* calls
(SPEC §5), with unrated calls counted apart (their cost is unknown, never 0).  Money comes back as
:class:`~decimal.Decimal` at the lake's scale.  Minutes in table rows are *exact* (seconds / 60, see
:func:`exact_minutes`) and a Total's minutes come from the total seconds: they are rounded once, where
they are shown, so a total never differs from the same total on another sheet by a rounded cent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import pandas as pd

from analytics import duck
from analytics.aggregates import FIGURES_SQL
from analytics.calls import calls_relation, month_range
from analytics.reporting import Kind, ReportError, TableRow
from analytics.reporting.i18n import N_

__all__ = ["exact_minutes", "BREAKDOWN_COLUMNS", "FIGURE_COLUMNS", "MONEY", "breakdown_rows", "figure_values", "NO_VALUE", "MonthCalls", "grouped", "minutes", "month_calls", "pct",
           "rate", "total_row"]

NO_VALUE = "(none)"
MONEY = ("actual_cost", "reference_cost", "savings")
FIGURE_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("calls", N_("Calls"), "count"), ("minutes", N_("Minutes"), "minutes"), ("actual_cost", N_("Actual cost"), "money"),
    ("reference_cost", N_("Reference cost"), "money"), ("savings", N_("Savings"), "money"),
    ("unrated_calls", N_("Unrated calls"), "count"),
)


def exact_minutes(seconds: int) -> Decimal:
    """Talk minutes, unrounded (``Decimal`` seconds / 60): what a table row carries, rounded once when shown."""
    return Decimal(int(seconds)) / 60

def minutes(seconds: int) -> Decimal:
    """Talk minutes to 0.01, exact."""
    return (Decimal(int(seconds)) / 60).quantize(Decimal("0.01"))


def pct(part: Decimal | int | None, whole: Decimal | int | None) -> Decimal | None:
    """*part* as a percentage of *whole*, to 0.1; None when the whole is 0 or unknown."""
    if part is None or not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def rate(cost: Decimal | None, seconds: int) -> Decimal | None:
    """Average cost per talk minute, to 0.0001 (None without rated minutes)."""
    if cost is None or not seconds:
        return None
    return (Decimal(cost) * 60 / Decimal(int(seconds))).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class MonthCalls:
    """One month of the lake as a DuckDB relation, with its money scale and currency."""

    period: str
    relation: str | None
    scale: int
    currency: str | None

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.scale)


def month_calls(lake: str | os.PathLike[str], period: str, currency: str) -> MonthCalls:
    """The month's calls; refuses a lake priced in another currency than the config's."""
    start, end = month_range(period)
    relation = calls_relation(lake, start, end)
    scale, found = 2, None
    if relation is not None:
        with duck.connect() as con:
            kind = con.execute(f"DESCRIBE SELECT savings FROM {relation}").fetchall()[0][1]
            found = con.execute(f"SELECT any_value(currency) FROM {relation}").fetchone()[0]
        if kind.startswith("DECIMAL(") and "," in kind:
            scale = int(kind.rstrip(")").split(",")[1])
    if found and currency and found != currency:
        raise ReportError(f"the lake's calls are priced in {found}, not {currency}")
    return MonthCalls(period, relation, scale, found or currency)


def grouped(month: MonthCalls, keys: Sequence[str], where: str = "", params: Iterable[object] = (),
            con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """The shared figures per value of the SQL expressions *keys* (empty values as ``(none)``), on *con*
    when given (several groupings of one report on one connection: opening one costs tens of ms).

    Columns: the keys (``k0``, ``k1``, …), then calls, seconds, rated_seconds, minutes, the three
    money columns (Decimal), unrated_calls and answered_calls.  Ordered by the keys.
    """
    names = [f"k{i}" for i in range(len(keys))]
    cols = ["calls", "seconds", "rated_seconds", "minutes", *MONEY, "unrated_calls", "answered_calls"]
    if month.relation is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in [*names, *cols]})
    select = ", ".join(f"coalesce(CAST({k} AS VARCHAR), '{NO_VALUE}') AS {n}" for k, n in zip(keys, names))
    group = ", ".join(str(i + 1) for i in range(len(keys)))
    sql = (f"SELECT {select}{',' if keys else ''} {FIGURES_SQL} FROM {month.relation} "
           f"{'WHERE ' + where if where else ''} {'GROUP BY ' + group + ' ORDER BY ' + group if keys else ''}")
    if con is not None:
        df = con.sql(sql, params=list(params)).to_arrow_table().to_pandas()
    else:
        with duck.connect() as own:
            df = own.sql(sql, params=list(params)).to_arrow_table().to_pandas()
    for c in MONEY:
        df[c] = [Decimal(v).quantize(month.quantum) for v in df[c]]
    for c in ("calls", "seconds", "rated_seconds", "unrated_calls", "answered_calls"):
        df[c] = df[c].astype("int64")
    return df[[*names, *cols]]


def total_row(rows: Sequence[TableRow], label: str = N_("Total"), seconds: int | None = None) -> TableRow:
    """Exact sums of the figure columns of *rows* (money as Decimal, counts as int), as the Total line;
    minutes from the total *seconds* when given (exact either way)."""
    values: dict[str, object] = {}
    for key in ("calls", "minutes", *MONEY, "unrated_calls"):
        present = [r.values[key] for r in rows if r.values.get(key) is not None]
        values[key] = sum(present, Decimal(0) if key in (*MONEY, "minutes") else 0)
    if seconds is not None:
        values["minutes"] = exact_minutes(seconds)
    return TableRow(label, values, "total")


#: The usual value columns of a breakdown: figures plus average cost per minute and share of the cost.
BREAKDOWN_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    *FIGURE_COLUMNS[:5], ("cost_per_minute", N_("Avg cost / min"), "rate"), ("cost_share", N_("Share of cost"), "percent"),
    FIGURE_COLUMNS[5],
)


def figure_values(rec: dict, total_cost: Decimal | None = None) -> dict[str, object]:
    """One group's figures as table values (``rec`` is a row of :func:`grouped`)."""
    values: dict[str, object] = {k: rec[k] for k in ("calls", "minutes", *MONEY, "unrated_calls")}
    if "seconds" in rec:
        values["minutes"] = exact_minutes(rec["seconds"])
    values["cost_per_minute"] = rate(rec["actual_cost"], rec["rated_seconds"])
    values["cost_share"] = pct(rec["actual_cost"], total_cost)
    return values


def breakdown_rows(df: pd.DataFrame, label: str = "k0") -> list[TableRow]:
    """Group rows (one per line of *df*, labelled by column *label*) and the Total line."""
    total_cost = sum(df["actual_cost"], Decimal(0)) if len(df) else Decimal(0)
    rows = [TableRow(str(rec[label]), figure_values(rec, total_cost)) for rec in df.to_dict("records")]
    total = total_row(rows, seconds=int(df["seconds"].sum()) if len(df) and "seconds" in df else None)
    seconds = int(df["rated_seconds"].sum()) if len(df) else 0
    total.values["cost_per_minute"] = rate(total.values["actual_cost"], seconds)
    total.values["cost_share"] = pct(total.values["actual_cost"], total_cost)
    return [*rows, total]
