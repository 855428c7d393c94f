"""Who and what the money went to: savings by any dimension, top destinations, top talkers, call-type mix.

Each function takes a :class:`analytics.selection.CallSelection` (so the period and the filters are
chosen once), runs one ``GROUP BY`` in DuckDB on the lake's exact decimals and returns a pandas
DataFrame whose money columns hold :class:`decimal.Decimal` — sums of the per-call rounded costs, to
the cent, the same figures :func:`analytics.savings.summary` and the reports give.

As in :mod:`analytics.savings`, money sums cover *rated* calls only (an unrated call's cost is
unknown, not 0) and ``unrated_calls`` counts what was left out; ``calls`` and ``minutes`` count all.

    >>> from analytics.breakdowns import savings_by, top_talkers          # doctest: +SKIP
    >>> savings_by(sel, "extension").sort_values("savings").tail()        # doctest: +SKIP
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from analytics.aggregates import FIGURES_SQL, MINUTES_SQL
from analytics.savings import BREAKDOWN_COLUMNS, NO_VALUE, minutes_of
from analytics.selection import CallSelection

__all__ = ["AGGREGATES_SQL", "DIMENSIONS", "MINUTES_SQL", "MONEY_COLUMNS", "RANKINGS", "call_type_mix", "savings_by", "top_destinations", "top_talkers",
           "totals_and_breakdown"]

#: Columns :func:`savings_by` can group by.
DIMENSIONS = ("site", "carrier", "department", "extension", "call_type", "category", "cost_center", "dest_country",
              "trunk", "user")
#: What the top-N tables can rank by.
RANKINGS = ("actual_cost", "reference_cost", "savings", "minutes", "calls")
MONEY_COLUMNS = ("actual_cost", "reference_cost", "savings")

#: The savings SQL (:data:`analytics.savings.FIGURES_SQL`): one aggregation for every table here.
AGGREGATES_SQL = FIGURES_SQL

#: Destination levels for :func:`top_destinations` and the column each groups by.
DESTINATION_LEVELS = {"country": "dest_country", "number": "connected_number_e164", "category": "category"}


def _ranking(by: str) -> str:
    if by not in RANKINGS:
        raise ValueError(f"cannot rank by '{by}' (one of {', '.join(RANKINGS)})")
    return by


def _key(column: str) -> str:
    return f"coalesce(CAST(\"{column}\" AS VARCHAR), '{NO_VALUE}')"


def savings_by(sel: CallSelection, by: str = "site") -> pd.DataFrame:
    """Calls, minutes, actual and reference cost, savings and unrated calls per value of *by*.

    *by* is one of :data:`DIMENSIONS`; calls with no value (internal calls have no carrier) form the
    group ``(none)``.  Rows are ordered by the group; the columns are those of
    ``summary(...).by_site``, so :func:`analytics.savings.savings_figure` draws either.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.breakdowns import savings_by
        ent = open_enterprise()
        savings_by(select(ent, "2026-10", site="NYC"), "department")
    """
    return _grouped(sel, by)[list(BREAKDOWN_COLUMNS)]


def _grouped(sel: CallSelection, by: str) -> pd.DataFrame:
    """Every column of :data:`AGGREGATES_SQL` per value of *by* (the seconds too), ordered by the group."""
    if by not in DIMENSIONS:
        raise ValueError(f"cannot break down by '{by}' (one of {', '.join(DIMENSIONS)})")
    table = sel.query(f'SELECT {_key(by)} AS "{by}", {AGGREGATES_SQL} FROM {{calls}} GROUP BY 1 ORDER BY 1')
    return table.to_pandas().set_index(by)


def totals_and_breakdown(sel: CallSelection, by: str = "site") -> tuple[dict[str, object], pd.DataFrame]:
    """The selection's totals and :func:`savings_by` *by*, from one scan of the lake.

    Why: the headline and one breakdown are what an API summary shows, and :func:`analytics.savings.summary`
    scans five times (headline, four breakdowns).  The totals are sums of the groups — exact, since
    counts and seconds are integers and money is DECIMAL — with minutes rounded once from the summed
    seconds, so they equal ``summary()``'s figures to the cent (``tests/test_api.py`` checks it).

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.breakdowns import totals_and_breakdown
        totals, by_site = totals_and_breakdown(select(open_enterprise(), "2026-10", site="NYC"))
    """
    df = _grouped(sel, by)
    totals: dict[str, object] = {"calls": int(df["calls"].sum()), "minutes": minutes_of(int(df["seconds"].sum()))}
    for name in MONEY_COLUMNS:
        totals[name] = sum(df[name], Decimal(0))
    totals["unrated_calls"] = int(df["unrated_calls"].sum())
    return totals, df[list(BREAKDOWN_COLUMNS)]


def top_destinations(sel: CallSelection, n: int = 10, *, by: str = "actual_cost",
                     level: str = "country") -> pd.DataFrame:
    """The *n* outbound destinations with the highest *by*, at *level* ``country``, ``number`` or ``category``.

    Only outbound calls have a destination that costs money; ties are broken by the destination so
    the table is the same every run.  The index is the rank (1 = top).

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.breakdowns import top_destinations
        top_destinations(select(open_enterprise(), "2026-10"), 5, by="minutes")
    """
    order = _ranking(by)
    if level not in DESTINATION_LEVELS:
        raise ValueError(f"destination level '{level}' is not one of {', '.join(DESTINATION_LEVELS)}")
    column = DESTINATION_LEVELS[level]
    table = sel.query(
        f'SELECT {_key(column)} AS destination, {AGGREGATES_SQL} FROM {{calls}} '
        f"WHERE direction = 'outbound' GROUP BY 1 ORDER BY {order} DESC, destination LIMIT {int(n)}")
    return _ranked(table.to_pandas())


def top_talkers(sel: CallSelection, n: int = 10, *, by: str = "actual_cost") -> pd.DataFrame:
    """The *n* extensions with the highest *by*, with the user, department and site of their latest call.

    Calls billed to no extension (an inbound call nobody answered) are nobody's talk time: left out.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.breakdowns import top_talkers
        top_talkers(select(open_enterprise(), "2026-10", call_type="outbound"), 10, by="minutes")
    """
    order = _ranking(by)
    table = sel.query(
        f"SELECT extension, arg_max(\"user\", start_utc) AS \"user\", "
        f"arg_max(department, start_utc) AS department, arg_max(site, start_utc) AS site, {AGGREGATES_SQL} "
        f"FROM {{calls}} WHERE extension IS NOT NULL GROUP BY 1 ORDER BY {order} DESC, extension LIMIT {int(n)}")
    return _ranked(table.to_pandas())


def call_type_mix(sel: CallSelection) -> pd.DataFrame:
    """Per call type: calls, share of all calls in % (to 0.1, half up), minutes, money, unrated calls.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.breakdowns import call_type_mix
        call_type_mix(select(open_enterprise(), "2026-10"))
    """
    table = sel.query(
        f"SELECT *, CAST((calls * 2000 + total) // (2 * total) AS DECIMAL(18, 0)) * 0.1 AS share_pct FROM ("
        f"  SELECT {_key('call_type')} AS call_type, {AGGREGATES_SQL}, sum(count(*)) OVER () AS total "
        f"  FROM {{calls}} GROUP BY 1) ORDER BY calls DESC, call_type")
    df = table.to_pandas().set_index("call_type")
    return df[["calls", "share_pct", *BREAKDOWN_COLUMNS[1:]]]


def _ranked(df: pd.DataFrame) -> pd.DataFrame:
    df.index = pd.RangeIndex(1, len(df) + 1, name="rank")
    return df
