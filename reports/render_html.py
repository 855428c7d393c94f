"""Any report as one self-contained, printable HTML page (Jinja2): the email body and the archived copy.

Self-contained on purpose: the page is mailed and archived, so it loads nothing from anywhere (inline
CSS, no script, no font or image URL).  Charts are CSS bars — they need no script and they print.
``@media print`` keeps tables whole across pages and repeats each table's header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from decimal import Decimal
from pathlib import Path

import jinja2

from reports.render_text import format_value

if TYPE_CHECKING:  # annotations only: the model imports the renderers, not the other way
    from reports.base import ReportData, ReportTable

__all__ = ["bars", "render_html", "write_html"]

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def bars(table: ReportTable) -> list[dict]:
    """The table's first chart column per group row, as widths in percent of the largest magnitude."""
    if not table.chart:
        return []
    key = table.chart[0]
    groups = [r for r in table.rows if r.kind in ("group", "other") and isinstance(r.values.get(key), (int, Decimal))]
    top = max((abs(Decimal(r.values[key])) for r in groups), default=Decimal(0)) or Decimal(1)
    return [{"label": r.label, "value": r.values[key], "negative": r.values[key] < 0,
             "width": float(abs(Decimal(r.values[key])) * 100 / top)} for r in groups]


def render_html(data: ReportData) -> str:
    """The page as a string (the email body is exactly the file's content)."""
    def fmt(value: object, kind: str) -> str:
        return format_value(value, kind, data.scale)

    charts = {key: (t.columns, bars(t)) for key, t in data.tables.items() if t.chart}
    return _ENV.get_template("report.html.j2").render(data=data, fmt=fmt, charts=charts)


def write_html(data: ReportData, path: Path) -> None:
    path.write_text(render_html(data), encoding="utf-8")
