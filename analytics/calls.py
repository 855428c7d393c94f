"""Which of the lake's files hold a period's calls: the month and date helpers, and the file resolution
under :func:`analytics.selection.select` — the one read path of analytics.

The lake is ``<lake>/calls/date=YYYY-MM-DD/*.parquet`` (hive partitions by the UTC date of
``start_utc``).  We choose the partition folders ourselves from their names before DuckDB opens a
single file, so a one-month question reads one month of files however large the lake grows, and an
empty lake or an empty range is an empty frame rather than a DuckDB "no files found" error.

Rows are read through a selection (``select(lake, "2026-10", site="NYC").frame()``), which composes
the filters with :func:`calls_relation`; there is no second reader here.

    >>> as_date("2026-10-31", "end")
    datetime.date(2026, 10, 31)
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from analytics.messages import Msg
from warehouse import lake
from warehouse.lake import partitions as lake_partitions
from warehouse.errors import CallcostError

__all__ = ["FILTER_COLUMNS", "PeriodError", "as_date", "available_months", "calls_relation", "month_range",
           "partition_days", "partition_files"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

#: Filters :func:`analytics.selection.select` accepts, each a column of the calls schema.
FILTER_COLUMNS = ("site", "carrier", "department", "extension", "call_type")

DateLike = date | str | None
Filter = str | Iterable[str] | None


class PeriodError(CallcostError, ValueError):
    """A period or date the user gave cannot be read (``2026-13``, ``yesterday``)."""


def as_date(value: DateLike, what: str) -> date | None:
    """*value* (a date or ISO text) as a date; a clear PeriodError naming *what* when it is not one."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PeriodError(Msg("{what} '{value}' is not a date (expected YYYY-MM-DD)", what=what, value=value)) from None


def month_range(period: str) -> tuple[date, date]:
    """First and last day of a ``YYYY-MM`` period (both inclusive).

    A first version counts a month by the *UTC* date partitions of the lake: a call at 23:30 local
    time on the 31st in New York is in the next month's first partition.  Site-local month
    boundaries would need the site's timezone here; the partitions make UTC the cheap, exact choice.

    >>> month_range("2026-02")
    (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28))
    """
    m = _MONTH.match(str(period).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise PeriodError(Msg("period '{period}' is not a month (expected YYYY-MM, e.g. 2026-10)", period=period))
    year, month = int(m.group(1)), int(m.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _data_files(folder: Path) -> list[Path]:
    """Parquet files under a date partition, sub-partitions (``site=...``) included.

    Names starting with ``.`` or ``_`` are a writer's temporary or marker files (``_SUCCESS``,
    ``.part-0.parquet.tmp``), never data, as Spark and pyarrow agree.  The lake's own resolution
    (``warehouse.lake.live_files``) also leaves out files a compaction has superseded.
    """
    return lake.live_files(folder)


def partition_files(lake: str | os.PathLike[str], start: DateLike = None, end: DateLike = None) -> list[Path]:
    """The Parquet files of the partitions from *start* to *end* (inclusive; ``None`` = open)."""
    lo, hi = as_date(start, "start"), as_date(end, "end")
    files: list[Path] = []
    for day, folder in lake_partitions(lake):
        if (lo is None or day >= lo) and (hi is None or day <= hi):
            files.extend(_data_files(folder))
    return files


def partition_days(lake: str | os.PathLike[str], start: DateLike = None, end: DateLike = None) -> list[date]:
    """The dates from *start* to *end* (inclusive; ``None`` = open) that have data files, oldest first.

    A call's partition is the UTC date of its ``start_utc``, so reading day after day gives the calls
    in ``start_utc`` order while holding one day at a time (how :mod:`analytics.export` streams).
    """
    lo, hi = as_date(start, "start"), as_date(end, "end")
    return [day for day, folder in lake_partitions(lake)
            if (lo is None or day >= lo) and (hi is None or day <= hi) and _data_files(folder)]


def partition_fingerprints(lake_root: str | os.PathLike[str], start: DateLike = None,
                           end: DateLike = None) -> list[tuple[date, tuple[tuple[str, int, int], ...]]]:
    """The days from *start* to *end* that have data files, each with its files' (path, size, mtime):
    what a cache of per-day results keys on — a store, re-rate or compaction of a day changes its
    fingerprint and no other day's."""
    lo, hi = as_date(start, "start"), as_date(end, "end")
    out = []
    for day, folder in lake_partitions(lake_root):
        if (lo is None or day >= lo) and (hi is None or day <= hi):
            files = []
            for f in _data_files(folder):
                try:
                    st = f.stat()
                except FileNotFoundError:  # compacted away while we list: the next look sees it
                    continue
                files.append((str(f), st.st_size, st.st_mtime_ns))
            if files:
                out.append((day, tuple(files)))
    return out


def available_months(lake: str | os.PathLike[str]) -> list[str]:
    """The ``YYYY-MM`` months that have at least one partition in the lake, oldest first."""
    return sorted({f"{day:%Y-%m}" for day, folder in lake_partitions(lake) if _data_files(folder)})


def calls_relation(lake: str | os.PathLike[str], start: DateLike = None, end: DateLike = None) -> str | None:
    """A DuckDB ``read_parquet(...)`` expression over the chosen partitions, or ``None`` if there are none.

    The selection (:meth:`analytics.selection.CallSelection.open`) is built on it, so every question
    reads exactly the same files: each call once (:func:`warehouse.lake.live_files`).
    """
    files = partition_files(lake, start, end)
    if not files:
        return None
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    # The partition date comes from the path ourselves rather than from DuckDB's hive_partitioning,
    # which refuses a lake whose partitions nest to different depths (``date=…/`` beside
    # ``date=…/site=…/``) and would shadow a file's own ``site`` column.  union_by_name: files written
    # by an older version with fewer columns still read together.
    return (f"(SELECT * EXCLUDE (filename), CAST(regexp_extract(filename, 'date=([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})', 1)"
            f" AS DATE) AS date FROM read_parquet([{listed}], hive_partitioning = false, union_by_name = true,"
            f" filename = true))")
