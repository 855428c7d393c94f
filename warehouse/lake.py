"""The Parquet lake: rated calls as hive partitions an analyst can open with any engine.

Layout (SPEC §6)::

    <root>/calls/date=YYYY-MM-DD/part-<hash>.parquet

``date`` is the **UTC** date of ``start_utc`` — the only date every call has, the same whatever the
site's timezone, so a call never moves partition and a day's files are found from the folder name
alone.  Rows are ``warehouse.schema.calls_schema(scale)``; money is ``decimal128(18, scale)``.

Three promises, each because a reader (DuckDB, pandas, a dashboard) may open the lake at any moment
while the collector writes:

* **Idempotent.** ``write_calls`` skips calls whose ``call_id`` the partition already holds (it reads
  only the ``call_id`` column of the partition's files), so a re-import or a retry adds nothing.
* **Atomic files.** A file is written under a hidden name (``.part-<hash>.parquet.tmp``: the leading
  dot makes pyarrow, Spark and ``analytics`` skip it, the ``.tmp`` suffix keeps it out of a
  ``*.parquet`` glob), fsynced, then ``os.replace``-d into place.  A reader sees a whole file or none;
  a writer killed mid-way leaves only a hidden temp file, which the next write of the same batch
  overwrites.
* **Deterministic names.** A file's name is a hash of the ``call_id`` set it holds, so a
  crash-and-retry rewrites the *same* file instead of adding a second copy.

Writers of one lake serialise on an advisory lock (``calls/_writer.lock``); readers never lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from warehouse.errors import StorageError
from warehouse.schema import calls_schema, conform

__all__ = ["LakeWriteResult", "calls_glob", "partition_dir", "read_calls", "replace_calls", "unique_calls", "write_calls"]

DATASET = "calls"
_LOCK = "_writer.lock"
#: How the hive partition key reads: a real date, so ``date >= 2026-10-01`` prunes folders.
PARTITIONING = ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")


@dataclass(frozen=True, slots=True)
class LakeWriteResult:
    new_rows: int
    skipped_rows: int
    files: list[Path]


def partition_dir(root: Path | str, day: date) -> Path:
    return Path(root) / DATASET / f"date={day.isoformat()}"


def calls_glob(root: Path | str) -> str:
    """The lake as a DuckDB table expression (hidden temp files do not match ``*.parquet``)."""
    pattern = str(Path(root) / DATASET / "*" / "*.parquet").replace("'", "''")
    return f"read_parquet('{pattern}', hive_partitioning=true)"


def write_calls(root: Path | str, table: pa.Table) -> LakeWriteResult:
    """Append rated calls, skipping ``call_id``s already in their partition (and repeats in *table*).

    Each call of this function adds at most one file per touched partition, and none for a batch the
    lake already holds.  Many small batches make many small files; ``replace_calls`` compacts a day.
    """
    given = table.num_rows
    table = unique_calls(_conform(table), keep="first")
    new_rows, files = 0, []
    with _writer_lock(root):
        for day, rows in _by_day(table):
            folder = partition_dir(root, day)
            existing = _existing_ids(_data_files(folder))
            if len(existing):
                rows = rows.filter(pc.invert(pc.is_in(rows.column("call_id"), value_set=existing)))
            if rows.num_rows == 0:
                continue
            files.append(_write_atomic(folder, rows))
            new_rows += rows.num_rows
    return LakeWriteResult(new_rows=new_rows, skipped_rows=given - new_rows, files=files)


def replace_calls(root: Path | str, table: pa.Table) -> LakeWriteResult:
    """Write calls again after re-rating: a stored row with the same ``call_id`` is replaced, a new one added.

    Each touched partition is rewritten whole into one new file (which also compacts it), then its
    old files are removed.  Between the ``os.replace`` of the new file and the unlink of the old ones
    — a few system calls, no I/O of data — a reader listing the folder could see both and count the
    replaced calls twice; there is no window where a call is missing.  A crash inside that window
    leaves both files; running the same ``replace_calls`` again heals it (the new file gets the same
    name, the stale ones are removed).  A call stays in the partition of its ``start_utc``: re-rating
    does not move calls between days.
    """
    table = unique_calls(_conform(table), keep="last")
    files = []
    replaced = 0
    with _writer_lock(root):
        for day, rows in _by_day(table):
            folder = partition_dir(root, day)
            old_files = _data_files(folder)
            if old_files:
                old = pq.read_table(old_files, schema=rows.schema)
                stays = pc.invert(pc.is_in(old.column("call_id"), value_set=rows.column("call_id")))
                kept = old.filter(stays)
                replaced += old.num_rows - kept.num_rows
                rows = pa.concat_tables([kept, rows])
            new = _write_atomic(folder, rows)
            for stale in old_files:
                if stale != new:
                    stale.unlink()
            fsync_dir(folder)
            files.append(new)
    return LakeWriteResult(new_rows=table.num_rows - replaced, skipped_rows=0, files=files)


def read_calls(
    root: Path | str,
    start: date | None = None,
    end: date | None = None,
    columns: Sequence[str] | None = None,
    filters: ds.Expression | None = None,
    *,
    scale: int = 2,
) -> pa.Table:
    """Calls whose partition date is in [*start*, *end*] (inclusive, ``None`` = open).

    Only the matching ``date=`` folders are opened (partition pruning by folder name).  *filters* is a
    ``pyarrow.dataset`` expression on any column, e.g. ``ds.field("site") == "NYC"``.  An empty lake
    gives an empty table of ``calls_schema(scale)``.
    """
    wanted = list(columns) if columns is not None else None
    files = [f for day, folder in _partitions(root) if (start is None or day >= start) and (end is None or day <= end)
             for f in _data_files(folder)]
    if not files:
        empty = calls_schema(scale).empty_table()
        return empty.select(wanted) if wanted is not None else empty
    # Built from the chosen files only: no other partition's footer is even opened.
    dataset = ds.dataset([str(f) for f in files], format="parquet", partitioning=PARTITIONING,
                         partition_base_dir=str(Path(root) / DATASET))
    names = wanted if wanted is not None else [n for n in dataset.schema.names if n != "date"]
    return dataset.to_table(columns=names, filter=filters)


def _partitions(root: Path | str) -> list[tuple[date, Path]]:
    """The ``date=`` folders, by their names (a folder not named like a date is not ours: ignored)."""
    base = Path(root) / DATASET
    if not base.is_dir():
        return []
    found = []
    for folder in base.iterdir():
        if folder.is_dir() and folder.name.startswith("date="):
            try:
                found.append((date.fromisoformat(folder.name.removeprefix("date=")), folder))
            except ValueError:
                continue
    return sorted(found)


# --- internals -------------------------------------------------------------------------------------


def _conform(table: pa.Table) -> pa.Table:
    if "actual_cost" not in table.column_names or not pa.types.is_decimal(table.schema.field("actual_cost").type):
        raise StorageError("calls for the lake must carry decimal money columns (warehouse.schema.calls_schema)")
    schema = calls_schema(table.schema.field("actual_cost").type.scale)
    try:
        return conform(table, schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StorageError(f"calls do not fit the lake's schema: {exc}") from exc


def unique_calls(table: pa.Table, *, keep: str = "first") -> pa.Table:
    """Drop repeated ``call_id``s inside one batch (``keep`` = "first" or "last" wins), vectorised, order kept.

    Shared with ``warehouse.database``: an upsert may not touch one row twice in a statement.
    """
    if table.num_rows == 0:
        return table
    idx = pa.array(np.arange(table.num_rows))
    agg = "min" if keep == "first" else "max"
    picked = (pa.table({"call_id": table.column("call_id"), "i": idx})
              .group_by("call_id", use_threads=False).aggregate([("i", agg)]).column(f"i_{agg}"))
    if len(picked) == table.num_rows:
        return table
    return table.take(pc.sort_indices(picked))


def _by_day(table: pa.Table) -> Iterator[tuple[date, pa.Table]]:
    """Split rows by the UTC date of ``start_utc`` (one filter per partition, not per row)."""
    if table.num_rows == 0:
        return
    days = pc.cast(table.column("start_utc"), pa.date32())
    for day in pc.unique(days).to_pylist():
        yield day, table.filter(pc.equal(days, pa.scalar(day, pa.date32())))


def _data_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith((".", "_")))


def _existing_ids(files: list[Path]) -> pa.Array:
    if not files:
        return pa.array([], pa.string())
    return pq.read_table(files, columns=["call_id"]).column("call_id").combine_chunks()


def _file_name(rows: pa.Table) -> str:
    """``part-<sha256 of the sorted call_ids>``: same set of calls, same name, whatever the batch order."""
    ids = pc.array_sort_indices(rows.column("call_id").combine_chunks())
    ordered = rows.column("call_id").combine_chunks().take(ids)  # a fresh array: offset 0, tight buffers
    offsets = np.frombuffer(ordered.buffers()[1], dtype="<i4", count=len(ordered) + 1)
    digest = hashlib.sha256(offsets.tobytes())
    digest.update(memoryview(ordered.buffers()[2])[: int(offsets[-1])])
    return f"part-{digest.hexdigest()[:20]}.parquet"


def _write_atomic(folder: Path, rows: pa.Table) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = rows.take(pc.sort_indices(rows, sort_keys=[("start_utc", "ascending"), ("call_id", "ascending")]))
    target = folder / _file_name(rows)
    temp = folder / f".{target.name}.tmp"
    try:
        with open(temp, "wb") as fh:
            pq.write_table(rows, fh, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
        fsync_dir(folder)
    except OSError as exc:
        raise StorageError(f"cannot write lake file {target}: {exc}") from exc
    return target


def fsync_dir(folder: Path) -> None:
    """Make a rename durable: the directory entry, not just the file, must reach the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _writer_lock(root: Path | str) -> Iterator[None]:
    base = Path(root) / DATASET
    base.mkdir(parents=True, exist_ok=True)
    with open(base / _LOCK, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
