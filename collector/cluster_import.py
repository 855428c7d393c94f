"""``callcost import --cluster ADDRESS``: files become Dask tasks; workers parse, rate and write the lake.

Why this split: parsing and rating are most of an import's cost and need nothing shared, so they go
to the workers; "is this call stored already?", the chains begun in earlier files and the ingest
account live in the SQL database, so the coordinator keeps them, applying the tasks' results in
file order — the same order the one-process path (:func:`collector.importer.import_files`) stores
batches in, hence the same calls row for row.

A task is a run of consecutive files of about ``TASK_BYTES``.  On a worker it is the one-process
code: :func:`collector.importer._parsed_batches` (bundles, ``parse_many``, files the connector
refuses quarantined whole), one ``RatingStage.rate_batch`` over the task's calls (legs of one chain
in the task are stitched there), and ``lake.write_calls``.  The coordinator then, per task in order:
``join_stored`` (legs of chains begun in earlier tasks; rows whose figures that changes are replaced
in the lake), ``Database.insert_calls`` (PostgreSQL COPY / the ADBC bulk path), and the ingest account.

Faults.  A worker killed mid-task: the scheduler runs the task again on another worker; the lake
skips the ``call_id``s the dead one already wrote, and nothing reached the database.  The
coordinator killed mid-run: a rerun writes nothing twice — the lake and the database both skip what
they hold, and the account counts those calls as already stored, as for any re-import.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from analytics.rating.chains_store import MARKS, differs, join_stored
from analytics.rating.stage import RatingStage
from collector.connectors.base import connector_for
from collector.importer import BUNDLE_BYTES, ImportReport, _parsed_batches, account_batch, pbx_context
from warehouse import cluster, lake
from warehouse.config import Enterprise, load_config
from warehouse.store import FileIngest, SaveResult, Store

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["KILL_ONCE_ENV", "TASK_BYTES", "import_on_cluster"]

#: Bytes of files per task: a few rating batches' worth (the per-task cost — a result sent back, a
#: database load — stays small), and at least four tasks per worker so the last ones do not run alone.
TASK_BYTES = 2 * BUNDLE_BYTES
#: Fault tests: a path; the first worker task to find it absent creates it and SIGKILLs its own process
#: after writing its lake files, before returning (a worker dying mid-task).
KILL_ONCE_ENV = "CALLCOST_CLUSTER_KILL_ONCE"
_NO_SPLIT = 1 << 62  # one parsed batch per task: the task's calls are rated together


@dataclass
class TaskResult:
    """What a worker sends back: the task's rated calls (already in the lake) and its files' accounting."""

    calls: pa.Table | None
    files: list[FileIngest] = field(default_factory=list)
    rate_s: float = 0.0
    seconds: float = 0.0  # the task's wall time on its worker: parse + rate + lake write (per-worker figures)
    cpu_s: float = 0.0  # the worker process's CPU time for the task (what a dedicated core would take)


_STATE: dict[tuple[str, str], tuple[tuple[float, ...], tuple[Enterprise, RatingStage, object]]] = {}


def _inputs(ent: Enterprise) -> tuple[float, ...]:
    """Modification times of every file the rating reads: the config, the tariffs, the directory."""
    paths = [ent.path, ent.reference_tariff, *(c.tariff for c in ent.carriers.values()),
             *([ent.directory_file] if ent.directory_file else [])]
    return tuple(os.stat(p).st_mtime_ns for p in paths)


def _worker_state(config: str, pbx_id: str) -> tuple[Enterprise, RatingStage, object]:
    """The config, rating stage and connector of a worker process, built once while their files are unchanged.

    A worker of a long-running cluster serves many imports: a tariff edited between two of them must be
    seen, so the cache is checked against the files' modification times on every task.
    """
    key = (config, pbx_id)
    cached = _STATE.get(key)
    if cached is not None and _inputs(cached[1][0]) == cached[0]:
        return cached[1]
    ent = load_config(config)
    state = (ent, RatingStage(ent), connector_for(ent.pbx(pbx_id).type, pbx_context(ent, pbx_id)))
    _STATE.clear()
    _STATE[key] = (_inputs(ent), state)
    return state


def import_task(config: str, pbx_id: str, paths: list[str]) -> TaskResult:
    """One task on a worker: parse *paths*, rate their calls, write them to the lake (idempotent)."""
    started, cpu = time.perf_counter(), time.process_time()
    ent, stage, connector = _worker_state(config, pbx_id)
    batches = list(_parsed_batches(connector, [Path(p) for p in paths], _NO_SPLIT, BUNDLE_BYTES))
    files = [f for b in batches for f in b.files]
    parsed = [b.calls for b in batches if b.calls.num_rows]
    if not parsed:
        return TaskResult(None, files, seconds=time.perf_counter() - started, cpu_s=time.process_time() - cpu)
    rating = time.perf_counter()
    rated = stage.rate_batch(pa.concat_tables(parsed) if len(parsed) > 1 else parsed[0],
                             marks_features=MARKS <= connector.fields)
    rate_s = time.perf_counter() - rating
    lake.write_calls(ent.storage.lake, rated)
    _kill_once()
    return TaskResult(rated, files, rate_s, time.perf_counter() - started, time.process_time() - cpu)


def _kill_once() -> None:
    marker = os.environ.get(KILL_ONCE_ENV)
    if not marker:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def import_on_cluster(ent: Enterprise, pbx_id: str, files: Iterable[Path], *, store: Store, client: "Client",
                      stage: RatingStage | None = None, task_bytes: int = TASK_BYTES,
                      progress: Callable[[int], None] | None = None) -> ImportReport:
    """:func:`collector.importer.import_files` with parsing, rating and lake writes on *client*'s workers."""
    started = time.perf_counter()
    ent.pbx(pbx_id)  # an unknown id fails here, before any task is sent
    marks = MARKS <= connector_for(ent.pbx(pbx_id).type, pbx_context(ent, pbx_id)).fields
    stage = stage or RatingStage(ent)
    paths = [Path(f) for f in files]
    groups = cluster.chunks(paths, cluster.file_sizes(paths), task_bytes, at_least=4 * cluster.worker_count(client))
    run = uuid.uuid4().hex[:8]
    futures = [client.submit(import_task, str(ent.path), pbx_id, [str(p) for p in g], pure=False,
                             key=f"callcost-import-{run}-{i}") for i, g in enumerate(groups)]
    report = ImportReport()
    try:
        for future in futures:  # in file order, whatever order they finish in
            out: TaskResult = future.result()
            future.release()
            store_started = time.perf_counter()
            saved = _store(stage, store, out.calls, marks) if out.calls is not None else None
            account_batch(report, store, pbx_id, out.files, saved, rate_s=out.rate_s,
                          store_s=time.perf_counter() - store_started, progress=progress)
            if saved is not None:
                report.stored += saved.inserted
                report.duplicates += saved.skipped
                report.unrated += saved.unrated
    finally:
        client.cancel(futures)
    report.seconds = time.perf_counter() - started
    return report


def _store(stage: RatingStage, store: Store, calls: pa.Table, marks: bool) -> SaveResult:
    """A task's calls into the database, after joining the chains stored before them (as ``import_files``)."""
    joined = join_stored(stage, calls, store, marks_features=marks).calls
    if joined is not calls:
        moved = differs(calls, joined)
        if moved.any():  # the worker wrote them before their chain was joined
            lake.replace_calls(store.lake_root, joined.filter(pa.array(moved)))
    store.ensure_schema()
    inserted = store.db.insert_calls(joined)
    unrated = int(pc.sum(pc.equal(joined.column("rating_status"), "unrated")).as_py() or 0)
    return SaveResult(inserted=inserted, skipped=joined.num_rows - inserted, unrated=unrated)
