"""Any report as an Excel workbook (xlsxwriter): a Summary sheet, one sheet per table, then the call listings.

Every sheet gets the same treatment, so finance can rely on it whatever the report: money in the
currency's number format (``"USD" #,##0.00``), a frozen header row (and label column), an autofilter
over the data rows (the Total line stays outside it, so filtering never hides or sums it twice), and
print setup (landscape, one page wide).  A Total line is Excel formulas (``=SUM(C2:C9)``) over the rows
above it wherever the exact total is their sum, with the exact total as the cached value, so a figure
edited by hand re-totals and a total never disagrees with its rows.  Minutes go in unrounded (exact
seconds / 60) and are rounded once, by the cell format, so every sheet shows the same total minutes.
Every sheet of a table with group rows gets a native column chart (its ``chart`` columns, else its
money columns); the first summary chart is on the Summary sheet too.  Texts are translated into the
report's language (:mod:`analytics.reporting.i18n`).
The Summary sheet is written once, here, for every report: title, the first note, the headline
figures, the report's ``summary_tables`` (e.g. rated vs unrated calls), the other notes.  A
:class:`~analytics.reporting.model.Listing` gets one sheet per value of its ``sheet_by`` column,
written a column at a time.

Excel stores doubles: money goes in as the float of the exact Decimal, which reads back to the same
cent; unknown money (an unrated call) is the text "not priced" in a *text*-formatted cell, never 0 and
never a money-formatted cell (a sum or a chart over it cannot mistake it for an amount).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from analytics.reporting.formatting import UNPRICED
from analytics.reporting.i18n import Translator, translator
from analytics.reporting.i18n import display_width as _width

if TYPE_CHECKING:  # annotations only
    from analytics.reporting.model import Listing, ReportData, ReportTable


__all__ = ["Styles", "chart_columns", "header_text", "print_setup", "sheet_names", "summary_name", "unique_sheet_name",
           "write_cell", "write_listing", "write_table", "write_xlsx"]

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
        #: "not priced" / "incomplete" where an amount would be: text, never a money format
        self.unpriced = wb.add_format({"num_format": "@", "italic": True, "font_color": "#9c3d00", "align": "right"})

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


def sheet_names(data: ReportData, used: set[str] | None = None, tr: Translator | None = None) -> dict[str, str]:
    """Table key → a unique, valid worksheet name (in the report's language), for the tables that get a
    sheet of their own."""
    tr = tr or translator(data.lang)
    used = {"summary"} if used is None else used
    return {key: unique_sheet_name(tr.text(table.sheet or table.title), used, key)
            for key, table in data.tables.items() if key not in data.summary_tables}


def write_cell(ws: Worksheet, row: int, col: int, value: object, kind: str, fmt, st: Styles | None = None,
               tr: Translator | None = None) -> None:
    """Numbers as numbers (money as the exact Decimal's float), unknown money as "not priced", never 0.

    A text in a number column ("not priced", "incomplete") goes in with the text format of *st*, never the
    column's money or count format."""
    tr = tr or translator()
    text_fmt = st.unpriced if st is not None else fmt
    if value is None or (value == "" and kind != "text"):
        if kind in ("money", "rate"):
            ws.write_string(row, col, tr.gettext(UNPRICED), text_fmt)
        else:
            ws.write_blank(row, col, None, fmt)
    elif kind == "percent" and not isinstance(value, str):
        ws.write_number(row, col, float(Decimal(value) / 100), fmt)
    elif kind in ("count", "minutes", "money", "rate") and not isinstance(value, str):
        ws.write_number(row, col, float(value), fmt)
    elif kind != "text":
        ws.write_string(row, col, tr.text(str(value)), text_fmt)
    else:
        ws.write_string(row, col, tr.text(str(value)), fmt)


#: Columns whose Total is the sum of the rows above (written as a SUM formula when it is).
_SUMMED = ("count", "minutes", "money")


def _is_sum(total: object, parts: list[object], kind: str) -> bool:
    """Whether *total* is the sum of the numeric *parts* (minutes: to well under a hundredth, as they are
    exact seconds / 60 in ``Decimal``)."""
    if kind not in _SUMMED or total is None or isinstance(total, str) or not parts:
        return False
    numbers = [Decimal(p) for p in parts if p is not None and not isinstance(p, str)]
    if not numbers:
        return False
    diff = abs(sum(numbers, Decimal(0)) - Decimal(total))
    return diff == 0 if kind != "minutes" else diff < Decimal("1e-9")


def header_text(header: str, kind: str, currency: str, tr: Translator) -> str:
    """A column header in the reader's language, a money column's with its currency."""
    text = tr.text(header)
    return f"{text} ({currency})" if kind == "money" and currency else text


def write_table(ws: Worksheet, st: Styles, table: ReportTable, top: int, currency: str, *,
                autofilter: bool = True, tr: Translator | None = None) -> int:
    """Header at row *top*, the rows below, autofilter over the non-total rows; return the last row written.

    A Total line sums the rows since the previous Total (or the header) with ``=SUM(...)`` formulas whose
    cached value is the exact total; a column whose total is not such a sum (a ratio) keeps its value."""
    tr = tr or translator()
    for col, (_, header, kind) in enumerate(table.columns):
        ws.write_string(top, col, header_text(header, kind, currency, tr),
                        st.header if kind == "text" else st.number_header)
    row = top
    last_data = top
    block: list = []  # the rows since the last Total
    for r in table.rows:
        row += 1
        styles = st.for_row(r.kind)
        ws.write_string(row, 0, tr.text(r.label), styles["text"])
        for col, (key, _, kind) in enumerate(table.value_columns(), start=1):
            value = r.values.get(key)
            if r.kind == "total" and _is_sum(value, [b.values.get(key) for b in block], kind):
                letter = xl_col_to_name(col)
                ws.write_formula(row, col, f"=SUM({letter}{row - len(block) + 1}:{letter}{row})", styles[kind],
                                 float(value))
            else:
                write_cell(ws, row, col, value, kind, styles[kind], st, tr)
        if r.kind != "total":
            last_data = row
            block.append(r)
        else:
            block = []
    if autofilter:
        ws.autofilter(top, 0, max(last_data, top + 1), len(table.columns) - 1)
    return row


def _widths(ws: Worksheet, table: ReportTable, tr: Translator) -> None:
    label = max([_width(tr.text(table.columns[0][1])), *(_width(tr.text(r.label)) for r in table.rows)], default=10)
    ws.set_column(0, 0, min(max(label + 2, 12), 48))
    for col, (key, header, kind) in enumerate(table.value_columns(), start=1):
        longest = max([len(str(r.values.get(key) or "")) for r in table.rows], default=0)
        shown = _width(tr.text(header))
        ws.set_column(col, col, min(max(shown + 6 if kind == "money" else shown + 2, longest + 4, 11), 60))


def chart_columns(table: ReportTable) -> tuple[str, ...]:
    """What a table's chart draws: its ``chart`` columns, else its money columns (at most three), else its
    first count column — so every breakdown sheet has a chart."""
    if table.chart:
        return table.chart
    money = tuple(k for k, _, kind in table.value_columns() if kind == "money")[:3]
    counts = tuple(k for k, _, kind in table.value_columns() if kind == "count")[:1]
    return money or counts


def _chart(wb: xlsxwriter.Workbook, table: ReportTable, sheet: str, top: int, currency: str,
           tr: Translator | None = None, *, default: bool = False):
    """A column chart of the table's chart columns (with *default*, :func:`chart_columns`) for its group
    rows, placed against their cells, or None if it has none to draw."""
    tr = tr or translator()
    groups = [i for i, r in enumerate(table.rows) if r.kind in ("group", "other")]
    keys = [k for k, _, _ in table.value_columns()]
    drawn = chart_columns(table) if default else table.chart
    if not drawn or not groups:
        return None
    # a block of consecutive group rows: the chart's categories are one range
    first, last = top + 1 + groups[0], top + 1 + groups[-1]
    chart = wb.add_chart({"type": "column", "subtype": "stacked"} if table.chart_stacked else {"type": "column"})
    kinds = {k: kind for k, _, kind in table.columns}
    for n, key in enumerate(drawn):
        col = 1 + keys.index(key)
        header = next(h for k, h, _ in table.columns if k == key)
        colour = _SERIES_COLOURS.get(key, _PALETTE[n % len(_PALETTE)])
        chart.add_series({"name": tr.text(header), "categories": [sheet, first, 0, last, 0],
                          "values": [sheet, first, col, last, col], "fill": {"color": colour}})
    unit = f" ({currency})" if any(kinds[k] == "money" for k in drawn) else ""
    chart.set_title({"name": f"{tr.text(table.chart_title or table.title)}{unit}"})
    chart.set_y_axis({"num_format": "#,##0"})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 620, "height": 330})
    return chart


def write_listing(ws: Worksheet, st: Styles, listing: Listing, frame: pd.DataFrame, currency: str,
                  tr: Translator | None = None) -> None:
    """One sheet of a call listing, set up (header, frozen pane, autofilter over every row, widths); its rows
    are added by :func:`_listing_xml` once the workbook is closed."""
    tr = tr or translator()
    for col, (_, header, kind) in enumerate(listing.columns):
        ws.write_string(0, col, header_text(header, kind, currency, tr), st.header)
    ws.autofilter(0, 0, max(len(frame), 1), len(listing.columns) - 1)
    ws.freeze_panes(1, 0)
    for col, (_, _, kind) in enumerate(listing.columns):  # the column's own format: also gives it an index
        ws.set_column(col, col, 20 if col == 0 else 13, st.body[kind])


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_text(values: pd.Series) -> pd.Series:
    """Text as XML character data (``&<>`` escaped, control characters as Excel's ``_xHHHH_``)."""
    text = (values.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False))
    if text.str.contains(_CONTROL, regex=True).any():
        text = text.str.replace(_CONTROL, lambda m: f"_x{ord(m.group()):04X}_", regex=True)
    return text


def _listing_xml(listing: Listing, frame: pd.DataFrame, st: Styles, unpriced: str = UNPRICED) -> tuple[str, str]:
    """The listing's data rows as worksheet XML, built a column at a time with vectorised string
    operations, and the sheet's last cell.

    Why not ``write_column``: xlsxwriter spends about 15 µs of Python per cell writing and then
    serialising it, 13 s for a month's statement of 100,000 calls × 9 columns; this writes the same
    cells (numbers as numbers with the same format, text as inline strings, an empty text as a blank
    cell, an unpriced cost as the text *unpriced* in the text format) in well under a second.
    """
    n = len(frame)
    rows = pd.Series(np.arange(2, n + 2), index=frame.index).astype(str)
    xml = '<row r="' + rows + '">'
    for col, (key, _, kind) in enumerate(listing.columns):
        ref = '<c r="' + xl_col_to_name(col) + rows + f'" s="{st.body[kind].xf_index}"'
        values = frame[key]
        if values.dtype.kind == "M":
            cells = ref + ' t="inlineStr"><is><t>' + values.dt.strftime("%Y-%m-%d %H:%M:%S") + "</t></is></c>"
        elif kind == "count":
            cells = ref + "><v>" + values.fillna(0).astype("int64").astype(str) + "</v></c>"
        elif kind == "money":  # Excel stores doubles; an unrated call's cost is unknown, not 0
            priced = values.notna()
            number = values.map(lambda v: f"{float(v):.16G}" if v is not None else "")
            cells = (ref + "><v>" + number + "</v></c>").where(
                priced, f'<c r="{xl_col_to_name(col)}' + rows + f'" s="{st.unpriced.xf_index}" t="inlineStr"><is><t>'
                + _xml_text(pd.Series(unpriced, index=frame.index)) + "</t></is></c>")
        else:
            text = values.fillna("").astype(str)
            cells = (ref + ' t="inlineStr"><is><t xml:space="preserve">' + _xml_text(text) + "</t></is></c>").where(
                text != "", ref + "/>")
        xml = xml + cells
    last = f"{xl_col_to_name(len(listing.columns) - 1)}{n + 1}"
    return "".join((xml + "</row>").tolist()), last


def _add_listing_rows(path: Path, parts: dict[int, tuple[str, str]]) -> None:
    """Put each listing sheet's rows (:func:`_listing_xml`) into the closed workbook at *path*."""
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            sheet = _SHEET_XML.fullmatch(info.filename)
            if sheet and int(sheet.group(1)) - 1 in parts:
                rows, last = parts[int(sheet.group(1)) - 1]
                text = data.decode("utf-8")
                text = re.sub(r'<dimension ref="A1(:[A-Z]+1)?"/>', f'<dimension ref="A1:{last}"/>', text, count=1)
                text = text.replace("</sheetData>", rows + "</sheetData>", 1)
                data = text.encode("utf-8")
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    tmp.replace(path)


_SHEET_XML = re.compile(r"xl/worksheets/sheet(\d+)\.xml")


def print_setup(ws: Worksheet, data: ReportData, header_row: int = 0) -> None:
    """Landscape, one page wide, the report and period in the header, page numbers in the footer, the
    header row repeated on every printed page."""
    tr = translator(data.lang)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_header(f"&L{tr.text(data.title)} {data.period}&R{data.currency}".replace("&&", "&"))
    ws.set_footer("&L" + tr.gettext("Generated by callcost") + "&R" +
                  tr.gettext("Page {page} of {pages}").format(page="&P", pages="&N"))
    ws.repeat_rows(header_row)


def _summary_sheet(wb: xlsxwriter.Workbook, st: Styles, data: ReportData) -> tuple[Worksheet, int]:
    """The Summary sheet, the same for every report; returns it and the column a chart goes in."""
    tr = translator(data.lang)
    ws = wb.add_worksheet(summary_name(data))
    ws.write_string(0, 0, f"{tr.text(data.title)} — {tr.period(data.period)} ({data.currency})", st.title)
    ws.write_string(1, 0, tr.text(data.notes[0]) if data.notes else "", st.note)
    ws.write_string(3, 0, tr.gettext("Figure"), st.header)
    ws.write_string(3, 1, tr.gettext("Value"), st.number_header)
    row = 4
    for fig in data.headline:
        ws.write_string(row, 0, tr.text(fig.label), st.body["text"])
        write_cell(ws, row, 1, fig.value, fig.kind, st.body[fig.kind], st, tr)
        row += 1
    ws.autofilter(3, 0, max(row - 1, 4), 1)
    width = 2
    tops: dict[str, int] = {}
    for key in data.summary_tables:
        table = data.tables[key]
        row += 1
        ws.write_string(row, 0, tr.text(table.title), st.section)
        tops[key] = row + 1
        row = write_table(ws, st, table, row + 1, data.currency, autofilter=False, tr=tr) + 1
        width = max(width, len(table.columns))
    for note in data.notes[1:]:
        row += 1
        ws.write_string(row, 0, tr.text(note), st.note)
    # the legend of the unknown amount, in its own format (which listing sheets' rows refer to by index)
    ws.write_string(row + 2, 0, tr.gettext(UNPRICED), st.unpriced)
    ws.write_string(row + 2, 1, tr.gettext("the call could not be priced: its cost is unknown, never 0"), st.note)
    ws.write_string(row + 3, 0, tr.gettext("Generated {when} UTC by callcost").format(
        when=f"{data.generated_at:%Y-%m-%d %H:%M}"), st.note)
    ws.set_column(0, 0, 36)
    ws.set_column(1, width - 1, 20)
    ws.freeze_panes(4, 0)  # rows 1-4: the title and the Figure / Value header (row 4) stay in view
    print_setup(ws, data, header_row=3)
    for key, top in tops.items():  # a summary table with a chart is charted beside it, from this sheet
        chart = _chart(wb, data.tables[key], ws.name, top, data.currency, tr)
        if chart is not None:
            ws.insert_chart(3, width + 1, chart)
            return ws, -1
    return ws, 3


def summary_name(data: ReportData) -> str:
    """The Summary sheet's name in the report's language."""
    return unique_sheet_name(translator(data.lang).gettext("Summary"), set(), "Summary")


def write_xlsx(data: ReportData, path: Path) -> None:
    """Summary (headline figures, summary tables, notes, the first chart), one formatted sheet per other
    table (each with its chart), then one sheet per listing part."""
    tr = translator(data.lang)
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"title": f"{tr.text(data.title)} {data.period}", "subject": "callcost",
                       "comments": " ".join(tr.text(n) for n in data.notes)})
    st = Styles(wb, data.currency, data.scale)
    used = {summary_name(data).lower()}
    names = sheet_names(data, used, tr)
    summary, chart_col = _summary_sheet(wb, st, data)

    for key, name in names.items():
        table = data.tables[key]
        ws = wb.add_worksheet(name)
        write_table(ws, st, table, 0, data.currency, tr=tr)
        ws.freeze_panes(1, 1)
        _widths(ws, table, tr)
        print_setup(ws, data)
        chart = _chart(wb, table, name, 0, data.currency, tr, default=True)
        if chart is not None:
            ws.insert_chart(1, len(table.columns) + 1, chart)
        summary_chart = _chart(wb, table, name, 0, data.currency, tr) if chart_col >= 0 else None
        if summary_chart is not None:
            summary.insert_chart(3, chart_col, summary_chart)
            chart_col = -1
    pending: list[tuple[int, Listing, pd.DataFrame]] = []
    for listing in data.listings.values():
        parts = listing.frame.groupby(listing.sheet_by, sort=True) if listing.sheet_by else [("", listing.frame)]
        for value, part in parts:
            ws = wb.add_worksheet(unique_sheet_name(f"{tr.text(listing.title)} {value}".strip(), used))
            write_listing(ws, st, listing, part, data.currency, tr)
            print_setup(ws, data)
            if len(part):
                pending.append((ws.index, listing, part))
    wb.close()
    if pending:  # the formats have their indices once the workbook is closed
        _add_listing_rows(path, {index: _listing_xml(listing, part, st, tr.gettext(UNPRICED))
                                 for index, listing, part in pending})
