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

Two more, so compaction and crashes never show a reader duplicates or gaps (``docs/backup-and-compaction.md``):

* **One resolution of a partition's files.** ``live_files(folder)`` is the only way any reader —
  ``read_calls``, ``calls_glob``, ``analytics`` (DuckDB), ``rerate`` and ``replace_calls`` — finds a
  partition's data.  When files are merged or rewritten (``replace_calls``, ``warehouse.compaction``)
  the superseded names are first recorded in the partition's ``_superseded.json`` *together with the
  name of the file that replaces them*, and only then is that file renamed into place.  A reader
  lists the folder, then reads the record, and drops a superseded file only when its replacement was
  in the same listing: before the rename it sees the old files, after it the new one — never both,
  never neither.  Superseded files are deleted after a grace period (``purge_superseded``), so a
  reader that listed them a moment earlier can still open them.
* **A batch is all or nothing across partitions.** ``write_calls`` first writes every partition's
  file under its hidden temp name; a batch touching more than one partition then writes a journal
  record (``calls/_journal/<id>.json``: temp → final names), renames the files, and deletes the
  record.  A crash before the record leaves only hidden temp files (rolled back); after it, the next
  writer (``recover``, run under the writer lock before every write) finishes the renames.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from warehouse import lakefs
from warehouse.errors import StorageError
from warehouse.schema import calls_schema, conform

__all__ = ["LakeWriteResult", "calls_glob", "live_files", "partition_dir", "partitions", "purge_superseded", "read_calls",
           "recover", "replace_calls", "swap_files", "unique_calls", "write_calls", "writer_lock"]

DATASET = "calls"
_LOCK = "_writer.lock"
_JOURNAL = "_journal"
_SUPERSEDED = "_superseded.json"
#: How long a superseded file stays on disk after compaction, by default (seconds): readers that listed the
#: old files a moment before the swap may still open them.  Engines that glob the folders themselves
#: (a raw DuckDB ``read_parquet('lake/calls/*/*.parquet')``, Spark, Trino) see the old files *and* the
#: merged one during that window, so it is capped: no superseded file outlives ``MAX_GRACE_S``.
GRACE_S = 60.0
MAX_GRACE_S = 60.0
#: How long a record of superseded (and already deleted) files is kept after their deletion: a reader
#: that listed the folder just before the deletion still finds the record when it reads it.
_RECORD_KEEP_S = 600.0
#: Test hook: ``written`` or ``committed:N`` kills the writing process with SIGKILL at that point of a batch.
KILL_ENV = "CALLCOST_LAKE_KILL_AT"
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
    """The lake as a DuckDB table expression over the live files of every partition, as of this call.

    The files are listed (``live_files``), not globbed, so a file superseded by compaction in its
    grace period is not read twice.  An empty lake gives an empty relation of the lake's columns.
    """
    files = [f for _, folder in partitions(root) for f in live_files(folder)]
    if not files:
        return "(SELECT * FROM (SELECT NULL::VARCHAR AS call_id, NULL::DATE AS date) WHERE false)"
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listed}], hive_partitioning=true)"


def write_calls(root: Path | str, table: pa.Table) -> LakeWriteResult:
    """Append rated calls, skipping ``call_id``s already in their partition (and repeats in *table*).

    Each call of this function adds at most one file per touched partition, and none for a batch the
    lake already holds.  Many small batches make many small files; ``replace_calls`` compacts a day.
    """
    root = lakefs.local_root(root)
    given = table.num_rows
    table = _conform(table)
    ids = table.column("call_id")
    if given and len(pc.unique(ids)) != given:  # one hash pass; the grouping runs only when there are repeats
        table = unique_calls(table, keep="first")
    new_rows, files, written = 0, [], []
    with _writer_lock(root), _Batch(root) as batch:
        for day, rows in _by_day(table):
            folder = partition_dir(root, day)
            purge_superseded(folder, _locked=True)  # a compaction killed while waiting out its grace
            existing = _existing_ids(_data_files(folder))
            if len(existing):
                rows = rows.filter(pc.invert(pc.is_in(rows.column("call_id"), value_set=existing)))
            if rows.num_rows == 0:
                continue
            target = batch.write(folder, rows)
            files.append(target)
            written.append((target, rows.column("call_id")))
            new_rows += rows.num_rows
    for target, new_ids in written:  # visible now: the next batch need not read them back
        _remember_ids(target, new_ids)
    return LakeWriteResult(new_rows=new_rows, skipped_rows=given - new_rows, files=files)


def replace_calls(root: Path | str, table: pa.Table, *, grace_s: float = 0.0) -> LakeWriteResult:
    """Write calls again after re-rating: a stored row with the same ``call_id`` is replaced, a new one added.

    Each touched partition is rewritten whole into one new file (which also compacts it) and swapped
    in for its old files with ``swap_files``: a reader sees the old files or the new one, never both
    and never neither.  The old files are deleted at once (*grace_s* = 0, the on-disk partition is
    one file again); a reader that listed them a moment before and opens them late retries
    (``read_calls`` does).  A crash before the swap leaves the old files live and a hidden temp file;
    running the same ``replace_calls`` again redoes it.  A call stays in the partition of its
    ``start_utc``: re-rating does not move calls between days.
    """
    root = lakefs.local_root(root)
    table = unique_calls(_conform(table), keep="last")
    files = []
    replaced = 0
    with _writer_lock(root):
        recover(root, _locked=True)
        for day, rows in _by_day(table):
            folder = partition_dir(root, day)
            old_files = _data_files(folder)
            if old_files:
                old = unique_calls(_read_oldest_first(old_files, rows.schema), keep="last")
                stays = pc.invert(pc.is_in(old.column("call_id"), value_set=rows.column("call_id")))
                kept = old.filter(stays)
                replaced += old.num_rows - kept.num_rows
                rows = pa.concat_tables([kept, rows])
            files.append(swap_files(folder, rows, old_files, grace_s=grace_s, _locked=True))
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
    if lakefs.is_uri(root):
        return _read_uri(str(root), start, end, wanted, filters, scale)
    for attempt in range(3):
        files = [f for day, folder in partitions(root)
                 if (start is None or day >= start) and (end is None or day <= end) for f in _data_files(folder)]
        if not files:
            empty = calls_schema(scale).empty_table()
            return empty.select(wanted) if wanted is not None else empty
        try:
            # Built from the chosen files only: no other partition's footer is even opened.
            dataset = ds.dataset([str(f) for f in files], format="parquet", partitioning=PARTITIONING,
                                 partition_base_dir=str(Path(root) / DATASET))
            names = wanted if wanted is not None else [n for n in dataset.schema.names if n != "date"]
            return dataset.to_table(columns=names, filter=filters)
        except FileNotFoundError:
            # A superseded file was deleted between our listing and its opening: list again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _read_uri(root: str, start: date | None, end: date | None, wanted: list[str] | None,
              filters: ds.Expression | None, scale: int) -> pa.Table:
    """``read_calls`` of a lake at a URI (``file://``, ``s3://``, …) through its pyarrow filesystem.

    The same resolution as ``live_files``: non-hidden ``*.parquet`` files of the chosen ``date=`` folders,
    minus those a swap superseded whose replacement is in the same listing.  Read-only: no healing of a
    crashed batch (that is the writers' job, on the lake's own filesystem).
    """
    fs, base = lakefs.filesystem(root)
    base = f"{base.rstrip('/')}/{DATASET}"
    files: list[str] = []
    for info in lakefs.list_dir(fs, base):
        if info.type != pafs.FileType.Directory or not info.base_name.startswith("date="):
            continue
        try:
            day = date.fromisoformat(info.base_name.removeprefix("date="))
        except ValueError:
            continue
        if (start is None or day >= start) and (end is None or day <= end):
            names = {e.base_name for e in lakefs.list_dir(fs, info.path)}
            data = {n for n in names if n.endswith(".parquet") and not n.startswith((".", "_"))}
            if data and _SUPERSEDED in names:
                data -= _dead_names(lakefs.read_json(fs, f"{info.path}/{_SUPERSEDED}") or [], data)
            files.extend(f"{info.path}/{n}" for n in sorted(data))
    if not files:
        empty = calls_schema(scale).empty_table()
        return empty.select(wanted) if wanted is not None else empty
    dataset = ds.dataset(files, format="parquet", filesystem=fs, partitioning=PARTITIONING, partition_base_dir=base)
    names = wanted if wanted is not None else [n for n in dataset.schema.names if n != "date"]
    return dataset.to_table(columns=names, filter=filters)


def partitions(root: Path | str) -> list[tuple[date, Path]]:
    """The ``date=`` folders, by their names (a folder not named like a date is not ours: ignored)."""
    base = lakefs.local_root(root) / DATASET
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



def live_files(folder: Path | str) -> list[Path]:
    """The data files a reader must read for one partition folder (and any sub-partition folders in it).

    ``*.parquet`` files not starting with ``.`` or ``_`` (temp and marker files), minus the files a
    swap has superseded (``_superseded.json``) whose replacement is present in the same listing.
    The listing comes first and the record second, which is what makes a swap atomic for readers:
    the record is written before the replacement is renamed in, and outlives the deletion of the
    superseded files by ``_RECORD_KEEP_S``.
    """
    folder = Path(folder)
    found: list[Path] = []
    if (folder.parent / _JOURNAL).is_dir():  # a batch is committing, or a crash interrupted one
        _heal(folder.parent.parent)
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    data = {n for n in names if n.endswith(".parquet") and not n.startswith((".", "_"))}
    if data and _SUPERSEDED in names:
        records = _read_records(folder)
        data -= _dead_names(records, data)
        if _overdue(records):  # nobody purged after the grace (a killed compaction): do it if no writer is busy
            _without_waiting(folder.parent.parent, lambda: purge_superseded(folder, _locked=True))
    found.extend(folder / n for n in data)
    for n in names:
        if "=" in n and not n.startswith((".", "_")) and (folder / n).is_dir():  # hive sub-partitions (site=…)
            found.extend(live_files(folder / n))
    return sorted(found)


def swap_files(folder: Path, rows: pa.Table, superseded: Sequence[Path], *, grace_s: float = GRACE_S,
               _locked: bool = False) -> Path:
    """Put *rows* in one new file of *folder* in place of the *superseded* files, atomically for readers.

    Order: write the new file under its hidden temp name (fsynced); record "*superseded* are replaced
    by <new>" in ``_superseded.json`` (atomic rename); rename the new file in.  Readers (``live_files``)
    honour the record only once the new file is listed.  The superseded files are deleted after
    *grace_s* seconds (0: now) by this or a later ``purge_superseded``.  Call under the writer lock.
    """
    if not _locked:
        raise StorageError("swap_files must run under the lake writer lock (lake.writer_lock)")
    _check_grace(grace_s)
    temp, target = _write_temp(folder, rows)
    old = {p.name for p in superseded} - {target.name}
    try:
        if old:
            # Records of swaps that crashed before their rename are dropped (their "old" files are live).
            records = [r for r in _read_records(folder) if all((folder / b).exists() for b in r["by"])]
            for rec in records:  # a superseded file that itself replaced others: those are superseded too
                if set(rec["by"]) & old:
                    old |= set(rec["files"]) - {target.name}
            records.append({"by": [target.name], "files": sorted(old), "at": time.time(), "grace": grace_s})
            _write_records(folder, records)
        os.replace(temp, target)
        fsync_dir(folder)
    except OSError as exc:
        raise StorageError(f"cannot swap lake files in {folder}: {exc}") from exc
    purge_superseded(folder, grace_s=grace_s, _locked=True)
    return target


def purge_superseded(folder: Path, *, grace_s: float | None = None, _locked: bool = False) -> int:
    """Delete superseded files whose grace period is over; drop records that no longer matter.  Returns files deleted.

    Each record carries the grace its swap was given (*grace_s* overrides it; records written before
    that was kept use ``GRACE_S``).  A record whose replacement file is missing belongs to a swap that
    crashed before its rename: the old files are still the live ones, so the record is dropped and
    nothing is deleted.
    """
    if not _locked:
        raise StorageError("purge_superseded must run under the lake writer lock (lake.writer_lock)")
    if not (folder / _SUPERSEDED).exists():
        return 0
    now = time.time()
    deleted = 0
    kept = []
    for rec in _read_records(folder):
        if not all((folder / b).exists() for b in rec["by"]):
            continue  # a swap that never happened
        if "purged_at" in rec:
            if now - rec["purged_at"] < _RECORD_KEEP_S:
                kept.append(rec)
            continue
        if now - rec["at"] >= (rec.get("grace", GRACE_S) if grace_s is None else grace_s):
            for name in rec["files"]:
                try:
                    (folder / name).unlink()
                    deleted += 1
                except FileNotFoundError:
                    pass
            rec = {**rec, "purged_at": now}
        kept.append(rec)
    if deleted:
        fsync_dir(folder)
    if kept:
        _write_records(folder, kept)
    else:
        (folder / _SUPERSEDED).unlink()
        fsync_dir(folder)
    return deleted


def recover(root: Path | str, *, _locked: bool = False) -> int:
    """Finish batches a crash interrupted after their journal record; returns the batches finished.

    A record lists a batch's hidden temp files and their final names: every temp file still there is
    renamed into place (roll forward), then the record is deleted.  Temp files of batches that never
    wrote a record stay hidden (rolled back) and are removed by compaction.  Runs under the writer
    lock: ``write_calls`` and ``replace_calls`` call it before writing; call it yourself with
    ``_locked=False`` to take the lock.
    """
    if not _locked:
        with writer_lock(root):
            return recover(root, _locked=True)
    journal = Path(root) / DATASET / _JOURNAL
    if not journal.is_dir():
        return 0
    done = 0
    for record in sorted(journal.iterdir()):
        if record.name.startswith("."):  # a record being written when the crash came: never committed
            record.unlink()
            continue
        entries = json.loads(record.read_text(encoding="utf-8"))
        folders = set()
        for temp_rel, target_rel in entries:
            temp, target = Path(root) / temp_rel, Path(root) / target_rel
            if temp.exists():
                os.replace(temp, target)
            folders.add(target.parent)
        for folder in folders:
            fsync_dir(folder)
        record.unlink()
        done += 1
    _drop_empty(journal)
    return done


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
    return table.take(picked.take(pc.sort_indices(picked)))  # the picked row numbers, in table order


def _by_day(table: pa.Table) -> Iterator[tuple[date, pa.Table]]:
    """Split rows by the UTC date of ``start_utc``, keeping the batch's order within a day.

    A ``write_calls`` file is one row group, so sorting inside it prunes nothing, and every reader
    orders explicitly (``ORDER BY start_utc, call_id``); files that are sorted (``replace_calls``,
    compaction) are sorted per day by ``_write_temp``.  When the days already come in order each day is a
    zero-copy slice, otherwise its runs of consecutive rows are (``_days_interleaved``).
    """
    if table.num_rows == 0:
        return
    days = pc.cast(table.column("start_utc"), pa.date32()).combine_chunks()
    day_no = days.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(day_no) > 1 and np.any(day_no[1:] < day_no[:-1]):  # days interleave
        yield from _days_interleaved(table, days, day_no)
        return
    bounds = np.flatnonzero(np.diff(day_no)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(day_no)]))
    for a, b in zip(starts.tolist(), ends.tolist()):
        yield days[a].as_py(), table.slice(a, b - a)


#: Above this many runs of equal days, a batch is gathered day by day (``take``) instead of sliced.
_MAX_RUNS = 256


def _days_interleaved(table: pa.Table, days: pa.Array, day_no: np.ndarray) -> Iterator[tuple[date, pa.Table]]:
    """Days of a batch whose rows are not grouped by day — typically a few calls that started before
    midnight in the first file after it.  Each day is its runs of consecutive rows, sliced (no copy)
    and chained; only a batch in no useful order (more than ``_MAX_RUNS`` runs) is gathered by ``take``."""
    bounds = np.flatnonzero(np.diff(day_no)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(day_no)]))
    if len(starts) > _MAX_RUNS:
        order = np.argsort(day_no, kind="stable")
        ordered = day_no[order]
        cuts = np.flatnonzero(np.diff(ordered)) + 1
        for a, b in zip(np.concatenate(([0], cuts)).tolist(), np.concatenate((cuts, [len(ordered)])).tolist()):
            yield days[int(order[a])].as_py(), table.take(pa.array(order[a:b]))
        return
    runs: dict[int, list[tuple[int, int]]] = {}
    for a, b in zip(starts.tolist(), ends.tolist()):
        runs.setdefault(int(day_no[a]), []).append((a, b))
    for day in sorted(runs):
        parts = [table.slice(a, b - a) for a, b in runs[day]]
        yield days[runs[day][0][0]].as_py(), parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def _data_files(folder: Path) -> list[Path]:
    """A partition's live files: the same resolution every reader uses (``live_files``)."""
    return live_files(folder)


def _read_oldest_first(files: Sequence[Path], schema: pa.Schema) -> pa.Table:
    """The files' rows, oldest file first: ``unique_calls(keep="last")`` then keeps the latest version."""
    ordered = sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))
    # one file at a time: a multi-file read does not promise to keep the files' order
    return pa.concat_tables([pq.read_table(str(p), schema=schema, partitioning=None) for p in ordered])


def _read_records(folder: Path) -> list[dict]:
    try:
        return json.loads((folder / _SUPERSEDED).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read {folder / _SUPERSEDED}: {exc}") from exc


def _dead_names(records: list[dict], listed: set[str]) -> set[str]:
    """Names superseded by a swap whose replacement is in *listed* (the reader's own listing)."""
    return {name for rec in records if all(b in listed for b in rec["by"]) for name in rec["files"]}


def _write_records(folder: Path, records: list[dict]) -> None:
    temp = folder / f".{_SUPERSEDED}.tmp"
    with open(temp, "w", encoding="utf-8") as fh:
        json.dump(records, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, folder / _SUPERSEDED)
    fsync_dir(folder)


def _in_order(indices: pa.Array) -> bool:
    """Whether sort indices are 0, 1, 2, … (the rows are sorted already)."""
    idx = indices.to_numpy(zero_copy_only=False)
    return bool(len(idx) == 0 or (idx[0] == 0 and np.all(np.diff(idx) == 1)))


def _existing_ids(files: list[Path]) -> pa.Array:
    """The ``call_id``s of *files*; each file's are read once per process and remembered (keyed by path,
    size and mtime, so a file rewritten by anyone is read again)."""
    if not files:
        return pa.array([], pa.string())
    parts = []
    for f in files:
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        key = (str(f), st.st_size, st.st_mtime_ns)
        ids = _ID_CACHE.get(key)
        if ids is None:
            ids = pq.read_table(f, columns=["call_id"], partitioning=None).column("call_id").combine_chunks()
            _cache_ids(key, ids)
        parts.append(ids)
    if not parts:
        return pa.array([], pa.string())
    return pa.concat_arrays(parts) if len(parts) > 1 else parts[0]


#: (path, size, mtime_ns) → that file's call_ids: write_calls dedupes against a partition without
#: re-reading its files on every batch.  Bounded by ``_ID_CACHE_ROWS`` ids, oldest evicted first.
_ID_CACHE: dict[tuple[str, int, int], pa.Array] = {}
_ID_CACHE_ROWS = 5_000_000


def _cache_ids(key: tuple[str, int, int], ids: pa.Array) -> None:
    _ID_CACHE[key] = ids
    total = sum(len(v) for v in _ID_CACHE.values())
    while total > _ID_CACHE_ROWS and len(_ID_CACHE) > 1:
        oldest = next(iter(_ID_CACHE))
        total -= len(_ID_CACHE.pop(oldest))


def _remember_ids(target: Path, ids: pa.ChunkedArray | pa.Array) -> None:
    """Cache the ids of a file this process just wrote (no read-back on the next batch)."""
    try:
        st = target.stat()
    except FileNotFoundError:
        return
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    _cache_ids((str(target), st.st_size, st.st_mtime_ns), ids)


def _file_name(rows: pa.Table) -> str:
    """``part-<sha256 of the sorted call_ids>``: same set of calls, same name, whatever the batch order."""
    ids = pc.array_sort_indices(rows.column("call_id").combine_chunks())
    ordered = rows.column("call_id").combine_chunks().take(ids)  # a fresh array: offset 0, tight buffers
    offsets = np.frombuffer(ordered.buffers()[1], dtype="<i4", count=len(ordered) + 1)
    digest = hashlib.sha256(offsets.tobytes())
    digest.update(memoryview(ordered.buffers()[2])[: int(offsets[-1])])
    return f"part-{digest.hexdigest()[:20]}.parquet"


#: Columns with (nearly) one value per call: a dictionary page would only be built to be abandoned.
_UNIQUE_PER_CALL = frozenset({"call_id", "chain_id", "raw_ref", "calling_number", "called_number",
                              "original_called_number", "connected_number_e164", "start_utc", "answer_utc",
                              "end_utc"})
#: Columns readers filter on: min/max statistics let DuckDB/Spark skip row groups; others get none
#: (``call_id``s are random: their min/max prune nothing and cost the most to compute).
_STATISTICS = ("start_utc", "pbx", "site", "call_type", "carrier", "rating_status", "extension", "department")


def _parquet_options(schema: pa.Schema) -> dict:
    """zstd; dictionary pages only for the repetitive columns; statistics only where readers filter
    (less CPU than dictionaries and statistics on every column, and a smaller file:
    ``docs/dev/storage-performance.md``)."""
    return {"compression": "zstd",
            "use_dictionary": [n for n in schema.names if n not in _UNIQUE_PER_CALL],
            "write_statistics": [n for n in _STATISTICS if n in schema.names]}


def _write_temp(folder: Path, rows: pa.Table, *, sort: bool = True) -> tuple[Path, Path]:
    """Write *rows* to the hidden temp name of their final file, fsynced; return (temp, final) paths.

    ``sort``: rows in (``start_utc``, ``call_id``) order (compaction and ``replace_calls`` files);
    ``write_calls`` keeps the batch's order (one row group: a sort would buy no pruning).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if sort:
        order = pc.sort_indices(rows, sort_keys=[("start_utc", "ascending"), ("call_id", "ascending")])
        if not _in_order(order):  # rows handed over sorted already: no copy then
            rows = rows.take(order)
    target = folder / _file_name(rows)
    temp = folder / f".{target.name}.tmp"
    try:
        with open(temp, "wb") as fh:
            pq.write_table(rows, fh, **_parquet_options(rows.schema))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise StorageError(f"cannot write lake file {target}: {exc}") from exc
    return temp, target


class _Batch:
    """The files of one ``write_calls``: written per partition under temporary names, made visible together
    (see module doc)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.written: list[tuple[Path, Path]] = []

    def __enter__(self) -> _Batch:
        recover(self.root, _locked=True)  # entered under the writer lock
        return self

    def write(self, folder: Path, rows: pa.Table) -> Path:
        temp, target = _write_temp(folder, rows, sort=False)
        self.written.append((temp, target))
        return target

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            for temp, _target in self.written:
                temp.unlink(missing_ok=True)
            return
        _kill_hook("written")
        try:
            if len(self.written) == 1:
                temp, target = self.written[0]
                os.replace(temp, target)
                fsync_dir(target.parent)
            elif self.written:
                self._commit()
        except OSError as exc:
            raise StorageError(f"cannot write lake files under {self.root}: {exc}") from exc

    def _commit(self) -> None:
        journal = self.root / DATASET / _JOURNAL
        journal.mkdir(exist_ok=True)
        record = journal / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
        temp_record = journal / f".{record.name}.tmp"
        entries = [[str(t.relative_to(self.root)), str(f.relative_to(self.root))] for t, f in self.written]
        with open(temp_record, "w", encoding="utf-8") as fh:
            json.dump(entries, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp_record, record)
        fsync_dir(journal)  # the commit point: from here on the batch is finished, by us or by recover()
        for i, (temp, target) in enumerate(self.written):
            _kill_hook(f"committed:{i}")
            os.replace(temp, target)
        for folder in {target.parent for _, target in self.written}:
            fsync_dir(folder)
        record.unlink()
        _drop_empty(journal)


def _drop_empty(journal: Path) -> None:
    """Remove the journal folder once empty: readers check for it with one ``stat`` per partition."""
    try:
        journal.rmdir()
    except OSError:  # not empty: another record to recover
        return
    fsync_dir(journal.parent)


def _kill_hook(point: str) -> None:
    """Crash tests: ``CALLCOST_LAKE_KILL_AT=<point>`` SIGKILLs this process there (nothing is flushed or cleaned)."""
    if os.environ.get(KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(folder: Path) -> None:
    """Make a rename durable: the directory entry, not just the file, must reach the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _writer_lock(root: Path | str) -> Iterator[None]:
    """Serialise the writers of one lake (``write_calls``, ``replace_calls``, compaction, backup's snapshot)."""
    base = Path(root) / DATASET
    base.mkdir(parents=True, exist_ok=True)
    with open(base / _LOCK, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


writer_lock = _writer_lock


def _heal(root: Path) -> None:
    """A reader met a batch journal: finish a crashed batch now if no writer holds the lock, else let it be."""
    _without_waiting(root, lambda: recover(root, _locked=True))


def _without_waiting(root: Path, job) -> None:
    """Run *job* under the writer lock if no writer holds it; else let it be (the writer is about it).

    What readers do to clean up after a crashed writer: never blocks (a live writer finishes its own
    work in a moment) and never fails the read (a read-only lake is left for its next writer).
    """
    try:
        with open(root / DATASET / _LOCK, "a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                job()
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return


def _overdue(records: list[dict]) -> bool:
    """Some record's superseded files should be gone by now (their grace is over, nobody deleted them)."""
    now = time.time()
    return any("purged_at" not in r and now - r["at"] >= r.get("grace", GRACE_S) for r in records)


def _check_grace(grace_s: float) -> None:
    if not 0 <= grace_s <= MAX_GRACE_S:
        raise StorageError(f"a grace period of {grace_s:g} s is outside 0 to {MAX_GRACE_S:g} s: engines that read the "
                           "lake's folders directly would see superseded files beside their replacement that long")
