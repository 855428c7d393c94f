"""Any report as an Excel workbook (xlsxwriter): a Summary sheet, one sheet per table, then the call listings.

Every sheet gets the same treatment, so finance can rely on it whatever the report: money in the
currency's number format (``"USD" #,##0.00``), a frozen header row (and label column), an autofilter
over the data rows (the Total line stays outside it, so filtering never hides or sums it twice), and
print setup (landscape, one page wide).  A table with ``chart`` columns is a summary table: its sheet
gets a column chart of those columns per group, and the first one is charted on the Summary sheet too.
The Summary sheet is written once, here, for every report: title, the first note, the headline
figures, the report's ``summary_tables`` (e.g. rated vs unrated calls), the other notes.  A
:class:`~analytics.reporting.model.Listing` gets one sheet per value of its ``sheet_by`` column,
written a column at a time.

Excel stores doubles: money goes in as the float of the exact Decimal, which reads back to the same
cent; unknown money (an unrated call) is the text "not priced", never 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re
from decimal import Decimal
from pathlib import Path

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from analytics.reporting.formatting import UNPRICED

if TYPE_CHECKING:  # annotations only
    import pandas as pd

    from analytics.reporting.model import Listing, ReportData, ReportTable


__all__ = ["Styles", "print_setup", "sheet_names", "unique_sheet_name", "write_cell", "write_listing", "write_table",
           "write_xlsx"]

_PALETTE = ("#3b6ea5", "#9aa5b1", "#2e8b57", "#c97b2a", "#7a4ea3", "#b03a2e")
#: A figure keeps its colour in every chart of every report.
_SERIES_COLOURS = {"actual_cost": "#3b6ea5", "reference_cost": "#9aa5b1", "savings": "#2e8b57",
                   "usage": "#3b6ea5", "trunk_share": "#9aa5b1", "markup": "#e0a040", "surcharge_calls": "#c0504d",
                   "surcharge_minutes": "#8064a2", "fixed_extension": "#4bacc6", "fixed_department": "#2e8b57"}
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


class Styles:
    """The workbook's cell formats, made once per workbook (shared by every xlsx renderer, so reports look alike)."""

    def __init__(self, wb: xlsxwriter.Workbook, currency: str, scale: int) -> None:
        decimals = "." + "0" * scale if scale else ""
        self.title = wb.add_format({"bold": True, "font_size": 16})
        self.note = wb.add_format({"italic": True, "font_color": "#555555"})
        self.section = wb.add_format({"bold": True, "font_size": 12})
        self.header = wb.add_format({"bold": True, "bg_color": "#1f3b5a", "font_color": "#ffffff", "border": 1,
                                     "text_wrap": True, "valign": "top"})
        self.number_header = wb.add_format({"bold": True, "bg_color": "#1f3b5a", "font_color": "#ffffff",
                                            "border": 1, "align": "right", "text_wrap": True, "valign": "top"})
        body = {"count": "#,##0", "minutes": "#,##0.00", "money": f'"{currency}" #,##0{decimals}', "percent": "0.0%",
                "rate": f'"{currency}" #,##0.0000', "text": "@"}
        self.body = {k: wb.add_format({"num_format": v}) for k, v in body.items()}
        self.total = {k: wb.add_format({"num_format": v, "bold": True, "top": 1}) for k, v in body.items()}
        self.unrated = {k: wb.add_format({"num_format": v, "italic": True, "font_color": "#9c3d00"})
                        for k, v in body.items()}

    def for_row(self, kind: str) -> dict:
        return self.total if kind == "total" else self.unrated if kind == "unrated" else self.body


def unique_sheet_name(name: str, used: set[str], fallback: str = "Sheet") -> str:
    """An Excel-safe worksheet name not in *used* (31 characters, none of ``[]:*?/\\``, no edge quote)."""
    base = _BAD_SHEET_CHARS.sub("-", name)[:31].strip().strip("'") or fallback[:31]
    candidate, n = base, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate, n = base[:31 - len(suffix)].rstrip() + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def sheet_names(data: ReportData, used: set[str] | None = None) -> dict[str, str]:
    """Table key → a unique, valid worksheet name, for the tables that get a sheet of their own."""
    used = {"summary"} if used is None else used
    return {key: unique_sheet_name(table.sheet or table.title, used, key) for key, table in data.tables.items()
            if key not in data.summary_tables}


def write_cell(ws: Worksheet, row: int, col: int, value: object, kind: str, fmt) -> None:
    """Numbers as numbers (money as the exact Decimal's float), unknown money as "not priced", never 0."""
    if value is None or (value == "" and kind != "text"):
        if kind == "money":
            ws.write_string(row, col, UNPRICED, fmt)
        else:
            ws.write_blank(row, col, None, fmt)
    elif kind == "percent":
        ws.write_number(row, col, float(Decimal(value) / 100), fmt)
    elif kind in ("count", "minutes", "money", "rate") and not isinstance(value, str):
        ws.write_number(row, col, float(value), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def write_table(ws: Worksheet, st: Styles, table: ReportTable, top: int, currency: str, *,
                autofilter: bool = True) -> int:
    """Header at row *top*, the rows below, autofilter over the non-total rows; return the last row written."""
    for col, (_, header, kind) in enumerate(table.columns):
        text = f"{header} ({currency})" if kind == "money" else header
        ws.write_string(top, col, text, st.header if kind == "text" else st.number_header)
    row = top
    last_data = top
    for r in table.rows:
        row += 1
        styles = st.for_row(r.kind)
        ws.write_string(row, 0, r.label, styles["text"])
        for col, (key, _, kind) in enumerate(table.value_columns(), start=1):
            write_cell(ws, row, col, r.values.get(key), kind, styles[kind])
        if r.kind != "total":
            last_data = row
    if autofilter:
        ws.autofilter(top, 0, max(last_data, top + 1), len(table.columns) - 1)
    return row


def _widths(ws: Worksheet, table: ReportTable) -> None:
    label = max([len(table.columns[0][1]), *(len(r.label) for r in table.rows)], default=10)
    ws.set_column(0, 0, min(max(label + 2, 12), 48))
    for col, (key, header, kind) in enumerate(table.value_columns(), start=1):
        longest = max([len(str(r.values.get(key) or "")) for r in table.rows], default=0)
        ws.set_column(col, col, min(max(len(header) + 6 if kind == "money" else len(header) + 2, longest + 4, 11), 60))


def _chart(wb: xlsxwriter.Workbook, table: ReportTable, sheet: str, top: int, currency: str):
    """A column chart of the table's chart columns for its group rows, or None if it has none to draw."""
    groups = [i for i, r in enumerate(table.rows) if r.kind in ("group", "other")]
    keys = [k for k, _, _ in table.value_columns()]
    if not table.chart or not groups:
        return None
    first, last = top + 1 + groups[0], top + 1 + groups[-1]
    chart = wb.add_chart({"type": "column", "subtype": "stacked"} if table.chart_stacked else {"type": "column"})
    kinds = {k: kind for k, _, kind in table.columns}
    for n, key in enumerate(table.chart):
        col = 1 + keys.index(key)
        header = next(h for k, h, _ in table.columns if k == key)
        colour = _SERIES_COLOURS.get(key, _PALETTE[n % len(_PALETTE)])
        chart.add_series({"name": header, "categories": [sheet, first, 0, last, 0],
                          "values": [sheet, first, col, last, col], "fill": {"color": colour}})
    unit = f" ({currency})" if any(kinds[k] == "money" for k in table.chart) else ""
    chart.set_title({"name": f"{table.chart_title or table.title}{unit}"})
    chart.set_y_axis({"num_format": "#,##0"})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 620, "height": 330})
    return chart


def write_listing(ws: Worksheet, st: Styles, listing: Listing, frame: pd.DataFrame, currency: str) -> None:
    """One sheet of a call listing: each column converted at once and written as a column (no per-cell
    formatting in Python), frozen header, autofilter over every row."""
    for col, (key, header, kind) in enumerate(listing.columns):
        ws.write_string(0, col, f"{header} ({currency})" if kind == "money" else header, st.header)
        values = frame[key]
        if values.dtype.kind == "M":
            values = values.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif kind == "money":  # Excel stores doubles; an unrated call's cost is unknown, not 0
            values = values.map(lambda v: UNPRICED if v is None else float(v))
        elif kind == "count":
            values = values.fillna(0).astype("int64")
        else:
            values = values.fillna("").astype(str)
        ws.write_column(1, col, values.tolist(), st.body[kind])
    ws.autofilter(0, 0, max(len(frame), 1), len(listing.columns) - 1)
    ws.freeze_panes(1, 0)
    ws.set_column(0, 0, 20)
    ws.set_column(1, len(listing.columns) - 1, 13)


def print_setup(ws: Worksheet, data: ReportData) -> None:
    """Landscape, one page wide, the report and period in the header, page numbers in the footer."""
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_header(f"&L{data.title} {data.period}&R{data.currency}")
    ws.set_footer("&LGenerated by callcost&RPage &P of &N")
    ws.repeat_rows(0)


def _summary_sheet(wb: xlsxwriter.Workbook, st: Styles, data: ReportData) -> tuple[Worksheet, int]:
    """The Summary sheet, the same for every report; returns it and the column a chart goes in."""
    ws = wb.add_worksheet("Summary")
    ws.write_string(0, 0, f"{data.title} — {data.period} ({data.currency})", st.title)
    ws.write_string(1, 0, data.notes[0] if data.notes else "", st.note)
    ws.write_string(3, 0, "Figure", st.header)
    ws.write_string(3, 1, "Value", st.number_header)
    row = 4
    for fig in data.headline:
        ws.write_string(row, 0, fig.label, st.body["text"])
        write_cell(ws, row, 1, fig.value, fig.kind, st.body[fig.kind])
        row += 1
    ws.autofilter(3, 0, max(row - 1, 4), 1)
    width = 2
    tops: dict[str, int] = {}
    for key in data.summary_tables:
        table = data.tables[key]
        row += 1
        ws.write_string(row, 0, table.title, st.section)
        tops[key] = row + 1
        row = write_table(ws, st, table, row + 1, data.currency, autofilter=False) + 1
        width = max(width, len(table.columns))
    for note in data.notes[1:]:
        row += 1
        ws.write_string(row, 0, note, st.note)
    ws.write_string(row + 2, 0, f"Generated {data.generated_at:%Y-%m-%d %H:%M} UTC by callcost", st.note)
    ws.set_column(0, 0, 36)
    ws.set_column(1, width - 1, 20)
    ws.freeze_panes(4, 0)
    print_setup(ws, data)
    for key, top in tops.items():  # a summary table with a chart is charted beside it, from this sheet
        chart = _chart(wb, data.tables[key], "Summary", top, data.currency)
        if chart is not None:
            ws.insert_chart(3, width + 1, chart)
            return ws, -1
    return ws, 3


def write_xlsx(data: ReportData, path: Path) -> None:
    """Summary (headline figures, summary tables, notes, the first chart), one formatted sheet per other
    table, then one sheet per listing part."""
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"title": f"{data.title} {data.period}", "subject": "callcost", "comments": " ".join(data.notes)})
    st = Styles(wb, data.currency, data.scale)
    used = {"summary"}
    names = sheet_names(data, used)
    summary, chart_col = _summary_sheet(wb, st, data)

    for key, name in names.items():
        table = data.tables[key]
        ws = wb.add_worksheet(name)
        write_table(ws, st, table, 0, data.currency)
        ws.freeze_panes(1, 1)
        _widths(ws, table)
        print_setup(ws, data)
        chart = _chart(wb, table, name, 0, data.currency)
        if chart is not None:
            ws.insert_chart(1, len(table.columns) + 1, chart)
            if chart_col >= 0:
                summary.insert_chart(3, chart_col, _chart(wb, table, name, 0, data.currency))
                chart_col = -1
    for listing in data.listings.values():
        parts = listing.frame.groupby(listing.sheet_by, sort=True) if listing.sheet_by else [("", listing.frame)]
        for value, part in parts:
            ws = wb.add_worksheet(unique_sheet_name(f"{listing.title} {value}".strip(), used))
            write_listing(ws, st, listing, part, data.currency)
            print_setup(ws, data)
    wb.close()
