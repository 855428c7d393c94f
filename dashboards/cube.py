"""One scan of a selection into a small cube, from which the pages' breakdowns are regrouped in milliseconds.

Why: at 10M calls one aggregate over the lake costs about half a second on two cores, and a page
shows five or six breakdowns (site, carrier, call type, day …).  Grouping once by every
low-cardinality dimension together — site, carrier, plan, department, call type, category, country,
direction, day: a few thousand rows — and regrouping that cube gives every breakdown for the price
of one scan.  Sums of sums are exact (integer counts and seconds, DECIMAL money), and minutes are
rounded once per final group from the summed seconds exactly as ``analytics.breakdowns.MINUTES_SQL``
does, so each figure equals ``analytics.breakdowns.savings_by`` to the cent (the tests check it).

High-cardinality questions (a number, an extension) still go to the lake directly.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from analytics import duck
from analytics.savings import BREAKDOWN_COLUMNS, NO_VALUE
from analytics.selection import CallSelection

__all__ = ["CUBE_DIMENSIONS", "cube_of", "regroup"]

#: The dimensions the cube keeps (every other column is summed away).
CUBE_DIMENSIONS = ("site", "carrier", "plan", "department", "call_type", "category", "dest_country", "direction",
                   "date")

_DIMS = ", ".join(f'"{d}"' for d in CUBE_DIMENSIONS)
_CUBE_SQL = (f"SELECT {_DIMS}, count(*)::BIGINT AS calls, "
             "coalesce(sum(duration_s), 0)::BIGINT AS seconds, "
             "coalesce(sum(actual_cost) FILTER (WHERE rating_status = 'rated'), 0) AS actual_cost, "
             "coalesce(sum(reference_cost) FILTER (WHERE rating_status = 'rated'), 0) AS reference_cost, "
             "coalesce(sum(savings) FILTER (WHERE rating_status = 'rated'), 0) AS savings, "
             "count(*) FILTER (WHERE rating_status <> 'rated')::BIGINT AS unrated_calls "
             "FROM {calls} GROUP BY ALL")

_REGROUP = ("sum(calls)::BIGINT AS calls, "
            "CAST((coalesce(sum(seconds), 0) * 100 + 30) // 60 AS DECIMAL(18, 0)) * 0.01 AS minutes, "
            "coalesce(sum(actual_cost), 0) AS actual_cost, coalesce(sum(reference_cost), 0) AS reference_cost, "
            "coalesce(sum(savings), 0) AS savings, coalesce(sum(unrated_calls), 0)::BIGINT AS unrated_calls")


def cube_of(sel: CallSelection) -> pa.Table:
    """The selection grouped by :data:`CUBE_DIMENSIONS` (one scan of the lake)."""
    return sel.query(_CUBE_SQL)


def regroup(cube: pa.Table, by: str | list[str] | None, *, where: str = "", order: str | None = None,
            limit: int | None = None) -> pd.DataFrame:
    """The cube summed by *by* (``None``: one grand-total row), as ``savings_by`` shapes it.

    *where* is a SQL condition on the cube's dimensions (``direction = 'outbound'``); *order* and
    *limit* rank (``actual_cost DESC``).  Empty groups are ``(none)``; the group is the index.
    """
    cond = f" WHERE {where}" if where else ""
    with duck.connect() as con:
        con.register("cube", cube)
        if by is None:
            return con.sql(f"SELECT {_REGROUP} FROM cube{cond}").to_arrow_table().to_pandas()[list(BREAKDOWN_COLUMNS)]
        keys = [by] if isinstance(by, str) else list(by)
        cols = ", ".join(f"coalesce(CAST(\"{k}\" AS VARCHAR), '{NO_VALUE}') AS \"{k}\"" for k in keys)
        nums = ", ".join(str(i + 1) for i in range(len(keys)))
        sql = (f"SELECT {cols}, {_REGROUP} FROM cube{cond} GROUP BY {nums} "
               f"ORDER BY {order + ', ' if order else ''}{nums}{f' LIMIT {int(limit)}' if limit else ''}")
        df = con.sql(sql).to_arrow_table().to_pandas()
    return df.set_index(keys if len(keys) > 1 else keys[0])[list(BREAKDOWN_COLUMNS)]
