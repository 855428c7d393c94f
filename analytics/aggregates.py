"""The savings SQL, written once: the aggregation every figure of analytics and of the reports is summed with.

Why one place: the headline of a month, its breakdowns, the days of the time series, an export's
totals and every report table must agree to the cent — the exact sum of per-call rounded costs of
*rated* calls (SPEC §5), with unrated calls counted apart (their cost is unknown, never 0).  Each
question selects the columns it shows from :data:`FIGURES_SQL`; none writes its own ``sum(...)``.
No DuckDB, pandas or plotly here: importing the SQL costs nothing.
"""

from __future__ import annotations

__all__ = ["FIGURES_SQL", "MINUTES_SQL", "rated_sum"]


def rated_sum(column: str) -> str:
    """SQL for the exact sum of *column* over rated calls (0 when there are none): an unrated call's cost
    is unknown, so it never enters a money total as 0."""
    return f"coalesce(sum({column}) FILTER (WHERE rating_status = 'rated'), 0)"


#: Talk minutes to 0.01 as an exact DECIMAL: (seconds * 100 + 30) // 60 hundredths, rounded half up
#: (a whole number of seconds is never exactly half a hundredth of a minute away, so this is also
#: what ``Decimal(seconds) / 60`` quantized gives).
MINUTES_SQL = "CAST((coalesce(sum(duration_s), 0) * 100 + 30) // 60 AS DECIMAL(18, 0)) * 0.01"

#: The savings SQL, written once: one aggregation for the headline, every breakdown, the time series and
#: every report table, so no two of them can disagree about what a total is.  A question selects the
#: columns it shows.
FIGURES_SQL = f"""
    count(*)::BIGINT AS calls,
    count(*) FILTER (WHERE duration_s > 0)::BIGINT AS answered_calls,
    coalesce(sum(duration_s), 0)::BIGINT AS seconds,
    coalesce(sum(duration_s) FILTER (WHERE rating_status = 'rated'), 0)::BIGINT AS rated_seconds,
    coalesce(sum(duration_s) FILTER (WHERE rating_status <> 'rated'), 0)::BIGINT AS unrated_seconds,
    {MINUTES_SQL} AS minutes,
    {rated_sum("actual_cost")} AS actual_cost,
    {rated_sum("reference_cost")} AS reference_cost,
    {rated_sum("savings")} AS savings,
    count(*) FILTER (WHERE rating_status <> 'rated')::BIGINT AS unrated_calls
"""
