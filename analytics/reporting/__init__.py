"""What reports and dashboards share to present figures: the report model, the registry of report
types, one renderer per output format (xlsx, HTML, CSV, JSON, text), the Jinja environment and the
number formatting.

Why here and not in ``reports``: dashboards may import analytics but not reports, and a figure should
read the same on a dashboard, in a workbook and in a mailed page.  ``reports`` keeps the report types
(plugins under the ``callcost.reports`` entry-point group) and their delivery and schedule; a report
type only builds its :class:`ReportData`.

* :mod:`analytics.reporting.model` — ``ReportData``, ``ReportTable``, ``TableRow``, ``Figure``, ``Listing``;
* :mod:`analytics.reporting.registry` — ``Report``, ``registered_reports``, ``run_report``;
* :mod:`analytics.reporting.renderers` — format → writer (``xlsx``, ``html``, ``text`` modules);
* :mod:`analytics.reporting.formatting` — ``format_value``, ``money_text`` … from Decimal/int.
"""

from analytics.reporting.model import Figure, Kind, Listing, ReportData, ReportError, ReportTable, TableRow
from analytics.reporting.registry import ENTRY_POINT_GROUP, Report, build_report, registered_reports, run_report

__all__ = ["ENTRY_POINT_GROUP", "Figure", "Kind", "Listing", "Report", "ReportData", "ReportError", "ReportTable",
           "TableRow", "build_report", "registered_reports", "run_report"]
