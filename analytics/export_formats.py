"""One writer per export format, each fed Arrow record batches one at a time (never the whole export).

Why the writers also shape the rows in SQL: DuckDB turns a batch into CSV-ready, JSON or fixed-width
text or HTML table rows in its vectorised engine (``to_json``, ``lpad``, ``replace``), so the Python
side only moves finished text; no per-row Python loop except in xlsx, where XlsxWriter's API is
per cell (and its ``constant_memory`` mode keeps only the current row in memory).

Money stays exact in every format: a decimal string in CSV, TXT, HTML and JSON (``"1.85"``, a
string because a JSON number is a float to most readers), ``decimal128`` in Parquet, and in xlsx the
cell's stored value is the exact decimal text (XlsxWriter writes a ``Decimal`` with ``%.16G``) shown
with the currency's decimals.  Timestamps are UTC; in the text formats ISO 8601 with ``Z``.

Writers register in :data:`WRITERS` by format name; :mod:`analytics.export` picks one.
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO, ClassVar

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import xlsxwriter

from warehouse.errors import CallcostError

__all__ = ["Column", "ExportError", "ExportInfo", "ExportWriter", "WRITERS", "text_sql"]

#: Excel's last row (1,048,576) less the header.
XLSX_MAX_ROWS = 1_048_575


class ExportError(CallcostError, ValueError):
    """An export that cannot be made as asked: unknown format or column, no calls, too big for the format."""


@dataclass(frozen=True)
class Column:
    """A column of the export: its name, kind (``money``, ``int``, ``timestamp``, ``date``, ``text``) and
    the width of its longest value as text (with the header), measured by the planning query."""

    name: str
    kind: str
    width: int = 0

    @property
    def quoted(self) -> str:
        return f'"{self.name}"'

    @property
    def numeric(self) -> bool:
        return self.kind in ("money", "int")


def text_sql(col: Column) -> str:
    """SQL rendering *col* as the text every text format shows (NULL stays NULL)."""
    if col.kind == "timestamp":
        return f"strftime({col.quoted} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')"
    if col.kind == "text":
        return col.quoted
    return f"CAST({col.quoted} AS VARCHAR)"  # DECIMAL → '1.85' at its scale, exactly


@dataclass(frozen=True)
class ExportInfo:
    """What a writer may print around the rows: a title, the row count and the exact totals."""

    title: str
    rows: int
    totals: dict[str, Decimal]
    scale: int


class ExportWriter(ABC):
    """Writes batches to an open binary file.  ``projection`` is the SQL select list it wants its batches in."""

    name: ClassVar[str]
    suffix: ClassVar[str]

    def __init__(self, fh: BinaryIO, columns: list[Column], info: ExportInfo) -> None:
        self.fh, self.columns, self.info = fh, columns, info

    def projection(self) -> str:
        return ", ".join(c.quoted for c in self.columns)

    @classmethod
    def check(cls, info: ExportInfo) -> None:
        """Refuse an export this format cannot hold, before the file is even opened."""

    @abstractmethod
    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None:
        """Finish the file (footer, zip directory); the file object itself is closed by the caller."""


class _LineWriter(ExportWriter):
    """Formats whose rows DuckDB renders to one text column ``line``; only the joining happens here."""

    separator = b"\n"

    def write_lines(self, batch: pa.RecordBatch, first: bool) -> None:
        lines = batch.column(0)
        joined = pa.compute.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines),
                                        self.separator.decode())
        if not first:
            self.fh.write(self.separator)
        self.fh.write(joined[0].as_py().encode("utf-8"))


class CsvWriter(ExportWriter):
    """RFC 4180 CSV with a header row; empty field = no value."""

    name, suffix = "csv", ".csv"

    def __init__(self, fh: BinaryIO, columns: list[Column], info: ExportInfo) -> None:
        super().__init__(fh, columns, info)
        self._writer: pa_csv.CSVWriter | None = None

    def projection(self) -> str:
        return ", ".join(f"{text_sql(c)} AS {c.quoted}" if c.kind == "timestamp" else c.quoted for c in self.columns)

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self._writer = pa_csv.CSVWriter(self.fh, batch.schema)
        self._writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class JsonWriter(_LineWriter):
    """A JSON array of objects, one per call; money and timestamps as strings, counts as numbers."""

    name, suffix = "json", ".json"
    separator = b",\n"

    def __init__(self, fh: BinaryIO, columns: list[Column], info: ExportInfo) -> None:
        super().__init__(fh, columns, info)
        self._first = True
        fh.write(b"[\n")

    def projection(self) -> str:
        fields = ", ".join(f"{c.quoted} := {c.quoted if c.kind in ('int', 'text') else text_sql(c)}"
                           for c in self.columns)
        return f"CAST(to_json(struct_pack({fields})) AS VARCHAR) AS line"

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.write_lines(batch, self._first)
            self._first = False

    def close(self) -> None:
        self.fh.write(b"\n]\n")


class TxtWriter(_LineWriter):
    """A fixed-width table for reading and diffing: numbers right-aligned, two spaces between columns."""

    name, suffix = "txt", ".txt"
    gap = "  "

    def __init__(self, fh: BinaryIO, columns: list[Column], info: ExportInfo) -> None:
        super().__init__(fh, columns, info)
        head = self.gap.join(c.name.rjust(c.width) if c.numeric else c.name.ljust(c.width) for c in columns)
        rule = self.gap.join("-" * c.width for c in columns)
        fh.write(f"{info.title}\n\n{head.rstrip()}\n{rule}\n".encode())
        self._first = True

    def projection(self) -> str:
        cells = [f"{'lpad' if c.numeric else 'rpad'}(coalesce({text_sql(c)}, ''), {c.width}, ' ')"
                 for c in self.columns]
        return f"rtrim(concat_ws('{self.gap}', {', '.join(cells)})) AS line"

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.write_lines(batch, self._first)
            self._first = False

    def close(self) -> None:
        totals = "  ".join(f"{k} {v}" for k, v in self.info.totals.items())
        self.fh.write(f"\n\n{self.info.rows} calls  {totals}\n".encode())


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 13px/1.35 system-ui, sans-serif; margin: 1.5em; color: #1d2733; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #d5dbe1; padding: 2px 6px; white-space: nowrap; }}
th {{ background: #eef2f6; position: sticky; top: 0; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
@media print {{ th {{ position: static; }} body {{ margin: 0; }} }}
</style></head><body>
<h1>{title}</h1>
<p>{summary}</p>
<table><thead><tr>{header}</tr></thead><tbody>
"""


class HtmlWriter(_LineWriter):
    """One self-contained, printable HTML page (inline CSS, no scripts) with the totals above the table."""

    name, suffix = "html", ".html"

    def __init__(self, fh: BinaryIO, columns: list[Column], info: ExportInfo) -> None:
        super().__init__(fh, columns, info)
        totals = ", ".join(f"{k.replace('_', ' ')} <b>{v}</b>" for k, v in info.totals.items())
        fh.write(_HTML_HEAD.format(title=html.escape(info.title), summary=f"{info.rows} calls; {totals}",
                                   header="".join(f"<th>{html.escape(c.name)}</th>" for c in columns)).encode())
        self._first = True

    def projection(self) -> str:
        def cell(c: Column) -> str:
            text = f"coalesce({text_sql(c)}, '')"
            if c.kind == "text":
                text = f"replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
            opening = '<td class="n">' if c.numeric else "<td>"
            return f"'{opening}' || {text} || '</td>'"

        return f"concat('<tr>', {', '.join(cell(c) for c in self.columns)}, '</tr>') AS line"

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.write_lines(batch, self._first)
            self._first = False

    def close(self) -> None:
        self.fh.write(b"\n</tbody></table>\n</body></html>\n")


class ParquetWriter(ExportWriter):
    """Parquet with the lake's own types: ``decimal128`` money, UTC timestamps (zstd)."""

    name, suffix = "parquet", ".parquet"

    def __init__(self, fh: BinaryIO, columns: list[Column], info: ExportInfo) -> None:
        super().__init__(fh, columns, info)
        self._writer: pq.ParquetWriter | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.fh, batch.schema, compression="zstd")
        self._writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class XlsxWriter(ExportWriter):
    """An Excel sheet: bold frozen header, autofilter, money in the currency's decimals, UTC date-times.

    Above ``constant_memory_rows`` rows the workbook streams (XlsxWriter's ``constant_memory``:
    each row is flushed to disk as soon as the next begins).
    """

    name, suffix = "xlsx", ".xlsx"
    constant_memory_rows: ClassVar[int] = 50_000

    def __init__(self, fh: BinaryIO, columns: list[Column], info: ExportInfo) -> None:
        super().__init__(fh, columns, info)
        self.check(info)
        self.streaming = info.rows > self.constant_memory_rows
        self.book = xlsxwriter.Workbook(fh, {
            "constant_memory": self.streaming, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "remove_timezone": True,
            "default_date_format": "yyyy-mm-dd hh:mm:ss"})
        self.sheet = self.book.add_worksheet("calls")
        decimals = "." + "0" * info.scale if info.scale else ""
        formats = {"money": self.book.add_format({"num_format": f"#,##0{decimals}"}),
                   "timestamp": self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
                   "date": self.book.add_format({"num_format": "yyyy-mm-dd"})}
        for i, c in enumerate(columns):
            width = 20 if c.kind == "timestamp" else min(max(c.width, len(c.name)) + 2, 50)
            self.sheet.set_column(i, i, width, formats.get(c.kind))
        self.sheet.write_row(0, 0, [c.name for c in columns], self.book.add_format({"bold": True, "bottom": 1}))
        self.sheet.freeze_panes(1, 0)
        self.sheet.autofilter(0, 0, max(info.rows, 1), len(columns) - 1)
        self.row = 1

    @classmethod
    def check(cls, info: ExportInfo) -> None:
        if info.rows > XLSX_MAX_ROWS:
            raise ExportError(f"{info.rows:,} calls do not fit one Excel sheet (at most {XLSX_MAX_ROWS:,} rows);"
                                " narrow the period or filters, or export csv or parquet")

    def write(self, batch: pa.RecordBatch) -> None:
        # Column-wise conversion to Python (one call per column), then XlsxWriter's per-row API.
        values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        write_row, row = self.sheet.write_row, self.row
        for r, cells in enumerate(zip(*values)):
            write_row(row + r, 0, cells)
        self.row += batch.num_rows

    def close(self) -> None:
        self.book.close()


#: Format name → writer class.
WRITERS: dict[str, type[ExportWriter]] = {w.name: w for w in (CsvWriter, JsonWriter, TxtWriter, HtmlWriter,
                                                               ParquetWriter, XlsxWriter)}
