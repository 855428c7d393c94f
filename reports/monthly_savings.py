"""The monthly savings report: what calls cost, what the PSTN would have charged, and the difference.

One :class:`~analytics.reporting.ReportData` built from :func:`analytics.savings.summary`, rendered by the
shared renderers of :mod:`analytics.reporting` to

* ``xlsx`` — a ``Summary`` sheet (headline figures, the rated/unrated split, by call type and a
  chart) and ``By site`` / ``By carrier`` / ``By department`` sheets: frozen header, autofilter, money
  in the currency's format;
* ``html`` — one self-contained, printable page laid out by ``monthly_savings.html.j2``;
* ``csv`` / ``txt`` — the by-site table; ``json`` — every figure, money as exact decimal strings.

Unrated calls are a line of their own everywhere: their cost is unknown, not zero.  Minutes are exact
(seconds / 60) in every row and Total, rounded once where they are shown, so the Summary, every
breakdown and its Total read the same total minutes.  Texts are English message ids (``N_``, ``Msg``),
translated by the renderers; call types are words ("On-net"), not the stored identifiers.
"""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal

import pandas as pd

from analytics import duck
from analytics.calls import month_range
from analytics.whatif import carrier_whatif
from analytics.savings import Summary
from analytics.reporting import Figure, Kind, Report, ReportData, ReportTable, TableRow
from analytics.reporting.i18n import CALL_TYPE_LABELS, N_, Msg
from reports.carrier_whatif import whatif_table
from reports.figures import exact_minutes, grouped, minutes, month_calls

__all__ = ["MonthlySavingsReport"]

#: Breakdown tables in display order: summary key → (table key, title, label header).
BREAKDOWN_TABLES = (("call_type", N_("By call type"), N_("Call type")), ("site", N_("By site"), N_("Site")),
                    ("carrier", N_("By carrier"), N_("Carrier")), ("department", N_("By department"), N_("Department")))

VALUE_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("calls", N_("Calls"), "count"), ("minutes", N_("Minutes"), "minutes"), ("actual_cost", N_("Actual cost"), "money"),
    ("reference_cost", N_("Reference cost"), "money"), ("savings", N_("Savings"), "money"),
    ("savings_pct", N_("Savings %"), "percent"), ("unrated_calls", N_("Unrated calls"), "count"),
)
MONEY = ("actual_cost", "reference_cost", "savings")


def _pct(savings: Decimal | None, reference: Decimal | None) -> Decimal | None:
    if savings is None or not reference:
        return None
    return (savings * 100 / reference).quantize(Decimal("0.1"))


def _breakdown_table(frame: pd.DataFrame, column: str, title: str, label: str) -> ReportTable:
    """Group rows plus a Total line (a frame of :func:`reports.figures.grouped`); money totals are exact
    Decimal sums of the group rows, minutes are exact seconds / 60 (the Total's from the total seconds)."""
    rows = []
    for rec in frame.to_dict("records"):
        values = {k: rec[k] for k in ("calls", *MONEY, "unrated_calls")}
        values["minutes"] = exact_minutes(rec["seconds"])
        values["savings_pct"] = _pct(values["savings"], values["reference_cost"])
        key = str(rec["k0"])
        rows.append(TableRow(CALL_TYPE_LABELS.get(key, key) if column == "call_type" else key, values))
    total: dict = {k: sum((r.values[k] for r in rows), Decimal(0) if k in MONEY else 0)
                   for k in ("calls", *MONEY, "unrated_calls")}
    total["minutes"] = exact_minutes(int(frame["seconds"].sum()) if len(frame) else 0)
    total["savings_pct"] = _pct(total["savings"], total["reference_cost"])
    rows.append(TableRow(N_("Total"), total, "total"))
    return ReportTable(title, ((column, label, "text"), *VALUE_COLUMNS), tuple(rows))


def _status_table(s: Summary, seconds: int, rated_seconds: int) -> ReportTable:
    """Rated / Unrated / Total: the unrated calls' line, with their costs left empty (unknown, not 0)."""
    money = {"actual_cost": s.actual_cost, "reference_cost": s.reference_cost, "savings": s.savings}
    rows = (
        TableRow(N_("Rated"), {"calls": s.rated_calls, "minutes": exact_minutes(rated_seconds), **money,
                               "savings_pct": s.savings_pct, "unrated_calls": 0}),
        TableRow(N_("Unrated (not priced)"), {"calls": s.unrated_calls,
                                              "minutes": exact_minutes(seconds - rated_seconds),
                                              "actual_cost": None, "reference_cost": None, "savings": None,
                                              "savings_pct": None, "unrated_calls": s.unrated_calls}, "unrated"),
        TableRow(N_("Total"), {"calls": s.calls, "minutes": exact_minutes(seconds), **money,
                               "savings_pct": s.savings_pct, "unrated_calls": s.unrated_calls}, "total"),
    )
    return ReportTable(N_("Rated and unrated calls"), (("label", N_("Status"), "text"), *VALUE_COLUMNS), rows)


def _summary(whole: pd.DataFrame, period: str, start, end, seconds: int, rated_seconds: int, scale: int,
             currency: str | None) -> Summary:
    """The month's headline figures from its :func:`reports.figures.grouped` line (no breakdown frames)."""
    rec = whole.iloc[0] if len(whole) else None
    zero = Decimal(0).scaleb(-scale)
    money = {k: (rec[k] if rec is not None else zero) for k in MONEY}
    count = {k: (int(rec[k]) if rec is not None else 0) for k in ("calls", "answered_calls", "unrated_calls")}
    empty = pd.DataFrame()
    return Summary(period=period, start=start, end=end, **count, minutes=minutes(seconds), **money,
                   unrated_minutes=minutes(seconds - rated_seconds), scale=scale, currency=currency,
                   by_site=empty, by_carrier=empty, by_department=empty, by_call_type=empty)


class MonthlySavingsReport(Report):
    """Savings of one calendar month (UTC date partitions) by site, carrier, department and call type."""

    name = "monthly-savings"
    title = N_("Monthly savings")
    formats = ("xlsx", "html", "csv", "json", "txt")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        month = month_calls(lake, period, currency)  # refuses a lake priced in another currency
        with duck.connect() as con:  # the headline and every breakdown: one aggregation, one connection
            whole = grouped(month, [], con=con)
            frames = {key: grouped(month, [f'"{key}"'], con=con) for key, _, _ in BREAKDOWN_TABLES}
        seconds = int(whole["seconds"].sum()) if len(whole) else 0
        rated_seconds = int(whole["rated_seconds"].sum()) if len(whole) else 0
        start, end = month_range(period)
        s = _summary(whole, period, start, end, seconds, rated_seconds, month.scale, month.currency)
        headline = (
            Figure(N_("Calls"), s.calls, "count"), Figure(N_("Answered calls"), s.answered_calls, "count"),
            Figure(N_("Minutes"), s.minutes, "minutes"), Figure(N_("Actual cost"), s.actual_cost, "money"),
            Figure(N_("Reference cost"), s.reference_cost, "money"), Figure(N_("Savings"), s.savings, "money"),
            Figure(N_("Savings % of reference"), s.savings_pct, "percent"),
            Figure(N_("Unrated calls (not priced)"), s.unrated_calls, "count"),
        )
        tables = {"status": _status_table(s, seconds, rated_seconds)}
        for key, title, label in BREAKDOWN_TABLES:
            tables[key] = _breakdown_table(frames[key], key, title, label)
        # call type sits on the Summary sheet, charted there
        tables["call_type"] = replace(tables["call_type"], chart=("reference_cost", "actual_cost", "savings"),
                                      chart_title=N_("Cost and savings by call type"))
        if self.config is not None and s.calls:
            # what the same outbound traffic would have cost with each carrier (needs the tariffs: the config)
            tables["whatif"] = whatif_table(carrier_whatif(self.config, period, lake=lake))
        notes = (
            Msg("Period {start} to {end}, by the UTC date each call started.", start=start, end=end),
            N_("Costs and savings cover rated calls; unrated calls could not be priced and are counted apart, "
               "never as cost 0."),
            N_("Savings = reference cost (the same calls over the public network) − actual cost."),
        )
        return ReportData(name=self.name, title=self.title, period=period, currency=currency or s.currency or "",
                          scale=s.scale, headline=headline, tables=tables, notes=notes, primary="site",
                          summary_tables=("status", "call_type"), template="monthly_savings.html.j2")
