"""Named report types over the analytics layer, rendered to files (xlsx, HTML, CSV, JSON, text).

Report types are registered under the ``callcost.reports`` entry-point group; :func:`run_report`
builds one for a period and renders each requested format.  See :mod:`reports.base`.
"""

from reports.base import Report, ReportData, ReportError, registered_reports, run_report

__all__ = ["Report", "ReportData", "ReportError", "registered_reports", "run_report"]
