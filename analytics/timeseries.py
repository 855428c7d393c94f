"""When the calls happen and what they cost: savings day by day, and a weekday × hour heatmap.

Two clocks, on purpose:

* :func:`daily_savings` counts days by the lake's **UTC** date partitions — the same boundaries as a
  month in :func:`analytics.calls.month_range` — so the days of a month add up to the month's total
  to the cent.  Days without calls are there with zeros (a gap in a chart is a real gap).
* :func:`hourly_heatmap` uses the **local wall-clock time of the call's site** (its ``timezone`` in the
  config), because "busy hour" means 10:00 in New York and 10:00 in Shanghai, not 14:00 UTC and 02:00
  UTC.  Daylight-saving changes are handled by DuckDB's time-zone database.

    >>> from analytics.timeseries import daily_savings, hourly_heatmap   # doctest: +SKIP
    >>> daily_savings(sel).savings.sum() == summary(lake, "2026-10").savings   # doctest: +SKIP
    True
"""

from __future__ import annotations

import pandas as pd

from analytics.aggregates import FIGURES_SQL, MINUTES_SQL, rated_sum
from analytics.savings import BREAKDOWN_COLUMNS
from analytics.selection import CallSelection

__all__ = ["HEATMAP_VALUES", "WEEKDAYS", "daily_savings", "hourly_heatmap"]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: What a heatmap cell can hold.
HEATMAP_VALUES = {
    "calls": "count(*)::BIGINT",
    "minutes": MINUTES_SQL,
    "actual_cost": rated_sum("actual_cost"),
    "savings": rated_sum("savings"),
}

#: :data:`HEATMAP_VALUES` over the per-quarter-hour sums of :func:`hourly_heatmap` (same figures: sums of sums,
#: minutes rounded once per cell from the summed seconds).
_HEATMAP_REGROUP = {
    "calls": "sum(n)::BIGINT",
    "minutes": "CAST((coalesce(sum(s), 0) * 100 + 30) // 60 AS DECIMAL(18, 0)) * 0.01",
    "actual_cost": "coalesce(sum(actual_cost), 0)",
    "savings": "coalesce(sum(savings), 0)",
}


def daily_savings(sel: CallSelection) -> pd.DataFrame:
    """One row per UTC day of the selection: the usual figures plus ``cumulative_savings``.

    The days run from the selection's start to its end (from the first to the last call when it is
    open-ended), each present even without calls.  Index: ``date`` (``datetime.date``).

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.timeseries import daily_savings
        days = daily_savings(select(open_enterprise(), "2026-10", carrier="acme"))
        days[["calls", "savings", "cumulative_savings"]].tail()
    """
    lo = f"DATE '{sel.start}'" if sel.start else "(SELECT min(date) FROM {calls})"
    hi = f"DATE '{sel.end}'" if sel.end else "(SELECT max(date) FROM {calls})"
    table = sel.query(
        f"WITH per_day AS (SELECT date, {FIGURES_SQL} FROM {{calls}} GROUP BY date), "
        f"days AS (SELECT CAST(d AS DATE) AS date FROM generate_series(CAST({lo} AS TIMESTAMP), "
        f"CAST({hi} AS TIMESTAMP), INTERVAL 1 DAY) AS g(d)) "
        "SELECT days.date, coalesce(calls, 0)::BIGINT AS calls, coalesce(minutes, 0) AS minutes, "
        "coalesce(actual_cost, 0) AS actual_cost, coalesce(reference_cost, 0) AS reference_cost, "
        "coalesce(savings, 0) AS savings, coalesce(unrated_calls, 0)::BIGINT AS unrated_calls, "
        "sum(coalesce(savings, 0)) OVER (ORDER BY days.date) AS cumulative_savings "
        "FROM days LEFT JOIN per_day USING (date) ORDER BY days.date")
    df = table.to_pandas().set_index("date")
    return df[[*BREAKDOWN_COLUMNS, "cumulative_savings"]]


def hourly_heatmap(sel: CallSelection, value: str = "calls") -> pd.DataFrame:
    """A 7 × 24 table: weekday (``Mon`` … ``Sun``) by hour of the day (0–23) in the site's local time.

    *value* is ``calls``, ``minutes``, ``actual_cost`` or ``savings`` (money: rated calls, ``Decimal``);
    an hour without calls holds 0.  Sites missing from the config (a bare lake) count in UTC.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.timeseries import hourly_heatmap
        hourly_heatmap(select(open_enterprise(), "2026-10", site="SHA"), "minutes")
    """
    if value not in HEATMAP_VALUES:
        raise ValueError(f"heatmap value '{value}' is not one of {', '.join(HEATMAP_VALUES)}")
    # Sum per site and UTC quarter-hour first (a cheap integer key), then put the few thousand quarters on
    # the local clock: every zone's offset is a whole number of quarter-hours and changes on one, so all
    # calls of a quarter share its local weekday and hour — and time-zone arithmetic per call is the slow part.
    local = sel.local_time_sql("to_timestamp(q * 900)")
    table = sel.query(
        "WITH quarters AS (SELECT site, epoch_ms(start_utc) // 900000 AS q, count(*) AS n, "
        "sum(duration_s) AS s, sum(actual_cost) FILTER (WHERE rating_status = 'rated') AS actual_cost, "
        "sum(savings) FILTER (WHERE rating_status = 'rated') AS savings FROM {calls} GROUP BY ALL), "
        f"cells AS (SELECT isodow({local}) AS dow, hour({local}) AS hour, {_HEATMAP_REGROUP[value]} AS v "
        "FROM quarters GROUP BY 1, 2), "
        "grid AS (SELECT d.dow, h.hour FROM range(1, 8) AS d(dow), range(0, 24) AS h(hour)) "
        "SELECT grid.dow, grid.hour, coalesce(v, 0) AS v FROM grid LEFT JOIN cells USING (dow, hour) "
        "ORDER BY grid.dow, grid.hour")
    long = table.to_pandas()
    grid = long.pivot(index="dow", columns="hour", values="v")
    grid.index = pd.Index([WEEKDAYS[d - 1] for d in grid.index], name="weekday")
    grid.columns = pd.Index([int(h) for h in grid.columns], name="hour")
    return grid
