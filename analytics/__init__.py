"""The analyst's API over the lake: calls into pandas, savings by site, carrier, department, call type.

Meant for a Jupyter notebook as much as for reports and dashboards (which build on it)::

    from analytics import select, summary, savings_figure
    s = summary("callcost-demo/lake", "2026-10")
    s.by_site                      # calls, minutes, actual_cost, reference_cost, savings, unrated_calls
    savings_figure(s.by_site, by="site")

The rating engine lives in :mod:`analytics.rating` (classification, numbering, tariffs, directory,
pricing): the collector imports that sub-package alone, so the names below are loaded lazily — the
collector never pays for DuckDB or plotly it does not use.

Money is ``Decimal`` throughout; this package reads the lake only and never imports reports,
dashboards or the collector.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name → the module that defines it (imported on first use, PEP 562).
_EXPORTS: dict[str, str] = {
    "PeriodError": "analytics.calls",
    "available_months": "analytics.calls",
    "month_range": "analytics.calls",
    "Summary": "analytics.savings",
    "savings_figure": "analytics.savings",
    "summary": "analytics.savings",
    "carrier_whatif": "analytics.whatif",
    "least_cost": "analytics.whatif",
    "whatif_figure": "analytics.whatif",
    "CallSelection": "analytics.selection",
    "FilterValueError": "analytics.selection",
    "select": "analytics.selection",
    "call_type_mix": "analytics.breakdowns",
    "savings_by": "analytics.breakdowns",
    "top_destinations": "analytics.breakdowns",
    "top_talkers": "analytics.breakdowns",
    "daily_figure": "analytics.charts",
    "heatmap_figure": "analytics.charts",
    "mix_figure": "analytics.charts",
    "top_figure": "analytics.charts",
    "ExportError": "analytics.export",
    "export_calls": "analytics.export",
    "daily_savings": "analytics.timeseries",
    "hourly_heatmap": "analytics.timeseries",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'analytics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from analytics.breakdowns import call_type_mix, savings_by, top_destinations, top_talkers
    from analytics.calls import PeriodError, available_months, month_range
    from analytics.charts import daily_figure, heatmap_figure, mix_figure, top_figure
    from analytics.export import ExportError, export_calls
    from analytics.savings import Summary, savings_figure, summary
    from analytics.selection import CallSelection, FilterValueError, select
    from analytics.timeseries import daily_savings, hourly_heatmap
    from analytics.whatif import carrier_whatif, least_cost, whatif_figure
