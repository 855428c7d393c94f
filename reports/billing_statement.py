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
from pathlib import Path

import pandas as pd

from reports.base import Report, ReportData, ReportTable, TableRow
from reports.billing_render import render
from reports.billing_tables import (
    CELL_TABLE_COLUMNS,
    CHARGE_COLUMNS,
    billing_notes,
    frame_table,
    headline,
    split_for_report,
)

__all__ = ["BillingStatementReport"]

_LINE_TEXT = (("site", "Site"), ("user", "User"), ("department", "Department"), ("cost_center", "Cost centre"))


def _call_text(split, calls) -> pd.DataFrame:
    """The call list as display strings, formatted column-wise (vectorised), for the HTML statements."""
    cost = calls["actual_cost"].map(lambda v: "not priced" if v is None else f"{v:,.{split.scale}f}")
    return pd.DataFrame({
        "line_id": calls["line_id"], "start_utc": calls["start_utc"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "extension": calls["extension"], "user": calls["user"], "call_type": calls["call_type"],
        "category": calls["category"].fillna(""), "number": calls["number"].fillna(""),
        "duration_s": calls["duration_s"].map("{:,}".format), "actual_cost": cost,
        "rating_status": calls["rating_status"],
    })


def _statements(split, calls) -> list[dict]:
    """Per billing line, for the HTML: the line, its totals by call type and its calls (one group-by each)."""
    columns = CELL_TABLE_COLUMNS
    cells = split.decimal(split.cells)
    lines = split.decimal(split.lines)
    by_cells: dict[int, list[dict]] = {}
    for c in cells.to_dict("records"):
        by_cells.setdefault(c["line_id"], []).append(c)
    text = _call_text(split, calls)
    rows = list(zip(*(text[c] for c in text.columns if c != "line_id")))
    by_calls: dict[int, list[tuple]] = {}
    for line_id, row in zip(text["line_id"].to_numpy(), rows):
        by_calls.setdefault(int(line_id), []).append(row)
    out = []
    for rec in lines.to_dict("records"):
        table_rows = tuple(
            TableRow(c["call_type"], {k: split.minutes(c["seconds"]) if k == "minutes" else c[k] for k, _, _ in columns})
            for c in by_cells.get(rec["line_id"], []))
        values = {k: split.minutes(rec["seconds"]) if k == "minutes" else rec[k] for k, _, _ in CHARGE_COLUMNS}
        out.append({"line": rec, "by_call_type": ReportTable("By call type", (("call_type", "Call type", "text"),
                                                                              *columns), table_rows),
                    "total": TableRow("Total", values, "total"), "total_columns": CHARGE_COLUMNS,
                    "calls": by_calls.get(rec["line_id"], [])})
    return out


class BillingStatementReport(Report):
    """Per-extension statements for one calendar month (UTC date partitions)."""

    name = "billing-statement"
    title = "Billing statement"
    formats = ("xlsx", "html", "csv", "json", "txt")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        split = split_for_report(lake, period, currency, self.config)
        cells = split.cells.merge(split.lines[["line_id", "extension", "site", "department"]], on="line_id")
        cells = cells.sort_values(["department", "site", "extension", "call_type"], kind="stable")
        tables = {
            "departments": frame_table(split, split.departments().reset_index(), "By department",
                                       ("department", "Department"), (("client", "Client"), ("parent", "Parent"))),
            "statements": frame_table(split, split.lines, "Statements", ("extension", "Extension"), _LINE_TEXT),
            "call_types": frame_table(split, cells, "By call type",
                                      ("extension", "Extension"), (("site", "Site"), ("department", "Department"),
                                                               ("call_type", "Call type")), cells=True),
        }
        calls = split.calls.sort_values(["department", "site", "extension", "start_utc", "call_id"], kind="stable")
        return ReportData(name=self.name, title=self.title, period=period, currency=split.currency or currency,
                          scale=split.scale, headline=headline(split), tables=tables, notes=billing_notes(split),
                          extra={"main": "statements", "template": "billing_statement.html.j2", "calls": calls,
                                 "statements": _statements(split, calls)})

    def render(self, data: ReportData, fmt: str, out_dir: Path) -> Path:
        return render(self.name, self.formats, data, fmt, Path(out_dir) / self.file_name(data, fmt))
