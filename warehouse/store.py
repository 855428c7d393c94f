"""Where rated calls go: the SQL database and the Parquet lake, both idempotent on ``call_id``.

The database is the system of record for "is this call already stored?" and for the ingest account
(:mod:`warehouse.ingest`: per batch and PBX, records received, stored, already stored, quarantined,
whether they came from ``callcost import`` or a live stream); the lake is what analysts and reports read.  Both are written for every batch; both skip calls they already hold, so
re-importing a file, replaying a dump or retrying after a crash changes nothing.

The live collector must start while the database is down (its batches then go to the offline
spool), so ``Store(ent, require_db=False)`` does not fail when the schema cannot be created at
start: it is created on the first write that reaches the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

import sqlalchemy as sa

from warehouse import ingest, lake
from warehouse.config import Enterprise
from warehouse.database import Database, StagedCalls, is_outage
from warehouse.errors import first_line

log = logging.getLogger("callcost.warehouse.store")

#: Below this many rows a second thread costs more than the overlap saves.
_OVERLAP_FROM = 20_000
#: How long :meth:`Store.stage` waits for a spare stage (the store thread frees one per batch it moves).
STAGE_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class FileIngest:
    """Ingest accounting of one imported file: records read, parsed, quarantined (with reasons), size, SHA-256."""

    source: str
    records: int
    parsed: int
    quarantined: list
    bytes: int
    sha256: str

    def segment(self, pbx: str, received_at: datetime) -> ingest.SegmentRow:
        """The file as one piece of the ingest account (``transport`` "import", the whole file, final)."""
        return ingest.SegmentRow(pbx=pbx, transport=ingest.IMPORT, stream=self.source, first_offset=0,
                                 last_offset=self.bytes, bytes=self.bytes, sha256=self.sha256,
                                 received=self.records, parsed=self.parsed, quarantined=len(self.quarantined),
                                 rated=0, unrated=0, final=True, received_at=received_at)


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
                ingest.create_tables(self.db.engine)
                self.schema_ready = True

    def save(self, rated: pa.Table, staged: StagedCalls | None = None) -> SaveResult:
        """Store a batch of rated calls; calls already stored are skipped in both places.

        The lake file is written on a second thread while the database inserts: Parquet encoding and
        SQLite/PostgreSQL both release the GIL for their heavy work, so the two overlap on two cores.
        Both must succeed for the batch to count as saved; an error from either is raised.
        *staged*: :meth:`stage`'s result for this *rated* table (the insert uses it up; on an error before
        the insert, whoever staged it releases it).
        """
        self.ensure_schema()
        if rated.num_rows < _OVERLAP_FROM:
            inserted = self.db.insert_calls(rated, staged)
            lake.write_calls(self.lake_root, rated)
        else:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-writer") as pool:
                lake_write = pool.submit(lake.write_calls, self.lake_root, rated)
                try:
                    inserted = self.db.insert_calls(rated, staged)
                finally:
                    lake_write.result()  # always waited for: never leave a lake write running behind an error
        unrated = int(pc.sum(pc.equal(rated.column("rating_status"), "unrated")).as_py() or 0)
        return SaveResult(inserted=inserted, skipped=rated.num_rows - inserted, unrated=unrated)

    def stage(self, rated: pa.Table) -> StagedCalls | None:
        """Do the database's share of :meth:`save` that needs no lock on it now, on this thread (see
        :meth:`Database.stage_calls`); pass the result to ``save``.  None when there is nothing to do early.

        Waits (up to ``STAGE_WAIT_S``) while both spare stages hold earlier batches: this thread is then
        ahead of the store anyway, and a batch it does not stage costs the store thread the bulk load.
        """
        if rated.num_rows < _OVERLAP_FROM:
            return None
        return self.db.stage_calls(rated, wait_s=STAGE_WAIT_S)

    def save_by_pbx(self, rated: pa.Table, staged: StagedCalls | None = None) -> dict[str, SaveResult]:
        """:meth:`save`, with what it gave per PBX (the ingest account is per PBX).

        A batch of one PBX (every import batch, most live ones) is one :meth:`save`.  A live batch of
        several PBXs is saved one PBX at a time (its stage is then not used): ``insert_calls`` counts
        new rows, not whose they are, and a duplicate must be charged to the PBX that sent it.
        """
        if not rated.num_rows:
            if staged is not None:
                staged.release()
            return {}
        pbxs = pc.unique(rated.column("pbx")).to_pylist()
        if len(pbxs) == 1:
            return {pbxs[0]: self.save(rated, staged)}
        if staged is not None:
            staged.release()
        return {p: self.save(rated.filter(pc.equal(rated.column("pbx"), p))) for p in pbxs}

    def record_import(self, pbx: str, files: Sequence[FileIngest], saved: SaveResult | None,
                      *, rate_s: float = 0.0, store_s: float = 0.0) -> int:
        """The ingest account of one import batch (its files and their quarantined records), in one
        transaction (one commit per file costs more than parsing it).  Returns how many of the quarantined
        records were new to the quarantine (the others were quarantined by an earlier import of the file)."""
        if not files:
            return 0
        self.ensure_schema()
        now = datetime.now(timezone.utc)
        quarantined = [ingest.quarantine_row(pbx, q, now) for f in files for q in f.quarantined]
        with self.db.engine.begin() as conn:
            ids = ingest.write_batch(conn, ingest.IMPORT, [f.segment(pbx, now) for f in files], quarantined,
                                     {pbx: saved} if saved is not None else {}, rate_s=rate_s, store_s=store_s)
            return int(conn.execute(sa.select(ingest.account.c.quarantined)
                                    .where(ingest.account.c.id == ids[pbx])).scalar_one())

    def begin(self) -> AbstractContextManager[sa.Connection]:
        """A transaction on the database (``with store.begin() as conn``), schema created first."""
        self.ensure_schema()
        return self.db.engine.begin()
