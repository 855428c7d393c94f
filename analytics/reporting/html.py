"""Any report as one self-contained, printable HTML page (Jinja2): the email body and the archived copy.

Self-contained on purpose: the page is mailed and archived, so it loads nothing from anywhere (inline
CSS, no script, no font or image URL).  Charts are CSS bars — they need no script and they print.
``@media print`` keeps tables whole across pages and repeats each table's header.

The Jinja environment exists once, here (:data:`ENV`, templates in ``analytics/reporting/templates``).
A report's page is the generic ``report.html.j2`` unless its data names a template laid out by hand;
every template gets the same context: ``data``, ``fmt``, ``charts``, ``bars``, ``tables`` and
``listing_rows``, plus the reader's language: ``_`` (translate a message: a template's own text, or a
title, header or label of the data — English message ids), ``tr`` (the
:class:`~analytics.reporting.i18n.Translator`: ``tr.period``, ``tr.money``…) and ``html_lang`` (``zh-CN``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import jinja2
import markupsafe
import pandas as pd

from analytics.reporting.formatting import UNPRICED, format_series, format_value
from analytics.reporting.i18n import translator

if TYPE_CHECKING:  # annotations only
    from analytics.reporting.model import Listing, ReportData, ReportTable

__all__ = ["ENV", "bars", "listing_rows", "render_html", "write_html"]

#: The one Jinja environment of reports and dashboards: autoescaped, strict about undefined names.
ENV = jinja2.Environment(loader=jinja2.PackageLoader("analytics.reporting", "templates"), autoescape=True,
                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def bars(table: ReportTable, key: str | None = None, kinds: Iterable[str] = ("group", "other")) -> list[dict]:
    """Column *key* (default: the table's first chart column) per row of *kinds*, as widths in percent of
    the largest magnitude."""
    key = key or (table.chart[0] if table.chart else None)
    if key is None:
        return []
    wanted = tuple(kinds)
    groups = [r for r in table.rows if r.kind in wanted and isinstance(r.values.get(key), (int, Decimal))]
    top = max((abs(Decimal(r.values[key])) for r in groups), default=Decimal(0)) or Decimal(1)
    return [{"label": r.label, "value": r.values[key], "negative": r.values[key] < 0,
             "width": float(abs(Decimal(r.values[key])) * 100 / top)} for r in groups]


def _escaped(text: pd.Series) -> pd.Series:
    """``markupsafe.escape`` of a whole column of text at once."""
    return (text.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False).str.replace('"', "&#34;", regex=False)
            .str.replace("'", "&#39;", regex=False))


def listing_rows(listing: Listing, by: str, scale: int = 2, unpriced: str = UNPRICED) -> dict[object, markupsafe.Markup]:
    """The listing's rows as ``<tr>`` lines, grouped by column *by*: built a column at a time, so a
    statement of 100,000 calls renders in a fraction of a second (a Jinja loop per cell takes seconds).

    Each group is its rows joined by a newline and the table body's indent, ready for
    ``{{ rows[key] }}`` on an indented line of a template.
    """
    frame = listing.frame
    if not len(frame):
        return {}
    html = pd.Series("<tr>", index=frame.index)
    for key, _, kind in listing.columns:
        html = html + f'<td class="{kind}">' + _escaped(format_series(frame[key], kind, scale, unpriced)) + "</td>"
    html = html + "</tr>"
    grouped = html.groupby(frame[by].to_numpy(), sort=False).agg("\n    ".join)
    return {(k.item() if hasattr(k, "item") else k): markupsafe.Markup(v) for k, v in grouped.items()}


def render_html(data: ReportData) -> str:
    """The page as a string (the email body is exactly the file's content)."""
    tr = translator(data.lang)

    def fmt(value: object, kind: str) -> str:
        return format_value(value, kind, data.scale, tr)

    def rows(listing: Listing, by: str) -> dict[object, markupsafe.Markup]:
        return listing_rows(listing, by, data.scale, tr.gettext(UNPRICED))

    charts = {key: (t.columns, bars(t)) for key, t in data.tables.items() if t.chart}
    template = ENV.get_template(data.template or "report.html.j2")
    return template.render(data=data, fmt=fmt, charts=charts, bars=bars, tables=list(data.tables.values()),
                           listing_rows=rows, _=tr.text, gettext=tr.gettext, tr=tr,
                           html_lang=data.lang.replace("_", "-"))


def write_html(data: ReportData, path: Path) -> None:
    path.write_text(render_html(data), encoding="utf-8")
