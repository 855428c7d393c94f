"""The tables a page shows — the same objects its downloads are written from.

A :class:`Table` is a DataFrame plus a declared list of :class:`Column` (key, heading, kind), so the
screen, the CSV and the xlsx cannot disagree: :func:`html_table` renders it, :func:`csv_bytes` and
:func:`xlsx_bytes` write it.  Money stays ``Decimal`` to the end: the CSV holds its exact text
(``1234.50``), the xlsx a number in the currency's decimals (what a spreadsheet user sums).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
import xlsxwriter
from dash import dcc, html

from dashboards.format import MISSING, text_of

__all__ = ["Column", "Table", "csv_bytes", "html_table", "xlsx_bytes"]

#: Rows shown on screen at most (the download has them all).
SCREEN_ROWS = 500


@dataclass(frozen=True)
class Column:
    """One column: *key* in the frame, *label* on screen and in files, *kind* for formatting."""

    key: str
    label: str
    kind: str = "text"  # text | count | money | amount | minutes | pct | datetime


@dataclass(frozen=True)
class Table:
    """A named table of a page (``name`` is its file name in downloads)."""

    name: str
    title: str
    frame: pd.DataFrame
    columns: tuple[Column, ...]
    currency: str | None = None
    scale: int = 2
    total: Mapping[str, object] | None = field(default=None)

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def value(self, row: int, key: str) -> object:
        return self.frame[key].iloc[row]


def _cell(value: object, col: Column, table: Table) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return MISSING
    if col.kind == "datetime":
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    kind = "amount" if col.kind == "money" else col.kind  # the heading carries the currency
    return text_of(value, kind, currency=table.currency, scale=table.scale)


def heading(col: Column, table: Table) -> str:
    return f"{col.label} ({table.currency})" if col.kind == "money" and table.currency else col.label


def html_table(table: Table, *, links: Mapping[str, Callable[[Mapping[str, object]], str]] | None = None,
               row_class: Callable[[Mapping[str, object]], str] | None = None) -> html.Div:
    """The table on screen (first ``SCREEN_ROWS`` rows), scrolling sideways inside its box on a phone.

    *links* maps a column key to a function of the row giving an ``href`` (drill-down), or ``None``
    for a row that links nowhere.
    """
    links = links or {}
    head = html.Thead(html.Tr([html.Th(heading(c, table), className=f"k-{c.kind}") for c in table.columns]))
    records = table.frame.head(SCREEN_ROWS).to_dict("records")
    rows = []
    for rec in records:
        cells = []
        for c in table.columns:
            text = _cell(rec.get(c.key), c, table)
            href = links[c.key](rec) if c.key in links else None
            content = dcc.Link(text, href=href) if href else text
            cells.append(html.Td(content, className=f"k-{c.kind}"))
        rows.append(html.Tr(cells, className=row_class(rec) if row_class else None))
    if table.total is not None:
        rows.append(html.Tr([html.Td(_cell(table.total.get(c.key), c, table) if c.key in table.total else "",
                                     className=f"k-{c.kind}") for c in table.columns], className="total"))
    more = []
    if len(table.frame) > SCREEN_ROWS:
        more = [html.P(f"First {SCREEN_ROWS:,} of {len(table.frame):,} rows shown; the download has them all.",
                       className="note")]
    return html.Div([html.Div(html.Table([head, html.Tbody(rows)], className="figures", id=f"table-{table.name}"),
                              className="table-wrap"), *more])


def _plain(value: object, col: Column) -> object:
    """A value for a file: exact text for money (CSV) / the value itself; missing is empty."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if col.kind == "datetime":
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if col.kind in ("count",):
        return int(value)
    return value


def _rows(table: Table) -> list[list[object]]:
    frame = table.frame
    values = [[_plain(v, c) for v in (frame[c.key] if c.key in frame else [None] * len(frame))] for c in table.columns]
    rows = [list(r) for r in zip(*values)]
    if table.total is not None:
        rows.append([_plain(table.total.get(c.key), c) if c.key in table.total else
                     ("Total" if i == 0 else None) for i, c in enumerate(table.columns)])
    return rows


def csv_bytes(table: Table) -> bytes:
    """The table as UTF-8 CSV with a header line; money as exact decimal text, missing as empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([heading(c, table) for c in table.columns])
    for row in _rows(table):
        writer.writerow(["" if v is None else (format(v, "f") if isinstance(v, Decimal) else v) for v in row])
    return out.getvalue().encode("utf-8")


def xlsx_bytes(tables: Sequence[Table]) -> bytes:
    """The tables as one workbook, a sheet each; money as numbers in the currency's decimals."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    bold = book.add_format({"bold": True, "bottom": 1})
    used: set[str] = set()
    for table in tables:
        name = table.name[:31]
        while name in used:
            name = name[:29] + f"{len(used):02d}"
        used.add(name)
        sheet = book.add_worksheet(name)
        decimals = "." + "0" * table.scale if table.scale else ""
        money = book.add_format({"num_format": f"#,##0{decimals}"})
        for i, c in enumerate(table.columns):
            sheet.set_column(i, i, max(12, len(heading(c, table)) + 2), money if c.kind in ("money", "amount") else None)
        sheet.write_row(0, 0, [heading(c, table) for c in table.columns], bold)
        for r, row in enumerate(_rows(table), start=1):
            sheet.write_row(r, 0, row)
        sheet.freeze_panes(1, 0)
    if not tables:
        book.add_worksheet("empty").write(0, 0, "nothing to download for this view")
    book.close()
    return buf.getvalue()
