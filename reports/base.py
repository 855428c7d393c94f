"""What a report type is, how report types are found, and how one is run.

A report type is a :class:`Report` subclass registered under the ``callcost.reports`` entry-point
group (``pyproject.toml``); the built-in ones are registered the same way a third-party package
would, so ``callcost report NAME`` never grows an ``if name == ...`` chain.

A report is built once into a :class:`ReportData` — the figures, format-free — and then rendered to
each requested format, so the xlsx and the HTML of one run cannot disagree.

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
from typing import Any, ClassVar, Literal

from warehouse.errors import CallcostError

__all__ = ["ENTRY_POINT_GROUP", "Figure", "Report", "ReportData", "ReportError", "ReportTable", "TableRow",
           "registered_reports", "run_report"]

ENTRY_POINT_GROUP = "callcost.reports"

Kind = Literal["count", "minutes", "money", "percent", "text"]


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
    values: dict[str, int | Decimal | None]
    kind: Literal["group", "unrated", "total"] = "group"


@dataclass(frozen=True)
class ReportTable:
    """A titled table: column keys with their display headers and kinds, then rows."""

    title: str
    columns: tuple[tuple[str, str, Kind], ...]  # (key, header, kind); the first is the row label
    rows: tuple[TableRow, ...]

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


class Report(ABC):
    """A named report type: builds its data for a period, renders it to each of its formats."""

    name: ClassVar[str]
    title: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]

    @abstractmethod
    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        """Compute the report's figures from the lake for *period*."""

    @abstractmethod
    def render(self, data: ReportData, fmt: str, out_dir: Path) -> Path:
        """Write *data* as *fmt* into *out_dir*; return the file written."""

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


def run_report(name: str, lake: str | os.PathLike[str], period: str, formats: list[str] | tuple[str, ...],
               out_dir: str | os.PathLike[str], currency: str) -> list[Path]:
    """Build report *name* for *period* once and render it to every format in *formats*.

    Formats are checked before any figure is computed, so a typo fails fast and writes nothing.
    """
    reports = registered_reports()
    if name not in reports:
        raise ReportError(f"unknown report '{name}' (installed: {', '.join(sorted(reports)) or 'none'})")
    report = reports[name]()
    wanted = [f.strip().lower() for f in formats if f.strip()]
    unsupported = [f for f in wanted if f not in report.formats]
    if unsupported:
        raise ReportError(f"report '{name}' cannot render {', '.join(unsupported)} "
                          f"(supported: {', '.join(report.formats)})")
    data = report.build(lake, period, currency)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [report.render(data, fmt, out) for fmt in dict.fromkeys(wanted)]
