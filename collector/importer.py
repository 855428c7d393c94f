"""Batch import of CDR files — the same parse → rate → store path as live collection.

A file is the unit of ingest accounting (received, parsed, quarantined, with its SHA-256), but not the
unit of work: per-file fixed costs (an Arrow read, a transaction) would dominate a month of one-minute
CUCM files.  So files are read in *bundles* of about ``bundle_bytes`` and parsed together when the
connector offers ``parse_many`` (one Arrow read for the bundle, a tally per file), and parsed calls
are rated and stored in batches of about ``batch_size`` rows.

The three stages run as a pipeline on their own threads, connected by bounded queues of one batch:
reading + parsing, rating, storing (the caller's thread).  Arrow, numpy, hashlib, Parquet and SQLite
release the GIL for their heavy work, so parsing batch *n+2* and rating batch *n+1* overlap storing
batch *n* on the second core.  A slow store slows parsing (the queues are bounded): memory stays at a
few batches whatever the number of files.  An error in any stage stops the others and is raised here.

A file the connector cannot read at all (garbage, a format it refuses whole) is quarantined whole, with
the reason and its bytes (``callcost quarantine retry`` re-parses it after a config fix), and the import
goes on with the next file: one bad file never sinks the others.  Each batch is stored first and then
accounted (:meth:`Store.record_import`: what was stored, already stored, quarantined), so a crash in
between makes a re-import count the batch's calls as already stored, never stored twice.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

from collector.connectors.base import Connector, FileTally, PbxContext, Quarantined, connector_for
from warehouse.config import Enterprise
from analytics.rating.chains_store import MARKS, join_stored
from warehouse.schema import PARSED_SCHEMA
from warehouse.errors import CallcostError
from analytics.rating.stage import RatingStage
from warehouse.store import FileIngest, SaveResult, Store

T = TypeVar("T")
log = logging.getLogger("callcost.collector.importer")

#: Bytes of files parsed by one ``parse_many`` call: large enough to amortise per-call costs, small
#: enough that a bundle's strings stay far below memory limits.
BUNDLE_BYTES = 32 << 20
#: Rows per rated batch: about one bundle.  The three stages overlap only from the second batch on, so
#: a month in two 250k batches kept one core idle most of the time; ~50k rows (6 batches per 300k CDRs)
#: lets parsing batch *n+1* run while *n* is rated and stored, at a per-batch cost of a few ms.
BATCH_ROWS = 50_000
#: The first bundle and batch of an import are this many times smaller than the full size (then double).
SLOW_START = 8
#: How the reason of a file quarantined whole begins (the connector could read no record of it).
FILE_NOT_READ = "file not read: "


@dataclass
class ImportReport:
    files: int = 0
    records: int = 0
    parsed: int = 0
    quarantined: int = 0
    already_quarantined: int = 0  # of the quarantined, how many the quarantine held already (a re-import)
    stored: int = 0
    duplicates: int = 0
    unrated: int = 0
    seconds: float = 0.0
    problems: list[Quarantined] = field(default_factory=list)
    #: files no record of which could be read: each quarantined whole (also in *problems*)
    files_quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def calls_per_s(self) -> float:
        return self.parsed / self.seconds if self.seconds else 0.0

    def add(self, other: "ImportReport") -> None:
        for name in ("files", "records", "parsed", "quarantined", "already_quarantined", "stored", "duplicates",
                     "unrated", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems)
        self.files_quarantined.extend(other.files_quarantined)


@dataclass
class _Batch:
    """Calls of one or more bundles, with the accounting of the files they came from."""

    calls: pa.Table
    files: list[FileIngest]


def pbx_context(ent: Enterprise, pbx_id: str) -> PbxContext:
    pbx = ent.pbx(pbx_id)  # an unknown id is a ConfigError naming the configured ones
    site = ent.sites[pbx.site]
    return PbxContext(pbx_id=pbx.id, site=pbx.site, timezone=site.timezone, options=dict(pbx.options),
                      voicemail_devices=site.voicemail_devices)


def import_files(
    ent: Enterprise,
    pbx_id: str,
    files: Iterable[Path],
    *,
    store: Store,
    stage: RatingStage | None = None,
    batch_size: int = BATCH_ROWS,
    bundle_bytes: int = BUNDLE_BYTES,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Parse, rate and store *files* from PBX *pbx_id*; quarantine what cannot be parsed."""
    started = time.perf_counter()
    connector = connector_for(ent.pbx(pbx_id).type, pbx_context(ent, pbx_id))
    stage = stage or RatingStage(ent)
    report = ImportReport()

    marks = MARKS <= connector.fields
    parsed = _in_background(_parsed_batches(connector, files, batch_size, bundle_bytes))
    rated = _in_background(_rated(parsed, stage, store, marks), discard=_release_preloaded)
    try:
        for batch, calls, preloaded, rate_s in rated:
            saved = None
            stored_at = time.perf_counter()
            try:
                if calls is not None:
                    # legs of chains begun in earlier batches: stitched in, the stored legs re-priced in place
                    joined = join_stored(stage, calls, store, marks_features=marks)
                    if joined.calls is not calls:
                        _release_preloaded((batch, calls, preloaded, rate_s))  # the preloaded copy holds the old figures
                        calls, preloaded = joined.calls, None
                    saved = store.save(calls, preloaded)
                    report.stored += saved.inserted
                    report.duplicates += saved.skipped
                    report.unrated += saved.unrated
            finally:
                _release_preloaded((batch, calls, preloaded, rate_s))  # used up by the insert, or never inserted
            account_batch(report, store, pbx_id, batch.files, saved, rate_s=rate_s,
                          store_s=time.perf_counter() - stored_at, progress=progress)
    finally:
        # stop the background stages now: an exception's traceback keeps these generators (and the stage
        # files of the batches rated ahead) alive until it is handled
        rated.close()
        parsed.close()
    report.seconds = time.perf_counter() - started
    return report


def account_batch(report: ImportReport, store: Store, pbx_id: str, files: list[FileIngest], saved: SaveResult | None,
                  *, rate_s: float, store_s: float, progress: Callable[[int], None] | None = None) -> None:
    """Record a stored batch in the ingest account and add it to *report* (the one-process and cluster paths).

    Stored, then accounted: a crash in between makes a re-import count the calls as already stored.
    """
    new_q = store.record_import(pbx_id, files, saved, rate_s=rate_s, store_s=store_s)
    report.already_quarantined += sum(len(f.quarantined) for f in files) - new_q
    for f in files:
        report.files += 1
        report.records += f.records
        report.parsed += f.parsed
        report.quarantined += len(f.quarantined)
        report.problems.extend(f.quarantined)
        report.files_quarantined.extend(q for q in f.quarantined if q.reason.startswith(FILE_NOT_READ))
    if progress:
        progress(len(files))


def _rated(parsed: Iterator[_Batch], stage: RatingStage, store: Store, marks_features: bool) -> Iterator[tuple]:
    """Rate each batch and do the store's early share of it (:meth:`Store.preload`) on this thread."""
    for b in parsed:
        if not b.calls.num_rows:
            yield b, None, None, 0.0
            continue
        started = time.perf_counter()
        calls = stage.rate_batch(b.calls, marks_features=marks_features)
        yield b, calls, store.preload(calls), time.perf_counter() - started


def _release_preloaded(item: tuple) -> None:
    """A rated batch that will not be saved (the import failed): its preload file goes back to the database."""
    preloaded = item[2]
    if preloaded is not None:
        preloaded.release()


def _parsed_batches(connector: Connector, files: Iterable[Path], batch_size: int,
                    bundle_bytes: int) -> Iterator[_Batch]:
    """Read files in bundles, parse each bundle, and group the calls into batches of about *batch_size* rows.

    Slow start: the first bundles and batches are an eighth, a quarter, a half of the full size, so
    rating and storing begin after a small parse instead of a full one (the other core idles until then).
    """
    tables: list[pa.Table] = []
    accounted: list[FileIngest] = []
    rows = 0
    target = max(batch_size // SLOW_START, 1)
    for units in _bundles(files, bundle_bytes):
        calls, tallies = _parse(connector, units)
        for tally, (data, _source) in zip(tallies, units):
            accounted.append(FileIngest(tally.source, tally.records_seen, tally.parsed, tally.quarantined,
                                        len(data), hashlib.sha256(data).hexdigest()))
        tables.append(calls)
        rows += calls.num_rows
        if rows >= target:
            yield _Batch(_concat(tables), accounted)
            tables, accounted, rows = [], [], 0
            target = min(target * 2, batch_size)
    if accounted:
        yield _Batch(_concat(tables), accounted)


def _parse(connector: Connector, units: list[tuple[bytes, str]]) -> tuple[pa.Table, list[FileTally]]:
    """One bundle through the connector (:meth:`Connector.parse_many`: file by file unless the format reads
    bundles).

    A bundle ``parse_many`` refuses is parsed again file by file, so only the file it refused is
    quarantined (whole, by :func:`_parse_file`).
    """
    try:
        batch = connector.parse_many(units)
        return batch.calls, batch.files
    except Exception:  # noqa: BLE001 — which file it was is found file by file
        if len(units) == 1:
            return _parse_file(connector, *units[0])
    calls, tallies = [], []
    for data, source in units:
        c, t = _parse_file(connector, data, source)
        calls.append(c)
        tallies.extend(t)
    return _concat(calls), tallies


def _parse_file(connector: Connector, data: bytes, source: str) -> tuple[pa.Table, list[FileTally]]:
    """One file; a file the connector refuses whole is one quarantined record holding its bytes.

    A connector that fails with something other than a ``CallcostError`` has a bug (it should name the
    file, line and field): the file is still quarantined, so the import goes on, and the traceback logged.
    """
    try:
        r = connector.parse(data, source)
    except Exception as exc:  # noqa: BLE001 — see the docstring
        if not isinstance(exc, CallcostError):
            log.warning("the %s connector failed on %s; the file is quarantined whole", type(connector).__name__, source,
                        exc_info=True)
        reason = str(exc) if isinstance(exc, CallcostError) else f"{type(exc).__name__}: {exc}"
        whole = Quarantined(source, None, None, None, f"{FILE_NOT_READ}{reason}", data)
        return PARSED_SCHEMA.empty_table(), [FileTally(source, 1, 0, [whole])]
    return r.calls, [FileTally(source, r.records_seen, r.calls.num_rows, r.quarantined)]


def _bundles(files: Iterable[Path], bundle_bytes: int) -> Iterator[list[tuple[bytes, str]]]:
    """The files' bytes in bundles of about *bundle_bytes* (the first ones smaller: see ``_parsed_batches``)."""
    units: list[tuple[bytes, str]] = []
    size = 0
    limit = max(bundle_bytes // SLOW_START, 1)
    for path in files:
        data = Path(path).read_bytes()
        units.append((data, str(path)))
        size += len(data)
        if size >= limit:
            yield units
            units, size = [], 0
            limit = min(limit * 2, bundle_bytes)
    if units:
        yield units


def _concat(tables: list[pa.Table]) -> pa.Table:
    """The bundles' calls as one table, without copying: the rating stage joins the chunks of the few
    columns it computes on, and the columns it passes through go to the store as they are."""
    tables = [t for t in tables if t.num_rows] or tables[:1]  # a file quarantined whole adds no columns
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables)


_DONE = object()


def _in_background(items: Iterator[T], depth: int = 1,
                   discard: Callable[[T], None] | None = None) -> Iterator[T]:
    """Run the generator *items* on its own thread, *depth* items ahead of the consumer.

    An exception in the producer is re-raised in the consumer; a consumer that stops early (an
    exception downstream) stops the producer at its next item.  Items made but never consumed then go
    to *discard* (a rated batch holds a preload file of the database until saved or released).
    """
    drop = discard or (lambda _item: None)
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: T) -> bool:
        """Queue *item* once there is room; False if the consumer stopped first."""
        while not stop.is_set():
            try:
                q.put((item, None), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            while not stop.is_set():  # checked before making the next item, not only after
                item = next(items, _DONE)
                if item is _DONE:
                    break
                if not hand_over(item):
                    drop(item)
                    return
            q.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer, which raises it
            q.put((_DONE, exc))

    worker = threading.Thread(target=produce, name="import-stage", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if item is _DONE:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while True:  # unblock a producer waiting on a full queue; what it made is discarded
            try:
                item, _exc = q.get_nowait()
            except queue.Empty:
                if not worker.is_alive():
                    break
                worker.join(timeout=0.05)
                continue
            if item is not _DONE:
                drop(item)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
