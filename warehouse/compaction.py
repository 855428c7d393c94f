"""Merge each lake partition's small Parquet files into one, while readers and the collector keep going.

Why: every ``write_calls`` batch adds one file per day it touches, so a live collector leaves a day
with hundreds of small files; every reader then opens hundreds of footers.  ``compact`` rewrites a
day as one file.

How it stays invisible to readers: the merged file is swapped in with ``lake.swap_files`` — the
superseded names are recorded *before* the merged file is renamed into place, and every reader
resolves a partition through ``lake.live_files`` (listing first, record second), so a reader sees the
old files or the merged one, never both and never neither.  The superseded files stay on disk for a
grace period (readers that listed them a moment ago may still open them, ``lake.GRACE_S``, at most
``lake.MAX_GRACE_S`` = 60 s); ``compact`` waits that out and deletes them before it returns, so an engine
that globs the folders itself sees each call once again a minute after the merge at the latest.  If
the run is killed while it waits, the next writer or reader of the partition deletes them.

How it stays out of the collector's way: one partition at a time under the lake's writer lock, so a
write waits at most for one day's merge.  A crash at any point leaves the old files live (plus a
hidden temp file and a record that the next run drops).  Duplicated ``call_id``s left by an older
crash are healed on the way: the newest file's row wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse import lake

__all__ = ["CompactionResult", "compact"]

#: Waited beyond a grace period before purging: the records are dated by the wall clock, the wait by the monotonic one.
_CLOCK_MARGIN_S = 0.1


@dataclass
class CompactionResult:
    """What one ``compact`` run did, for the CLI and the logs."""

    partitions: int = 0  # partitions looked at
    compacted: int = 0  # partitions rewritten as one file
    files_before: int = 0  # live files in the partitions looked at, before
    files_after: int = 0  # live files after
    rows: int = 0  # rows in the rewritten partitions
    duplicates_removed: int = 0  # repeated call_ids healed
    purged: int = 0  # superseded files deleted (their grace period was over)
    temp_removed: int = 0  # hidden temp files of crashed writes removed
    recovered_batches: int = 0  # interrupted batches finished from their journal
    seconds: float = 0.0
    days: list[date] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.compacted} of {self.partitions} partition(s) compacted: {self.files_before:,} → "
                f"{self.files_after:,} files, {self.rows:,} rows, {self.duplicates_removed:,} duplicate(s) healed, "
                f"{self.purged:,} superseded file(s) deleted, {self.seconds:.2f} s")


def compact(root: Path | str, start: date | None = None, end: date | None = None, *, min_files: int = 2,
            grace_s: float = lake.GRACE_S, progress: Callable[[date, int], None] | None = None,
            waiting: Callable[[float, int], None] | None = None) -> CompactionResult:
    """Compact the partitions from *start* to *end* (inclusive, ``None`` = open) that have ≥ *min_files* files.

    Also, for every partition looked at: deletes superseded files whose grace is over and hidden
    temp files of crashed writes; and first finishes any batch a crash interrupted (``lake.recover``).
    *progress* is called per partition with the day and its live file count after the run.  Before it
    returns, ``compact`` waits until the files it superseded have had their *grace_s* (0 to
    ``lake.MAX_GRACE_S``) and deletes them; *waiting* is told the seconds left and the partitions first.
    """
    lake._check_grace(grace_s)
    began = time.perf_counter()
    result = CompactionResult()
    result.recovered_batches = lake.recover(root)
    swapped: list[tuple[float, Path]] = []  # (when its grace is over, partition), oldest first
    for day, folder in lake.partitions(root):
        if (start is not None and day < start) or (end is not None and day > end):
            continue
        result.partitions += 1
        with lake.writer_lock(root):
            if _compact_partition(folder, day, min_files, grace_s, result):
                swapped.append((time.monotonic() + grace_s + _CLOCK_MARGIN_S, folder))
        if progress is not None:
            progress(day, len(_own_files(folder)))
        swapped = _purge_due(root, swapped, result)  # each partition's old files go as soon as its grace is over
    if swapped and waiting is not None:
        waiting(swapped[-1][0] - time.monotonic(), len(swapped))
    while swapped:
        time.sleep(max(0.0, swapped[0][0] - time.monotonic()))
        swapped = _purge_due(root, swapped, result)
    result.seconds = time.perf_counter() - began
    return result


def _purge_due(root: Path | str, swapped: list[tuple[float, Path]], result: CompactionResult) -> list[tuple[float, Path]]:
    """Delete the superseded files of the partitions whose grace is over; the others are returned."""
    now = time.monotonic()
    for due, folder in swapped:
        if due <= now:
            with lake.writer_lock(root):
                result.purged += lake.purge_superseded(folder, _locked=True)
    return [(due, folder) for due, folder in swapped if due > now]


def _compact_partition(folder: Path, day: date, min_files: int, grace_s: float, result: CompactionResult) -> bool:
    """One partition, under the writer lock; True when its files were swapped for a merged one."""
    result.purged += lake.purge_superseded(folder, _locked=True)
    for temp in folder.glob(".*.tmp"):  # no writer is running (we hold the lock): these are crash leftovers
        temp.unlink()
        result.temp_removed += 1
    files = _own_files(folder)
    result.files_before += len(files)
    if len(files) < max(min_files, 2):
        result.files_after += len(files)
        return False
    schema = _file_schema(files)
    table = pq.read_table([str(f) for f in files], schema=schema, partitioning=None)  # one multi-threaded read
    read_rows = table.num_rows
    if pc.count_distinct(table.column("call_id")).as_py() < read_rows:  # rare: order matters only then
        table = lake.unique_calls(lake._read_oldest_first(files, schema), keep="last")
    lake.swap_files(folder, table, files, grace_s=grace_s, _locked=True)
    result.compacted += 1
    result.files_after += 1
    result.rows += table.num_rows
    result.duplicates_removed += read_rows - table.num_rows
    result.days.append(day)
    return True


def _own_files(folder: Path) -> list[Path]:
    """The partition's live files directly in its folder (sub-partition folders are not ours to merge)."""
    return [f for f in lake.live_files(folder) if f.parent == folder]


def _file_schema(files: list[Path]) -> pa.Schema:
    """The newest file's schema: files written by an older version with fewer columns are read into it."""
    newest = max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))
    return pq.read_schema(newest)
