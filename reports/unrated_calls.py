"""Unrated calls: every call of the month no tariff could price, with the reason — the to-do list that
makes the other reports complete.

A call is unrated when no tariff row prices it (no prefix, no band, no version in force, unknown trunk
or carrier; SPEC §5).  Its cost is unknown, not 0, so every cost report is short by these calls until
the tariff or the config is fixed and the month re-rated (``callcost rerate``).  The CSV is the full
list, one call per line; the workbook adds the count per reason.
"""

from __future__ import annotations

import os

from analytics import duck
from analytics.calls import month_range
from analytics.reporting import Figure, Report, ReportData, ReportTable, TableRow
from analytics.reporting.i18n import N_, Msg
from reports.figures import grouped, minutes, month_calls

__all__ = ["UnratedCallsReport"]

_DETAIL = (("call_id", N_("Call id"), "text"), ("start_utc", N_("Start (UTC)"), "text"), ("site", N_("Site"), "text"),
           ("pbx", N_("PBX"), "text"), ("extension", N_("Extension"), "text"), ("called_number", N_("Called number"), "text"),
           ("call_type", N_("Call type"), "text"), ("category", N_("Class"), "text"), ("trunk", N_("Trunk"), "text"),
           ("carrier", N_("Carrier"), "text"), ("duration_s", N_("Seconds"), "count"),
           ("unrated_reason", N_("Reason"), "text"))


class UnratedCallsReport(Report):
    """Each unrated call (when, where, who, what number, which trunk) and why it could not be priced."""

    name = "unrated-calls"
    title = N_("Unrated calls")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        month = month_calls(lake, period, currency)
        where = "rating_status <> 'rated'"
        reasons = grouped(month, ["unrated_reason"], where)
        calls = []
        if month.relation is not None:
            cols = ", ".join(k for k, _, _ in _DETAIL[2:])
            sql = (f"SELECT call_id, strftime(start_utc, '%Y-%m-%d %H:%M:%S') AS start_utc, {cols} "
                   f"FROM {month.relation} WHERE {where} ORDER BY start_utc, call_id")
            with duck.connect() as con:
                calls = con.sql(sql).to_arrow_table().to_pylist()
        detail = tuple(TableRow(str(c["call_id"]), {k: c[k] for k, _, _ in _DETAIL[1:]}, "unrated") for c in calls)
        by_reason = tuple(TableRow(str(r["k0"]), {"calls": int(r["calls"]), "minutes": r["minutes"]})
                          for r in reasons.to_dict("records"))
        n_calls = sum(r.values["calls"] for r in by_reason)
        seconds = int(reasons["seconds"].sum()) if len(reasons) else 0
        total = TableRow("Total", {"calls": n_calls, "minutes": minutes(seconds)}, "total")
        all_calls = grouped(month, [])
        headline = (
            Figure("Unrated calls", n_calls, "count"), Figure("Their minutes", minutes(seconds), "minutes"),
            Figure("Calls in the month", int(all_calls["calls"].iloc[0]) if len(all_calls) else 0, "count"),
            Figure("Reasons", len(by_reason), "count"),
        )
        tables = {
            "reasons": ReportTable("By reason", (("label", N_("Reason"), "text"), ("calls", N_("Calls"), "count"),
                                                 ("minutes", N_("Minutes"), "minutes")), (*by_reason, total),
                                   chart=("calls",)),
            "calls": ReportTable("Unrated calls", _DETAIL, detail),
        }
        start, end = month_range(period)
        notes = (Msg("Period {start} to {end}, by the UTC date each call started.", start=start, end=end),
                 N_("These calls have no cost (unknown, not 0): fix the tariff or the config, then re-rate the month "
                    "with `callcost rerate`."))
        return ReportData(self.name, self.title, period, month.currency or currency, month.scale, headline, tables,
                          notes, primary="calls")
