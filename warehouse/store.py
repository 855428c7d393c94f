"""Where rated calls go: the SQL database and the Parquet lake, both idempotent on ``call_id``.

The database is the system of record for "is this call already stored?" and for ingest accounting
(every file or stream segment: records received, parsed, quarantined, stored); the lake is what
analysts and reports read.  Both are written for every batch; both skip calls they already hold, so
re-importing a file, replaying a dump or retrying after a crash changes nothing.

The live collector must start while the database is down (its batches then go to the offline
spool), so ``Store(ent, require_db=False)`` does not fail when the schema cannot be created at
start: it is created on the first write that reaches the database.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from warehouse import lake
from warehouse.config import Enterprise
from warehouse.database import Database, PreloadedCalls, is_outage
from warehouse.errors import first_line

log = logging.getLogger("callcost.warehouse.store")

#: Below this many rows a second thread costs more than the overlap saves.
_OVERLAP_FROM = 20_000
#: How long :meth:`Store.preload` waits for a spare preload file (the store thread frees one per batch it moves).
PRELOAD_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class FileIngest:
    """Ingest accounting of one file: records read, parsed, quarantined (with reasons), its size and SHA-256."""

    source: str
    records: int
    parsed: int
    quarantined: list
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class SaveResult:
    inserted: int
    skipped: int
    unrated: int


class Store:
    """The SQL DB and the lake of one enterprise."""

    def __init__(self, ent: Enterprise, *, database_url: str | None = None, require_db: bool = True) -> None:
        """*require_db* False: a database that does not answer now is not an error (see module doc)."""
        self.ent = ent
        self.db = Database(database_url or ent.storage.database, ent.scale)
        self.lake_root = ent.storage.lake
        self._schema_lock = threading.Lock()
        self.schema_ready = False
        try:
            self.ensure_schema()
        except Exception as exc:
            if require_db or not is_outage(exc):
                raise
            log.warning("database %s does not answer at start (%s); its schema is created once it does",
                        self.db.engine.url.render_as_string(hide_password=True),
                        first_line(exc, 200))

    def ensure_schema(self) -> None:
        """Create the schema if this store has not done so yet (raises while the database is down)."""
        if self.schema_ready:
            return
        with self._schema_lock:
            if not self.schema_ready:
                self.db.create_schema()
                self.schema_ready = True

    def save(self, rated: pa.Table, preloaded: PreloadedCalls | None = None) -> SaveResult:
        """Store a batch of rated calls; calls already stored are skipped in both places.

        The lake file is written on a second thread while the database inserts: Parquet encoding and
        SQLite/PostgreSQL both release the GIL for their heavy work, so the two overlap on two cores.
        Both must succeed for the batch to count as saved; an error from either is raised.
        *preloaded*: :meth:`preload`'s result for this *rated* table (the insert uses it up; on an error before
        the insert, whoever preloaded it releases it).
        """
        self.ensure_schema()
        if rated.num_rows < _OVERLAP_FROM:
            inserted = self.db.insert_calls(rated, preloaded)
            lake.write_calls(self.lake_root, rated)
        else:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-writer") as pool:
                lake_write = pool.submit(lake.write_calls, self.lake_root, rated)
                try:
                    inserted = self.db.insert_calls(rated, preloaded)
                finally:
                    lake_write.result()  # always waited for: never leave a lake write running behind an error
        unrated = int(pc.sum(pc.equal(rated.column("rating_status"), "unrated")).as_py() or 0)
        return SaveResult(inserted=inserted, skipped=rated.num_rows - inserted, unrated=unrated)

    def preload(self, rated: pa.Table) -> PreloadedCalls | None:
        """Do the database's share of :meth:`save` that needs no lock on it now, on this thread (see
        :meth:`Database.preload_calls`); pass the result to ``save``.  None when there is nothing to do early.

        Waits (up to ``PRELOAD_WAIT_S``) while both spare preload files hold earlier batches: this thread is then
        ahead of the store anyway, and a batch it does not preload costs the store thread the bulk load.
        """
        if rated.num_rows < _OVERLAP_FROM:
            return None
        return self.db.preload_calls(rated, wait_s=PRELOAD_WAIT_S)

    def record_file(self, pbx: str, source: str, *, data: bytes, records: int, parsed: int, quarantined: list) -> None:
        """Ingest accounting for one file, and its quarantined records with their reasons."""
        self.record_files(pbx, [FileIngest(source, records, parsed, quarantined, len(data),
                                           hashlib.sha256(data).hexdigest())])

    def record_files(self, pbx: str, files: Sequence[FileIngest]) -> None:
        """Ingest accounting for many files in one transaction (one commit per file costs more than parsing it)."""
        if not files:
            return
        now = datetime.now(timezone.utc)
        quarantine = [
            {"pbx": pbx, "source": q.source, "line": q.line, "offset": q.offset, "field": q.field,
             "reason": q.reason, "raw": q.raw, "received_at": now}
            for f in files for q in f.quarantined
        ]
        batches = [
            {"pbx": pbx, "source": f.source, "received": f.records, "parsed": f.parsed,
             "quarantined": len(f.quarantined), "bytes": f.bytes, "sha256": f.sha256, "started_at": now,
             "finished_at": now}
            for f in files
        ]
        self.db.record_ingest(batches, quarantine)
