"""Rendering of billing reports (statement, chargeback) from their :class:`~reports.base.ReportData`.

Why one renderer for both: the two reports are the same kind of document — a headline, then tables
whose last line is a Total — and finance compares them side by side, so they should look alike.

* ``xlsx`` — ``Summary`` (headline, notes) then one sheet per table: frozen header and label column,
  autofilter over the data rows (the Total line stays put), money in the currency's format; with
  ``data.extra["calls"]`` (the statement) one more sheet per department listing its calls;
* ``html`` — a Jinja2 template named by the report, self-contained (inline CSS) and printable;
* ``csv`` — the report's main table; ``json`` — every table (and the call list), money as exact
  decimal strings; ``txt`` — headline and main table, fixed width.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import jinja2
import pandas as pd
import xlsxwriter

from reports.base import ReportData, ReportError, ReportTable
from reports.render_text import format_value, plain
from reports.render_xlsx import Styles, print_setup, write_cell, write_table

__all__ = ["CALL_COLUMNS", "RENDERERS", "render", "sheet_name"]

#: Columns of a statement's call list: (frame column, header, kind).
CALL_COLUMNS = (("start_utc", "Start (UTC)", "text"), ("extension", "Extension", "text"), ("user", "User", "text"),
                ("call_type", "Call type", "text"), ("category", "Category", "text"), ("number", "Number", "text"),
                ("duration_s", "Seconds", "count"), ("actual_cost", "Cost", "money"),
                ("rating_status", "Status", "text"))

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def fmt_value(value: object, kind: str, scale: int) -> str:
    """Text of a figure (``render_text.format_value``); a text placeholder in a number column shows as is."""
    if isinstance(value, str) and kind != "text":
        return value or "—"
    return format_value(value, kind, scale)


def sheet_name(name: str, taken: set[str]) -> str:
    """An Excel-safe, unique sheet name (≤ 31 characters, none of ``[]:*?/\\``)."""
    base = _BAD_SHEET.sub("-", name).strip("'") or "Sheet"
    base = base[:31]
    candidate, n = base, 2
    while candidate.lower() in {t.lower() for t in taken}:
        suffix = f" ({n})"
        candidate, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


# --- xlsx --------------------------------------------------------------------------------------------


def _write_table(ws, st: Styles, table: ReportTable, currency: str) -> None:
    write_table(ws, st, table, 0, currency)
    ws.freeze_panes(1, 1)
    ws.set_column(0, 0, 22)
    ws.set_column(1, len(table.columns) - 1, 14)


def _write_calls(ws, st: Styles, calls: pd.DataFrame, currency: str) -> None:
    """A department's call list, one row per call: each column formatted at once and written as a column."""
    for col, (key, header, kind) in enumerate(CALL_COLUMNS):
        ws.write_string(0, col, f"{header} ({currency})" if kind == "money" else header, st.header)
        values = calls[key]
        if key == "start_utc":
            values = values.dt.strftime("%Y-%m-%d %H:%M:%S")
        elif kind == "money":  # Excel stores doubles; an unrated call's cost is unknown, not 0
            values = values.map(lambda v: "not priced" if v is None else float(v))
        elif kind == "count":
            values = values.fillna(0).astype("int64")
        else:
            values = values.fillna("").astype(str)
        ws.write_column(1, col, values.tolist(), st.body[kind])
    ws.autofilter(0, 0, max(len(calls), 1), len(CALL_COLUMNS) - 1)
    ws.freeze_panes(1, 0)
    ws.set_column(0, 0, 20)
    ws.set_column(1, len(CALL_COLUMNS) - 1, 13)


#: The charge components drawn, stacked, per department on the Summary sheet.
_CHART_SERIES = (("usage", "#3b6ea5"), ("trunk_share", "#9aa5b1"), ("markup", "#e0a040"),
                 ("surcharge_calls", "#c0504d"), ("surcharge_minutes", "#8064a2"), ("fixed_extension", "#4bacc6"),
                 ("fixed_department", "#2e8b57"))


def _department_chart(wb: xlsxwriter.Workbook, ws, sheet: str, data: ReportData) -> None:
    """What makes up each department's charge: a stacked column per department, from the By department sheet."""
    table = data.tables["departments"]
    groups = sum(1 for r in table.rows if r.kind != "total")
    if not groups:
        return
    keys = [k for k, _, _ in table.columns]
    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    for key, colour in _CHART_SERIES:
        col = keys.index(key)
        header = {k: h for k, h, _ in table.columns}[key]
        chart.add_series({"name": header, "categories": [sheet, 1, 0, groups, 0],
                          "values": [sheet, 1, col, groups, col], "fill": {"color": colour}})
    chart.set_title({"name": f"Charges by department ({data.currency})"})
    chart.set_y_axis({"num_format": "#,##0"})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 720, "height": 380})
    ws.insert_chart(2, 3, chart)


def write_xlsx(data: ReportData, path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"title": f"{data.title} {data.period}", "subject": "callcost", "comments": " ".join(data.notes)})
    st = Styles(wb, data.currency, data.scale)
    taken: set[str] = set()
    ws = wb.add_worksheet(sheet_name("Summary", taken))
    ws.write_string(0, 0, f"{data.title} — {data.period} ({data.currency})", st.title)
    ws.write_string(2, 0, "Figure", st.header)
    ws.write_string(2, 1, "Value", st.header)
    row = 3
    for fig in data.headline:
        ws.write_string(row, 0, fig.label, st.body["text"])
        write_cell(ws, row, 1, fig.value, fig.kind, st.body[fig.kind])
        row += 1
    for note in data.notes:
        row += 1
        ws.write_string(row, 0, note, st.note)
    ws.write_string(row + 2, 0, f"Generated {data.generated_at:%Y-%m-%d %H:%M} UTC by callcost", st.note)
    ws.set_column(0, 0, 42)
    ws.set_column(1, 1, 18)
    ws.freeze_panes(3, 0)
    print_setup(ws, data)
    sheets: dict[str, str] = {}
    for key, table in data.tables.items():
        sheets[key] = sheet_name(table.title, taken)
        ws = wb.add_worksheet(sheets[key])
        _write_table(ws, st, table, data.currency)
        print_setup(ws, data)
    if "departments" in data.tables:
        _department_chart(wb, wb.get_worksheet_by_name("Summary"), sheets["departments"], data)
    calls = data.extra.get("calls")
    if calls is not None:
        for department, part in calls.groupby("department", sort=True):
            ws = wb.add_worksheet(sheet_name(f"Calls {department}", taken))
            _write_calls(ws, st, part, data.currency)
            print_setup(ws, data)
    wb.close()


# --- html, csv, json, txt ----------------------------------------------------------------------------


def write_html(data: ReportData, path: Path) -> None:
    def fmt(value: object, kind: str) -> str:
        return fmt_value(value, kind, data.scale)

    template = _ENV.get_template(data.extra["template"])
    path.write_text(template.render(data=data, fmt=fmt, tables=list(data.tables.values()),
                                    statements=data.extra.get("statements", []), call_columns=CALL_COLUMNS),
                    encoding="utf-8")


def write_csv(data: ReportData, path: Path) -> None:
    """The main table, one line per row then Total; money as exact decimals, currency in its own column."""
    table = data.tables[data.extra["main"]]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([k for k, _, _ in table.columns] + ["currency"])
        for r in table.rows:
            w.writerow([r.label, *(plain(r.values.get(k)) if r.values.get(k) is not None else ""
                                   for k, _, _ in table.value_columns()), data.currency])


def write_json(data: ReportData, path: Path) -> None:
    doc = {
        "report": data.name, "period": data.period, "currency": data.currency,
        "generated_at": data.generated_at.isoformat(), "notes": list(data.notes),
        "headline": {f.label: plain(f.value) for f in data.headline},
        "tables": {key: [{"label": r.label, "kind": r.kind, **{k: plain(v) for k, v in r.values.items()}}
                         for r in t.rows] for key, t in data.tables.items()},
    }
    calls = data.extra.get("calls")
    if calls is not None:
        frame = calls[[k for k, _, _ in CALL_COLUMNS] + ["department", "cost_center"]].copy()
        frame["start_utc"] = frame["start_utc"].map(lambda t: t.isoformat())
        frame["actual_cost"] = frame["actual_cost"].map(lambda v: None if v is None else str(v))
        doc["calls"] = frame.to_dict("records")
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def write_txt(data: ReportData, path: Path) -> None:
    """Headline and the main table as fixed-width text, for an email body or a terminal."""
    def fmt(value: object, kind: str) -> str:
        return fmt_value(value, kind, data.scale)

    lines = [f"{data.title} — {data.period} ({data.currency})", ""]
    lines += [f"  {f.label:<42}{fmt(f.value, f.kind):>18}" for f in data.headline]
    table = data.tables[data.extra["main"]]
    cells = [[h if kind != "money" else f"{h} ({data.currency})" for _, h, kind in table.columns]]
    cells += [[r.label, *(fmt(r.values.get(k), kind) for k, _, kind in table.value_columns())] for r in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines += ["", table.title, ""]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if kind == "text" else c.rjust(w)
                               for c, w, (_, _, kind) in zip(row, widths, table.columns)))
        if n == 0 or n == len(cells) - 2:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", *data.notes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


RENDERERS = {"xlsx": write_xlsx, "html": write_html, "csv": write_csv, "json": write_json, "txt": write_txt}


def render(name: str, formats: tuple[str, ...], data: ReportData, fmt: str, path: Path) -> Path:
    """Write *data* as *fmt* to *path* (the report's own file name)."""
    if fmt not in formats or fmt not in RENDERERS:
        raise ReportError(f"report '{name}' cannot render {fmt} (supported: {', '.join(formats)})")
    RENDERERS[fmt](data, path)
    return path
