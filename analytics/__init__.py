"""The analyst's API over the lake: calls into pandas, savings by site, carrier, department, call type.

Meant for a Jupyter notebook as much as for reports and dashboards (which build on it)::

    from analytics import load_calls, summary, savings_figure
    s = summary("callcost-demo/lake", "2026-10")
    s.by_site                      # calls, minutes, actual_cost, reference_cost, savings, unrated_calls
    savings_figure(s.by_site, by="site")

Money is ``Decimal`` throughout; this package reads the lake only and never imports reports,
dashboards or the collector.
"""

from analytics.calls import PeriodError, available_months, load_calls, month_range
from analytics.savings import Summary, savings_figure, summary
from analytics import explore
from analytics.explore import *  # noqa: F403 - select, breakdowns, time series, charts
from analytics.whatif import carrier_whatif, least_cost, whatif_figure

__all__ = ["PeriodError", "Summary", "available_months", "load_calls", "month_range", "savings_figure", "summary",
           "carrier_whatif", "least_cost", "whatif_figure"]
__all__ += explore.__all__
