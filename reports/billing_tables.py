"""Billing split → report tables: the one place that turns :class:`analytics.billing.BillingSplit` frames
into :class:`analytics.reporting.ReportTable` rows, shared by the billing-statement and department-chargeback
reports so their figures are the same numbers, not two computations that might drift.

Also finds the split a report should show from the lake path alone (the only thing
:meth:`analytics.reporting.Report.build` gets): the enterprise whose lake it is, and its chargeback rules.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pandas as pd

from analytics.billing import MONEY_COLUMNS, NO_EXTENSION, UNASSIGNED, BillingSplit, billing_split
from analytics.chargeback_rules import enterprise_for_lake, rules_for_enterprise
from analytics.reporting import Figure, Kind, ReportError, ReportTable, TableRow
from analytics.reporting.i18n import N_, Msg
from warehouse.config import Enterprise

__all__ = ["CALL_COLUMNS", "CELL_TABLE_COLUMNS", "CHARGE_COLUMNS", "DEPARTMENT_CHART", "department_table", "billing_notes", "frame_table", "headline", "split_for_report"]

#: Value columns of every billing table, in the order the money is applied.
CHARGE_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("calls", N_("Calls"), "count"), ("minutes", N_("Minutes"), "minutes"), ("unrated_calls", N_("Unrated calls"), "count"),
    ("usage", N_("Usage"), "money"), ("trunk_share", N_("Trunk share"), "money"), ("markup", N_("Markup"), "money"),
    ("surcharge_calls", N_("Per-call surcharge"), "money"), ("surcharge_minutes", N_("Per-minute surcharge"), "money"),
    ("fixed_extension", N_("Extension fees"), "money"), ("fixed_department", N_("Department fees"), "money"),
    ("total", N_("Total"), "money"),
)
#: Value columns of a (line × call type) cell: no fixed fees, which belong to a whole line.
CELL_TABLE_COLUMNS = CHARGE_COLUMNS[:8] + (("total", N_("Total"), "money"),)
#: Columns of a statement's call list: (frame column, header, kind).
CALL_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("start_utc", N_("Start (UTC)"), "text"), ("extension", N_("Extension"), "text"), ("user", N_("User"), "text"),
    ("call_type", N_("Call type"), "text"), ("category", N_("Category"), "text"), ("number", N_("Number"), "text"),
    ("duration_s", N_("Seconds"), "count"), ("actual_cost", N_("Cost"), "money"), ("rating_status", N_("Status"), "text"))
#: The charge components drawn, stacked, per department: what makes up each department's charge.
DEPARTMENT_CHART = ("usage", "trunk_share", "markup", "surcharge_calls", "surcharge_minutes", "fixed_extension",
                    "fixed_department")


def split_for_report(lake: str | os.PathLike[str], period: str, currency: str,
                     config: Enterprise | None = None) -> BillingSplit:
    """The split of *period* with the rules of *config*, else of the enterprise that owns *lake* (none: no rules)."""
    ent = config if config is not None else enterprise_for_lake(lake)
    rules = rules_for_enterprise(ent) if ent is not None else None
    split = billing_split(lake, period, rules, currency=currency or None)
    lake_currency = split.calls["currency"].dropna().unique() if len(split.calls) else []
    if currency and len(lake_currency) and lake_currency[0] != currency:
        raise ReportError(f"the lake's calls are priced in {lake_currency[0]}, not {currency}")
    return split


def _values(split: BillingSplit, rec: dict, columns) -> dict:
    out: dict = {}
    for key, _, kind in columns:
        if key == "minutes":
            out[key] = split.minutes(rec["seconds"])
        elif kind == "money":
            out[key] = split.to_decimal(rec[key])
        elif kind == "count":
            out[key] = int(rec[key])
        else:
            out[key] = "" if rec.get(key) is None or pd.isna(rec.get(key)) else str(rec[key])
    return out


def frame_table(split: BillingSplit, frame: pd.DataFrame, title: str, label: tuple[str, str],
                text_columns: tuple[tuple[str, str], ...] = (), *, cells: bool = False,
                total: bool = True) -> ReportTable:
    """One row per record of *frame* (label column first, then *text_columns*, then the charges) + Total.

    The Total line is the exact sum of the rows above it: the sum of the parts *is* the whole.
    """
    value_cols = CELL_TABLE_COLUMNS if cells else CHARGE_COLUMNS
    columns = ((label[0], label[1], "text"), *((k, h, "text") for k, h in text_columns), *value_cols)
    rows = []
    for rec in frame.reset_index().to_dict("records"):
        kind = "other" if rec.get(label[0]) == UNASSIGNED or rec.get("department") == UNASSIGNED else "group"
        rows.append(TableRow(str(rec[label[0]]), _values(split, rec, columns[1:]), kind))
    if total:
        sums = {k: int(frame[k].sum()) for k in ("seconds", *(c for c, _, _ in value_cols if c != "minutes"))}
        rows.append(TableRow("Total", {**{k: "" for k, _ in text_columns}, **_values(split, sums, value_cols)},
                             "total"))
    return ReportTable(title, columns, tuple(rows))


def department_table(split: BillingSplit) -> ReportTable:
    """Per department (client and parent beside it) with a stacked chart of its charges."""
    table = frame_table(split, split.departments().reset_index(), "By department", ("department", N_("Department")),
                        (("client", N_("Client")), ("parent", N_("Parent"))))
    return replace(table, chart=DEPARTMENT_CHART, chart_stacked=True, chart_title=N_("Charges by department"))


def headline(split: BillingSplit) -> tuple[Figure, ...]:
    lines = split.lines
    unassigned = lines[lines.department == UNASSIGNED]
    money = {c: split.to_decimal(lines[c].sum()) for c in MONEY_COLUMNS}
    return (
        Figure("Calls", int(lines.calls.sum()), "count"),
        Figure("Minutes", split.minutes(lines.seconds.sum()), "minutes"),
        Figure("Extensions billed", int(lines[lines.extension != NO_EXTENSION][["site", "extension"]]
                                        .drop_duplicates().shape[0]), "count"),
        Figure("Usage (rated calls)", money["usage"], "money"),
        Figure("Trunk charges allocated", money["trunk_share"], "money"),
        Figure("Markup", money["markup"], "money"),
        Figure("Surcharges", money["surcharge_calls"] + money["surcharge_minutes"], "money"),
        Figure("Fixed fees", money["fixed_extension"] + money["fixed_department"], "money"),
        Figure("Total charged", money["total"], "money"),
        Figure("Unassigned calls (no directory entry)", int(unassigned.calls.sum()), "count"),
        Figure("Unrated calls (not priced, not billed)", int(lines.unrated_calls.sum()), "count"),
    )


def billing_notes(split: BillingSplit) -> tuple[str, ...]:
    source = Msg("chargeback rules from {file}", file=split.rules.source.name) if split.rules and split.rules.source \
        else N_("no chargeback rules configured (usage only)")
    return (
        Msg("Period {start} to {end}, by the UTC date each call started; {source}.", start=split.start,
            end=split.end, source=source),
        Msg("Calls are attributed with the directory in force when each started; calls without a directory entry "
            "are on the '{unassigned}' line.", unassigned=UNASSIGNED),
        N_("Order: usage → trunk share (pro rata by talk time) → markup on both → surcharges → fixed fees; each "
           "amount rounded half-up once, pro-rata shares by largest remainder, so all parts add up to the total."),
        N_("Unrated calls are counted but not billed until they are re-rated."),
    )
