"""The per-extension billing statement: each extension's calls and what it is charged, by call type.

Built from :func:`analytics.billing.billing_split` with the chargeback rules of the lake's enterprise
(``[chargeback] rules`` in its config; without rules: usage and nothing else).  Renders to

* ``xlsx`` — ``Summary`` (with a chart of the charges by department); ``By department``; ``Statements`` (one line per extension and department it billed to, with
  every charge and a Total); ``By call type``; then one ``Calls <department>`` sheet per department
  listing each call (frozen header, autofilter, money in the currency's format);
* ``html`` — a printable statement per extension: its totals by call type, then its calls;
* ``csv``/``txt`` — the Statements table; ``json`` — every table and the call list, exact decimals.
"""

from __future__ import annotations

import os

from analytics.reporting import Listing, Report, ReportData, ReportTable, TableRow
from analytics.reporting.i18n import N_
from reports.billing_tables import (
    CALL_COLUMNS,
    CELL_TABLE_COLUMNS,
    CHARGE_COLUMNS,
    billing_notes,
    department_table,
    frame_table,
    headline,
    split_for_report,
)

__all__ = ["BillingStatementReport"]

_LINE_TEXT = (("site", N_("Site")), ("user", N_("User")), ("department", N_("Department")), ("cost_center", N_("Cost centre")))


def _statements(split) -> list[dict]:
    """Per billing line, for the HTML: the line and its totals by call type (its calls are the listing's)."""
    columns = CELL_TABLE_COLUMNS
    cells = split.decimal(split.cells)
    lines = split.decimal(split.lines)
    by_cells: dict[int, list[dict]] = {}
    for c in cells.to_dict("records"):
        by_cells.setdefault(c["line_id"], []).append(c)
    out = []
    for rec in lines.to_dict("records"):
        table_rows = tuple(
            TableRow(c["call_type"], {k: split.minutes(c["seconds"]) if k == "minutes" else c[k] for k, _, _ in columns})
            for c in by_cells.get(rec["line_id"], []))
        values = {k: split.minutes(rec["seconds"]) if k == "minutes" else rec[k] for k, _, _ in CHARGE_COLUMNS}
        out.append({"line": rec, "by_call_type": ReportTable("By call type", (("call_type", N_("Call type"), "text"),
                                                                              *columns), table_rows),
                    "total": TableRow("Total", values, "total"), "total_columns": CHARGE_COLUMNS})
    return out


class BillingStatementReport(Report):
    """Per-extension statements for one calendar month (UTC date partitions)."""

    name = "billing-statement"
    title = N_("Billing statement")
    formats = ("xlsx", "html", "csv", "json", "txt")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        split = split_for_report(lake, period, currency, self.config)
        cells = split.cells.merge(split.lines[["line_id", "extension", "site", "department"]], on="line_id")
        cells = cells.sort_values(["department", "site", "extension", "call_type"], kind="stable")
        tables = {
            "departments": department_table(split),
            "statements": frame_table(split, split.lines, "Statements", ("extension", N_("Extension")), _LINE_TEXT),
            "call_types": frame_table(split, cells, "By call type",
                                      ("extension", N_("Extension")), (("site", N_("Site")), ("department", N_("Department")),
                                                               ("call_type", N_("Call type"))), cells=True),
        }
        calls = split.calls.sort_values(["department", "site", "extension", "start_utc", "call_id"], kind="stable")
        listing = Listing("Calls", calls, CALL_COLUMNS, sheet_by="department", carry=("department", "cost_center"))
        return ReportData(name=self.name, title=self.title, period=period, currency=split.currency or currency,
                          scale=split.scale, headline=headline(split), tables=tables, notes=billing_notes(split),
                          primary="statements", template="billing_statement.html.j2", listings={"calls": listing},
                          extra={"statements": _statements(split)})
