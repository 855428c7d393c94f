"""``callcost rerate --cluster ADDRESS``: runs of lake partitions become Dask tasks, each re-rated by a worker.

Why whole :func:`analytics.rerate.rerate` calls as tasks: re-rating a range of days is already
idempotent and crash-safe on its own (database first, then the lake, the lake as the comparison
base), and days are independent — a call never moves partition.  So a task is ``rerate(ent, first,
last)`` over a run of consecutive days on a worker, with its own database connection, and the
coordinator adds up the :class:`RerateResult`\\ s.  A worker killed mid-task: the scheduler runs the
task again; what the dead worker wrote already compares equal and is not written twice.

A chain whose legs straddle two tasks' days is re-rated whole by both (``rerate`` reads the legs outside
its range from the lake): both compute the same figures from the legs' parsed columns, so the stored
result is the one-process one.  The *counts* may differ from a one-process run by those legs: the task
that runs second finds them already rewritten (fewer ``changed``, other ``before`` totals), or rewrites
them again (more ``written``).  ``calls``, ``days``, the ``after`` totals and the tariff versions do not.
"""

from __future__ import annotations

import os
from datetime import date
from typing import TYPE_CHECKING, Callable

from analytics.rerate import RerateError, RerateResult, Totals, days_with_calls, rerate
from warehouse import cluster, lake
from warehouse.config import Enterprise, load_config
from warehouse.database import Database

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["merge", "rerate_on_cluster"]

_ENT: dict[tuple[str, float], Enterprise] = {}


def rerate_task(config: str, start: date, end: date) -> RerateResult:
    """One task on a worker: the one-process re-rate of [*start*, *end*]."""
    key = (config, os.stat(config).st_mtime)
    if key not in _ENT:
        _ENT.clear()
        _ENT[key] = load_config(config)
    return rerate(_ENT[key], start, end)


def rerate_on_cluster(ent: Enterprise, start: date, end: date, *, client: "Client",
                      progress: Callable[[date, int], None] | None = None) -> RerateResult:
    """:func:`analytics.rerate.rerate` with the days of [*start*, *end*] spread over *client*'s workers."""
    if end < start:
        raise RerateError(f"--from {start} is after --to {end}")
    db = Database(ent.storage.database, ent.scale)
    try:
        db.create_schema()
        days = days_with_calls(ent, db, start, end)
    finally:
        db.close()
    sizes = [_partition_bytes(ent, d) for d in days]
    runs = cluster.chunks(days, sizes, max(sum(sizes) // max(len(days), 1), 1) * 4,
                          at_least=4 * cluster.worker_count(client))
    futures = [client.submit(rerate_task, str(ent.path), r[0], r[-1], pure=False) for r in runs]
    total = RerateResult(start=start, end=end, scale=ent.scale)
    try:
        for run, future in zip(runs, futures):
            part = future.result()
            future.release()
            merge(total, part)
            if progress is not None:
                progress(run[-1], part.calls)
    finally:
        client.cancel(futures)
    return total


def _partition_bytes(ent: Enterprise, day: date) -> int:
    """A day's lake bytes (how tasks are balanced); a day only the database holds counts as one byte."""
    folder = lake.partition_dir(ent.storage.lake, day)
    return sum(f.stat().st_size for f in lake.live_files(folder)) if folder.is_dir() else 1


def merge(total: RerateResult, part: RerateResult) -> None:
    """Add a task's result into *total* (counts, totals before and after, tariff versions)."""
    for name in ("days", "calls", "changed", "written", "newly_priced", "newly_unrated", "repaired", "outside"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    for mine, theirs in ((total.before, part.before), (total.after, part.after)):
        _add_totals(mine, theirs)
    total.tariff_versions.update(part.tariff_versions)


def _add_totals(mine: Totals, theirs: Totals) -> None:
    mine.calls += theirs.calls
    mine.unrated += theirs.unrated
    for col, minor in theirs.minor.items():
        mine.minor[col] += minor
