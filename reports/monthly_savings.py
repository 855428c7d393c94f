"""The monthly savings report: what calls cost, what the PSTN would have charged, and the difference.

One :class:`~reports.base.ReportData` built from :func:`analytics.savings.summary`, rendered to

* ``xlsx`` — a ``Summary`` sheet (headline figures, the rated/unrated split, by call type and a
  chart) and ``By site`` / ``By carrier`` / ``By department`` sheets: frozen header, autofilter, money
  in the currency's format;
* ``html`` — one self-contained, printable page (inline CSS, no external URL) with the same figures;
* ``csv`` / ``txt`` — the by-site table; ``json`` — every figure, money as exact decimal strings.

Unrated calls are a line of their own everywhere: their cost is unknown, not zero.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import jinja2
import pandas as pd
import xlsxwriter

from analytics.calls import month_range
from analytics.whatif import carrier_whatif
from analytics.savings import Summary, summary
from reports.base import Figure, Kind, Report, ReportData, ReportError, ReportTable, TableRow
from reports.carrier_whatif import whatif_table
from reports.render_text import format_value, write_csv, write_json, write_txt
from reports.render_xlsx import Styles, print_setup, write_cell, write_table

__all__ = ["MonthlySavingsReport"]

#: Breakdown tables in display order: summary key → (table key, title, label header).
BREAKDOWN_TABLES = (("call_type", "By call type", "Call type"), ("site", "By site", "Site"),
                    ("carrier", "By carrier", "Carrier"), ("department", "By department", "Department"))
#: Tables that get a sheet of their own in the workbook (call type lives on the Summary sheet).
SHEETS = ("site", "carrier", "department")

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
                          scale=s.scale, headline=headline, tables=tables, notes=notes, primary="site")

    def render(self, data: ReportData, fmt: str, out_dir: Path) -> Path:
        renderers = {"xlsx": write_xlsx, "html": write_html, "csv": write_csv, "json": write_json, "txt": write_txt}
        if fmt not in renderers:
            raise ReportError(f"report '{self.name}' cannot render {fmt} (supported: {', '.join(self.formats)})")
        path = Path(out_dir) / self.file_name(data, fmt)
        renderers[fmt](data, path)
        return path


# --- xlsx (the shared cell styles and table writer of reports.render_xlsx, a layout of its own) ------


def write_xlsx(data: ReportData, path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"title": f"{data.title} {data.period}", "subject": "callcost", "comments": " ".join(data.notes)})
    st = Styles(wb, data.currency, data.scale)
    width = len(VALUE_COLUMNS) + 1

    ws = wb.add_worksheet("Summary")
    ws.write_string(0, 0, f"{data.title} — {data.period} ({data.currency})", st.title)
    ws.write_string(1, 0, data.notes[0] if data.notes else "", st.note)
    ws.write_string(3, 0, "Figure", st.header)
    ws.write_string(3, 1, "Value", st.header)
    row = 4
    for fig in data.headline:
        ws.write_string(row, 0, fig.label, st.body["text"])
        write_cell(ws, row, 1, fig.value, fig.kind, st.body[fig.kind])
        row += 1
    row += 1
    ws.write_string(row, 0, data.tables["status"].title, st.section)
    row = write_table(ws, st, data.tables["status"], row + 1, data.currency, autofilter=False) + 2
    ws.write_string(row, 0, data.tables["call_type"].title, st.section)
    ct_top = row + 1
    row = write_table(ws, st, data.tables["call_type"], ct_top, data.currency) + 2
    for note in data.notes[1:]:
        ws.write_string(row, 0, note, st.note)
        row += 1
    ws.write_string(row + 1, 0, f"Generated {data.generated_at:%Y-%m-%d %H:%M} UTC by callcost", st.note)
    groups = sum(1 for r in data.tables["call_type"].rows if r.kind == "group")
    if groups:
        chart = wb.add_chart({"type": "column"})
        for col, name, colour in ((4, "Reference cost", "#9aa5b1"), (3, "Actual cost", "#3b6ea5"),
                                  (5, "Savings", "#2e8b57")):
            chart.add_series({"name": name, "categories": ["Summary", ct_top + 1, 0, ct_top + groups, 0],
                              "values": ["Summary", ct_top + 1, col, ct_top + groups, col],
                              "fill": {"color": colour}})
        chart.set_title({"name": f"Cost and savings by call type ({data.currency})"})
        chart.set_y_axis({"num_format": "#,##0"})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 620, "height": 330})
        ws.insert_chart(3, width + 1, chart)
    ws.set_column(0, 0, 30)
    ws.set_column(1, width - 1, 15)
    ws.freeze_panes(3, 0)
    print_setup(ws, data)

    for key in (*SHEETS, "whatif"):
        table = data.tables.get(key)
        if table is None:
            continue
        ws = wb.add_worksheet(table.sheet or table.title)
        write_table(ws, st, table, 0, data.currency)
        ws.freeze_panes(1, 1)
        ws.set_column(0, 0, 22)
        ws.set_column(1, len(table.columns) - 1, 16)
        print_setup(ws, data)
    wb.close()


# --- html --------------------------------------------------------------------------------------------

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _bars(table: ReportTable) -> list[dict]:
    """Savings per group as bar widths in percent of the largest: a chart that needs no script and prints."""
    groups = [r for r in table.rows if r.kind == "group"]
    top = max((abs(r.values["savings"]) for r in groups), default=Decimal(0)) or Decimal(1)
    return [{"label": r.label, "value": r.values["savings"], "negative": r.values["savings"] < 0,
             "width": float(abs(r.values["savings"]) * 100 / top)} for r in groups]


def write_html(data: ReportData, path: Path) -> None:
    def fmt(value: object, kind: str) -> str:
        return format_value(value, kind, data.scale)

    html = _ENV.get_template("monthly_savings.html.j2").render(
        data=data, fmt=fmt, site_bars=_bars(data.tables["site"]),
        breakdowns=[data.tables[k] for k, _, _ in BREAKDOWN_TABLES] + [data.tables[k] for k in ("whatif",)
                                                                      if k in data.tables])
    path.write_text(html, encoding="utf-8")
