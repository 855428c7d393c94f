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

import functools
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics import duck
from analytics.calls import partition_files, partition_fingerprints
from analytics.savings import BREAKDOWN_COLUMNS, NO_VALUE
from analytics.selection import CallSelection

__all__ = ["CUBE_DIMENSIONS", "DayCubes", "cube_of", "cube_total", "regroup"]

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


class DayCubes:
    """Cubes of one lake kept per date partition, each while that partition's files are unchanged.

    Why: a live collector stores calls every few seconds into *today's* partition.  The page cache is
    keyed by the whole lake, so each store makes the next view miss; with the month's cube rebuilt from
    its per-day parts, only the partitions whose files changed are scanned again — a view of a 10M-call
    month after a live store reads one day, not thirty.  A day's cube is the cube of its calls (the
    cube's ``date`` is the partition's date), so the month's cube is their concatenation: regrouping
    sums them exactly as it sums one month-wide cube.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._days: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._lock = threading.Lock()
        self.scanned_days = 0  # partitions scanned so far (tests and the benchmark read it)

    def cube(self, sel: CallSelection) -> pa.Table:
        """The cube of *sel* (what :func:`cube_of` gives), scanning only the partitions not seen as they are."""
        filters = tuple(sorted(sel.filters.items()))
        keyed = [(day, (str(sel.lake), day, files, filters, sel.scale))
                 for day, files in partition_fingerprints(sel.lake, sel.start, sel.end)]
        if not keyed:
            return _empty_cube(sel.scale)
        with self._lock:
            have = {key: self._days[key] for _, key in keyed if key in self._days}
        missing = [(day, key) for day, key in keyed if key not in have]
        for run in _runs(missing):
            part = cube_of(replace(sel, start=run[0][0], end=run[-1][0]))
            dates = part["date"]
            for day, key in run:
                have[key] = part.filter(pc.equal(dates, pa.scalar(day, dates.type)))
            self.scanned_days += len(run)
        with self._lock:
            for key, table in have.items():
                self._days[key] = table
                self._days.move_to_end(key)
            while len(self._days) > self.max_entries:
                self._days.popitem(last=False)
        return pa.concat_tables([have[key] for _, key in keyed])


def _runs(days: list[tuple[date, tuple]]) -> list[list[tuple[date, tuple]]]:
    """*days* (in order) cut where a day is not the next calendar day: each run is one scan of the lake."""
    runs: list[list[tuple[date, tuple]]] = []
    for item in days:
        if runs and (item[0] - runs[-1][-1][0]).days == 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def cube_of(sel: CallSelection) -> pa.Table:
    """The selection grouped by :data:`CUBE_DIMENSIONS` (one scan of the lake).

    A period without partition files (most months of a twelve-month trend, in a young lake) is the
    empty cube without opening DuckDB: a connection costs tens of milliseconds on a busy machine.
    """
    if not partition_files(sel.lake, sel.start, sel.end):
        return _empty_cube(sel.scale)
    return sel.query(_CUBE_SQL)


@functools.lru_cache(maxsize=8)
def _empty_cube(scale: int) -> pa.Table:
    return CallSelection(Path("/nonexistent-lake"), None, None, scale=scale).query(_CUBE_SQL)


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection for regrouping cubes (small in-memory tables; no lake access).

    One per thread, kept: opening a connection costs more than regrouping a few thousand rows, and a
    connection must not be shared between threads that query at the same time.
    """
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duck.connect()
    return con


def regroup(cube: pa.Table, by: str | list[str] | None, *, where: str = "", order: str | None = None,
            limit: int | None = None) -> pd.DataFrame:
    """The cube summed by *by* (``None``: one grand-total row), as ``savings_by`` shapes it.

    *where* is a SQL condition on the cube's dimensions (``direction = 'outbound'``); *order* and
    *limit* rank (``actual_cost DESC``).  Empty groups are ``(none)``; the group is the index.
    """
    cond = f" WHERE {where}" if where else ""
    con = _connection()
    con.register("cube", cube)
    try:
        if by is None:
            return con.sql(f"SELECT {_REGROUP} FROM cube{cond}").to_arrow_table().to_pandas()[list(BREAKDOWN_COLUMNS)]
        keys = [by] if isinstance(by, str) else list(by)
        cols = ", ".join(f"coalesce(CAST(\"{k}\" AS VARCHAR), '{NO_VALUE}') AS \"{k}\"" for k in keys)
        nums = ", ".join(str(i + 1) for i in range(len(keys)))
        sql = (f"SELECT {cols}, {_REGROUP} FROM cube{cond} GROUP BY {nums} "
               f"ORDER BY {order + ', ' if order else ''}{nums}{f' LIMIT {int(limit)}' if limit else ''}")
        df = con.sql(sql).to_arrow_table().to_pandas()
    finally:
        con.unregister("cube")
    return df.set_index(keys if len(keys) > 1 else keys[0])[list(BREAKDOWN_COLUMNS)]


def cube_total(cube: pa.Table) -> dict[str, object]:
    """The cube's grand total without a query (Arrow sums): what ``regroup(cube, None)`` gives, faster.

    The monthly trend asks it of twelve cubes per view, so it costs microseconds, not a DuckDB round trip.
    """
    def total(name: str) -> object:
        value = pc.sum(cube[name]).as_py() if cube.num_rows else None
        return value if value is not None else 0
    seconds = int(total("seconds"))
    out: dict[str, object] = {"calls": int(total("calls")),
                              "minutes": Decimal((seconds * 100 + 30) // 60).scaleb(-2)}
    for name in ("actual_cost", "reference_cost", "savings"):
        out[name] = Decimal(total(name))
    out["unrated_calls"] = int(total("unrated_calls"))
    return out
