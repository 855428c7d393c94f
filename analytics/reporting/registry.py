"""What a report type is, how report types are found, and how one is run.

A report type is a :class:`Report` subclass registered under the ``callcost.reports`` entry-point
group (``pyproject.toml``); the built-in ones (package ``reports``) are registered the same way a
third-party package would, so ``callcost report NAME`` never grows an ``if name == ...`` chain.

A report type only builds its data: one :class:`~analytics.reporting.model.ReportData`, format-free,
rendered to each requested format by the shared renderers (:mod:`analytics.reporting.renderers`), so
the xlsx and the HTML of one run cannot disagree.  A report that needs the enterprise config (trunk
groups, alert thresholds) or parameters (``top-n``: ``by=cost``) gets them as
``Report(config=…, params=…)``.

    >>> from analytics.reporting import run_report
    >>> run_report("monthly-savings", "callcost-demo/lake", "2026-10", ["xlsx", "html"], "out", "USD")  # doctest: +SKIP
    [PosixPath('out/monthly-savings-2026-10.xlsx'), PosixPath('out/monthly-savings-2026-10.html')]

An empty period (no calls at all) still writes its report — a month's schedule should not fail on a
quiet month — but :func:`run_report` logs a warning (``callcost report`` prints it on stderr) so an
empty report is never mistaken for a quiet one by accident; the exit code stays 0.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from dataclasses import replace

from analytics.reporting.i18n import normalize_lang
from analytics.reporting.model import ReportData, ReportError
from analytics.selection import select
from analytics.reporting.renderers import FORMATS, render

if TYPE_CHECKING:
    from warehouse.config import Enterprise

__all__ = ["ENTRY_POINT_GROUP", "Report", "build_report", "empty_period_warning", "registered_reports", "run_report"]

ENTRY_POINT_GROUP = "callcost.reports"

log = logging.getLogger("callcost.reports")


class Report(ABC):
    """A named report type: builds its data for a period, renders it to each of its formats.

    ``params`` declares the parameters the type accepts (name → help text); a value given for any
    other name is refused, so ``--param bye=cost`` fails instead of being ignored.  ``lang`` is the
    language the report is written in (``en``, ``zh_CN``): the figures do not depend on it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    formats: ClassVar[tuple[str, ...]] = FORMATS
    params: ClassVar[dict[str, str]] = {}

    def __init__(self, config: Enterprise | None = None, params: dict[str, str] | None = None,
                 lang: str | None = None) -> None:
        self.config = config
        self.lang = normalize_lang(lang)
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
        if fmt not in self.formats:
            raise ReportError(f"report '{self.name}' cannot render {fmt} (supported: {', '.join(self.formats)})")
        return render(data, fmt, Path(out_dir) / self.file_name(data, fmt))

    def file_name(self, data: ReportData, fmt: str) -> str:
        """``<name>-<period>.<ext>`` (``<name>-<period>.<lang>.<ext>`` in another language than English):
        stable, so a scheduled run overwrites last run's file for that month, and the English and Chinese
        copies of one run sit side by side."""
        suffix = "" if data.lang == "en" else f".{data.lang}"
        return f"{self.name}-{data.period}{suffix}.{fmt}"


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
                 params: dict[str, str] | None = None, lang: str | None = None) -> Report:
    """An instance of report type *name*, given the config and parameters it may need, writing in *lang*."""
    reports = registered_reports()
    if name not in reports:
        raise ReportError(f"unknown report '{name}' (installed: {', '.join(sorted(reports)) or 'none'})")
    return reports[name](config=config, params=params, lang=lang)


def run_report(name: str, lake: str | os.PathLike[str], period: str, formats: list[str] | tuple[str, ...],
               out_dir: str | os.PathLike[str], currency: str, *, config: Enterprise | None = None,
               params: dict[str, str] | None = None, lang: str | None = None) -> list[Path]:
    """Build report *name* for *period* once and render it to every format in *formats*, in *lang*.

    Formats (and the language) are checked before any figure is computed, so a typo fails fast and
    writes nothing.
    """
    report = build_report(name, config=config, params=params, lang=lang)
    wanted = [f.strip().lower() for f in formats if f.strip()]
    unsupported = [f for f in wanted if f not in report.formats]
    if unsupported:
        raise ReportError(f"report '{name}' cannot render {', '.join(unsupported)} "
                          f"(supported: {', '.join(report.formats)})")
    data = replace(report.build(lake, period, currency), lang=report.lang)
    if select(lake, period, check=False).count() == 0:
        log.warning(empty_period_warning(name, period, lake))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [report.render(data, fmt, out) for fmt in dict.fromkeys(wanted)]


def empty_period_warning(name: str, period: str, lake: str | os.PathLike[str]) -> str:
    """What an empty report says about itself: which period had no calls, where we looked, what to check."""
    return (f"warning: report '{name}': the period {period} has no calls in the lake {lake}; the report is written "
            f"empty (zeros, no rows). Check the period, or import the month's CDRs first (callcost import).")
