"""What a report type is, how report types are found, and how one is run.

A report type is a :class:`Report` subclass registered under the ``callcost.reports`` entry-point
group (``pyproject.toml``); the built-in ones are registered the same way a third-party package
would, so ``callcost report NAME`` never grows an ``if name == ...`` chain.

A report is built once into a :class:`ReportData` — the figures, format-free — and then rendered to
each requested format, so the xlsx and the HTML of one run cannot disagree.  :meth:`Report.render`
renders any ``ReportData`` through the shared renderers (``reports.render_xlsx``, ``render_html``,
``render_text``): a new report type only builds its data.  A report that needs the enterprise config
(trunk groups, alert thresholds) or parameters (``top-n``: ``by=cost``) gets them as
``Report(config=…, params=…)``.

    >>> from reports.base import run_report
    >>> run_report("monthly-savings", "callcost-demo/lake", "2026-10", ["xlsx", "html"], "out", "USD")  # doctest: +SKIP
    [PosixPath('out/monthly-savings-2026-10.xlsx'), PosixPath('out/monthly-savings-2026-10.html')]
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from warehouse.errors import CallcostError

if TYPE_CHECKING:
    from warehouse.config import Enterprise

__all__ = ["ENTRY_POINT_GROUP", "Figure", "Report", "ReportData", "ReportError", "ReportTable", "TableRow",
           "build_report", "registered_reports", "run_report"]

ENTRY_POINT_GROUP = "callcost.reports"

Kind = Literal["count", "minutes", "money", "percent", "rate", "text"]  # rate: money per minute, 4 decimals


class ReportError(CallcostError, ValueError):
    """An unknown report name, or a format the report type cannot render."""


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
    *summary* table and gets one in the workbook and a bar list in the HTML.  ``sheet`` is the
    worksheet name (default: the title, cut to Excel's 31 characters).
    """

    title: str
    columns: tuple[tuple[str, str, Kind], ...]  # (key, header, kind); the first is the row label
    rows: tuple[TableRow, ...]
    chart: tuple[str, ...] = ()
    sheet: str | None = None

    def value_columns(self) -> tuple[tuple[str, str, Kind], ...]:
        return self.columns[1:]


@dataclass(frozen=True)
class ReportData:
    """Everything a renderer needs, and nothing about any format."""

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
    primary: str | None = None  # the table CSV and text carry (default: the first)

    def primary_table(self) -> ReportTable:
        """The table a one-table format (CSV, the text body) shows."""
        if self.primary is not None:
            return self.tables[self.primary]
        return next(iter(self.tables.values()))


class Report(ABC):
    """A named report type: builds its data for a period, renders it to each of its formats.

    ``params`` declares the parameters the type accepts (name → help text); a value given for any
    other name is refused, so ``--param bye=cost`` fails instead of being ignored.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    formats: ClassVar[tuple[str, ...]] = ("xlsx", "html", "csv", "json", "txt")
    params: ClassVar[dict[str, str]] = {}

    def __init__(self, config: Enterprise | None = None, params: dict[str, str] | None = None) -> None:
        self.config = config
        given = dict(params or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            accepted = ", ".join(sorted(self.params)) or "none"
            raise ReportError(f"report '{self.name}' has no parameter {', '.join(unknown)} (accepted: {accepted})")
        self.options = given

    @abstractmethod
    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        """Compute the report's figures from the lake for *period*."""

    def render(self, data: ReportData, fmt: str, out_dir: Path) -> Path:
        """Write *data* as *fmt* into *out_dir* with the shared renderers; return the file written."""
        from reports.render import RENDERERS

        if fmt not in self.formats or fmt not in RENDERERS:
            raise ReportError(f"report '{self.name}' cannot render {fmt} (supported: {', '.join(self.formats)})")
        path = Path(out_dir) / self.file_name(data, fmt)
        RENDERERS[fmt](data, path)
        return path

    def file_name(self, data: ReportData, fmt: str) -> str:
        """``<name>-<period>.<ext>``: stable, so a scheduled run overwrites last run's file for that month."""
        return f"{self.name}-{data.period}.{fmt}"


def registered_reports() -> dict[str, type[Report]]:
    """Report types installed under the ``callcost.reports`` entry-point group, by name."""
    found: dict[str, type[Report]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Report)):
            raise ReportError(f"entry point '{ep.name} = {ep.value}' in group {ENTRY_POINT_GROUP} is not a Report class")
        found[ep.name] = cls
    return found


def build_report(name: str, *, config: Enterprise | None = None,
                 params: dict[str, str] | None = None) -> Report:
    """An instance of report type *name*, given the config and parameters it may need."""
    reports = registered_reports()
    if name not in reports:
        raise ReportError(f"unknown report '{name}' (installed: {', '.join(sorted(reports)) or 'none'})")
    return reports[name](config=config, params=params)


def run_report(name: str, lake: str | os.PathLike[str], period: str, formats: list[str] | tuple[str, ...],
               out_dir: str | os.PathLike[str], currency: str, *, config: Enterprise | None = None,
               params: dict[str, str] | None = None) -> list[Path]:
    """Build report *name* for *period* once and render it to every format in *formats*.

    Formats are checked before any figure is computed, so a typo fails fast and writes nothing.
    """
    report = build_report(name, config=config, params=params)
    wanted = [f.strip().lower() for f in formats if f.strip()]
    unsupported = [f for f in wanted if f not in report.formats]
    if unsupported:
        raise ReportError(f"report '{name}' cannot render {', '.join(unsupported)} "
                          f"(supported: {', '.join(report.formats)})")
    data = report.build(lake, period, currency)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [report.render(data, fmt, out) for fmt in dict.fromkeys(wanted)]
