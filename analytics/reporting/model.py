"""The report model: what a report *is*, format-free — headline figures, titled tables, call listings.

A report type (``reports/``) builds one :class:`ReportData`; the shared renderers of this package
(:mod:`analytics.reporting.renderers`) turn it into each format.  Nothing here knows a format, and no
renderer knows a report type, so a new report type renders to every format without a line of
rendering code, and the xlsx and the HTML of one run cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

from warehouse.errors import CallcostError

__all__ = ["Figure", "Kind", "Listing", "ReportData", "ReportError", "ReportTable", "TableRow"]

#: How a value is shown; ``rate`` is money per minute (4 decimals).
Kind = Literal["count", "minutes", "money", "percent", "rate", "text"]


class ReportError(CallcostError, ValueError):
    """An unknown report name, parameter or format, or a lake priced in another currency."""


@dataclass(frozen=True)
class Figure:
    """One headline figure: a label, an exact value and how to show it."""

    label: str
    value: int | Decimal | str | None
    kind: Kind


@dataclass(frozen=True)
class TableRow:
    """One line of a breakdown table; ``kind`` says whether it is a group, the unrated line or the total."""

    label: str
    values: dict[str, int | Decimal | str | None]
    kind: Literal["group", "unrated", "total", "other"] = "group"


@dataclass(frozen=True)
class ReportTable:
    """A titled table: column keys with their display headers and kinds, then rows.

    ``chart`` names value columns to draw (a bar chart per group row): a table with a chart is a
    *summary* table and gets one in the workbook and a bar list in the HTML; ``chart_stacked`` stacks
    the columns (the parts of one whole), ``chart_title`` replaces the table's title on the chart.
    ``sheet`` is the worksheet name (default: the title, cut to Excel's 31 characters).
    """

    title: str
    columns: tuple[tuple[str, str, Kind], ...]  # (key, header, kind); the first is the row label
    rows: tuple[TableRow, ...]
    chart: tuple[str, ...] = ()
    sheet: str | None = None
    chart_stacked: bool = False
    chart_title: str | None = None

    def value_columns(self) -> tuple[tuple[str, str, Kind], ...]:
        return self.columns[1:]


@dataclass(frozen=True)
class Listing:
    """Rows one per call (a statement's call list): a frame, the columns shown, and how it is split.

    The workbook gets one sheet per value of ``sheet_by`` (``"<title> <value>"``); JSON carries the
    shown columns plus ``carry`` (the columns that say where a row belongs).  Money columns hold exact
    ``Decimal`` or ``None`` (unrated: unknown, never 0).
    """

    title: str
    frame: pd.DataFrame
    columns: tuple[tuple[str, str, Kind], ...]  # (frame column, header, kind)
    sheet_by: str | None = None
    carry: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportData:
    """Everything a renderer needs, and nothing about any format.

    ``primary`` is the table CSV and text carry (default: the first); ``summary_tables`` are shown on
    the workbook's Summary sheet under the headline instead of on sheets of their own; ``template``
    is the HTML page (a template of :mod:`analytics.reporting`, default the generic one) for a report
    whose page is laid out by hand.  Titles, headers, labels and notes are English message ids (marked
    with ``N_``/``Msg`` where they are written); the renderers translate them into ``lang``.
    """

    name: str
    title: str
    period: str
    currency: str
    scale: int  # decimals of money: the currency's minor unit, as stored in the lake
    headline: tuple[Figure, ...]
    tables: dict[str, ReportTable]  # key → table, in display order
    notes: tuple[str, ...] = ()
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0))
    extra: dict[str, Any] = field(default_factory=dict)
    primary: str | None = None
    summary_tables: tuple[str, ...] = ()
    listings: dict[str, Listing] = field(default_factory=dict)
    template: str | None = None
    #: The language the renderers write (``analytics.reporting.i18n.LANGS``); the figures are the same.
    lang: str = "en"

    def primary_table(self) -> ReportTable:
        """The table a one-table format (CSV, the text body) shows."""
        if self.primary is not None:
            return self.tables[self.primary]
        return next(iter(self.tables.values()))
