"""Everything a notebook needs to explore calls, in one import (``from analytics.explore import *``).

The pieces live in small modules — :mod:`analytics.selection` (which calls), :mod:`analytics.breakdowns`
(by what), :mod:`analytics.timeseries` (when), :mod:`analytics.charts` (pictures),
:mod:`analytics.export` (files) — and this module gathers their public names so an analyst does not
have to know the layout.  ``analytics`` re-exports the same names.

Example (against the demo lake)::

    from analytics.notebook import open_enterprise
    from analytics.explore import *
    ent = open_enterprise()
    oct_nyc = select(ent, "2026-10", site="NYC")
    savings_by(oct_nyc, "carrier")
    heatmap_figure(hourly_heatmap(oct_nyc))
"""

from __future__ import annotations

from analytics.breakdowns import call_type_mix, savings_by, top_destinations, top_talkers
from analytics.charts import daily_figure, heatmap_figure, mix_figure, top_figure
from analytics.export import ExportError, export_calls
from analytics.selection import CallSelection, FilterValueError, select
from analytics.timeseries import daily_savings, hourly_heatmap

__all__ = ["CallSelection", "ExportError", "FilterValueError", "call_type_mix", "daily_figure", "daily_savings",
           "export_calls", "heatmap_figure", "hourly_heatmap", "mix_figure", "savings_by", "select",
           "top_destinations", "top_figure", "top_talkers"]
