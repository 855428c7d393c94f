"""The monthly savings report: what calls cost, what the PSTN would have charged, and the difference.

One :class:`~analytics.reporting.ReportData` built from :func:`analytics.savings.summary`, rendered by the
shared renderers of :mod:`analytics.reporting` to

* ``xlsx`` — a ``Summary`` sheet (headline figures, the rated/unrated split, by call type and a
  chart) and ``By site`` / ``By carrier`` / ``By department`` sheets: frozen header, autofilter, money
  in the currency's format;
* ``html`` — one self-contained, printable page laid out by ``monthly_savings.html.j2``;
* ``csv`` / ``txt`` — the by-site table; ``json`` — every figure, money as exact decimal strings.

Unrated calls are a line of their own everywhere: their cost is unknown, not zero.
"""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal

import pandas as pd

from analytics.calls import month_range
from analytics.whatif import carrier_whatif
from analytics.savings import Summary, summary
from analytics.reporting import Figure, Kind, Report, ReportData, ReportError, ReportTable, TableRow
from reports.carrier_whatif import whatif_table

__all__ = ["MonthlySavingsReport"]

#: Breakdown tables in display order: summary key → (table key, title, label header).
BREAKDOWN_TABLES = (("call_type", "By call type", "Call type"), ("site", "By site", "Site"),
                    ("carrier", "By carrier", "Carrier"), ("department", "By department", "Department"))

VALUE_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("calls", "Calls", "count"), ("minutes", "Minutes", "minutes"), ("actual_cost", "Actual cost", "money"),
    ("reference_cost", "Reference cost", "money"), ("savings", "Savings", "money"),
    ("savings_pct", "Savings %", "percent"), ("unrated_calls", "Unrated calls", "count"),
)
MONEY = ("actual_cost", "reference_cost", "savings")


def _pct(savings: Decimal | None, reference: Decimal | None) -> Decimal | None:
    if savings is None or not reference:
        return None
    return (savings * 100 / reference).quantize(Decimal("0.1"))


def _breakdown_table(frame: pd.DataFrame, column: str, title: str, label: str) -> ReportTable:
    """Group rows plus a Total line; totals are exact Decimal sums of the group rows."""
    rows = []
    for key, rec in zip(frame.index, frame.to_dict("records")):
        values = {k: rec[k] for k in ("calls", "minutes", *MONEY, "unrated_calls")}
        values["savings_pct"] = _pct(values["savings"], values["reference_cost"])
        rows.append(TableRow(str(key), values))
    total = {k: sum((r.values[k] for r in rows), Decimal(0) if k in (*MONEY, "minutes") else 0)
             for k in ("calls", "minutes", *MONEY, "unrated_calls")}
    total["savings_pct"] = _pct(total["savings"], total["reference_cost"])
    rows.append(TableRow("Total", total, "total"))
    return ReportTable(title, ((column, label, "text"), *VALUE_COLUMNS), tuple(rows))


def _status_table(s: Summary) -> ReportTable:
    """Rated / Unrated / Total: the unrated calls' line, with their costs left empty (unknown, not 0)."""
    rated_minutes = s.minutes - s.unrated_minutes
    money = {"actual_cost": s.actual_cost, "reference_cost": s.reference_cost, "savings": s.savings}
    rows = (
        TableRow("Rated", {"calls": s.rated_calls, "minutes": rated_minutes, **money,
                           "savings_pct": s.savings_pct, "unrated_calls": 0}),
        TableRow("Unrated (not priced)", {"calls": s.unrated_calls, "minutes": s.unrated_minutes,
                                          "actual_cost": None, "reference_cost": None, "savings": None,
                                          "savings_pct": None, "unrated_calls": s.unrated_calls}, "unrated"),
        TableRow("Total", {"calls": s.calls, "minutes": s.minutes, **money, "savings_pct": s.savings_pct,
                           "unrated_calls": s.unrated_calls}, "total"),
    )
    return ReportTable("Rated and unrated calls", (("label", "Status", "text"), *VALUE_COLUMNS), rows)


class MonthlySavingsReport(Report):
    """Savings of one calendar month (UTC date partitions) by site, carrier, department and call type."""

    name = "monthly-savings"
    title = "Monthly savings"
    formats = ("xlsx", "html", "csv", "json", "txt")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        s = summary(lake, period)
        if s.currency and currency and s.currency != currency:
            raise ReportError(f"the lake's calls are priced in {s.currency}, not {currency}")
        start, end = month_range(period)
        headline = (
            Figure("Calls", s.calls, "count"), Figure("Answered calls", s.answered_calls, "count"),
            Figure("Minutes", s.minutes, "minutes"), Figure("Actual cost", s.actual_cost, "money"),
            Figure("Reference cost", s.reference_cost, "money"), Figure("Savings", s.savings, "money"),
            Figure("Savings % of reference", s.savings_pct, "percent"),
            Figure("Unrated calls (not priced)", s.unrated_calls, "count"),
        )
        tables = {"status": _status_table(s)}
        frames = s.breakdowns()
        for key, title, label in BREAKDOWN_TABLES:
            tables[key] = _breakdown_table(frames[key], key, title, label)
        # call type sits on the Summary sheet, charted there
        tables["call_type"] = replace(tables["call_type"], chart=("reference_cost", "actual_cost", "savings"),
                                      chart_title="Cost and savings by call type")
        if self.config is not None and s.calls:
            # what the same outbound traffic would have cost with each carrier (needs the tariffs: the config)
            tables["whatif"] = whatif_table(carrier_whatif(self.config, period, lake=lake))
        notes = (
            f"Period {start:%Y-%m-%d} to {end:%Y-%m-%d}, by the UTC date each call started.",
            "Costs and savings cover rated calls; unrated calls could not be priced and are counted apart, "
            "never as cost 0.",
            "Savings = reference cost (the same calls over the public network) − actual cost.",
        )
        return ReportData(name=self.name, title=self.title, period=period, currency=currency or s.currency or "",
                          scale=s.scale, headline=headline, tables=tables, notes=notes, primary="site",
                          summary_tables=("status", "call_type"), template="monthly_savings.html.j2")
