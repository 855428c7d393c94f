"""Offline-database failover for the collector's store stage: spool when the main DB is down, drain on recovery.

Why: a PBX cannot wait for a database administrator.  When the main SQL database does not answer
(connection refused, server crashed, admin shutdown — anything the driver reports as operational), the
store stage writes the whole batch — rated calls, quarantined records, segment accounting — to the
local offline spool (:mod:`collector.spool`) and acknowledges it: a spooled batch is durable.  A
background thread retries with exponential backoff; once the database answers it commits the backlog
oldest first, and only when the spool is empty do direct writes resume, so arrival order holds.
Each drained batch is first joined to the chains stored before it (the ``join`` the service passes:
``join_stored``), as a batch written directly is, so a transfer whose legs came in during an outage is
still priced as one carrier call.

The lake is deferred together with the database: one batch is committed by :meth:`Store.save` (DB and
lake, both idempotent on ``call_id``) whether it comes straight from the pipeline or from the spool, so
the two always end up holding exactly the same calls.  The quarantine and accounting rows of a batch
are written in one transaction with a marker row keyed by the batch's id, so a crash mid-drain (or a
commit whose answer was lost) never counts a batch twice; the calls themselves are idempotent.

Data errors (a call that does not fit the schema) are not outages: they still stop the pipeline.

The database may also be down when the collector *starts*: the schema (warehouse, accounting and the
marker table) is then created by the first commit that reaches it — a spooled batch or a direct write.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from collector import checkpoints
from collector.batch_writer import BatchWriter, WriteOutcome
from warehouse import ingest
from warehouse.database import PreloadedCalls, UtcDateTime, is_outage
from warehouse.errors import first_line
from collector.spool import Spool
from warehouse.store import Store

log = logging.getLogger("callcost.collector.failover")

#: What an event-only spool item holds instead of calls.
_NO_CALLS = pa.table({"no_calls": pa.array([], pa.int8())})
_metadata = sa.MetaData()
#: One row per batch committed through the failover writer: what makes a repeated drain harmless.
commits = sa.Table(
    "collector_batch_commits", _metadata,
    sa.Column("batch_key", sa.Text, primary_key=True),
    sa.Column("committed_at", UtcDateTime, nullable=False),
)


__all__ = ["FailoverWriter", "WriteOutcome"]


class FailoverWriter(BatchWriter):
    """Writes the store stage's batches to the main DB, or to the offline spool while the DB is down."""

    def __init__(self, store: Store, spool_dir: Path | str, *, retry_initial_s: float = 0.5,
                 retry_max_s: float = 30.0, final_drain_s: float = 5.0,
                 join: Callable[[pa.Table, bool], pa.Table] | None = None) -> None:
        self.store = store
        #: joins a drained batch's legs to their stored chains (``join_stored``): a batch spooled while the
        #: database was down could not be joined when it was rated.  Called with (calls, marks_features).
        self.join = join
        self.engine = store.db.engine
        self.spool = Spool(spool_dir)
        self.retry_initial_s, self.retry_max_s, self.final_drain_s = retry_initial_s, retry_max_s, final_drain_s
        self._lock = threading.Lock()  # held by a direct write, and to switch back online
        self._wake = threading.Event()
        self._stopping = False
        self._online = self.spool.head() is None  # a backlog from before a restart is drained first
        self.last_error: str | None = None
        self.offline_since: float | None = None if self.online else time.time()
        self.drained_batches = 0
        if not self.online:
            log.warning("offline spool %s holds %d batches from before; draining them before direct writes",
                        self.spool.folder, self.spool.stats().batches)
        self._schema_ready = False
        try:
            self._ensure_schema()
        except Exception as exc:  # down at start: the first commit that reaches it creates the schema
            if not is_outage(exc):
                raise
        self._thread = threading.Thread(target=self._retry_loop, name="collector-db-retry", daemon=True)
        self._thread.start()

    # --- the store stage ---------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """False while the database is down (or a backlog from before is still draining): writes go to the spool."""
        return self._online

    @online.setter
    def online(self, value: bool) -> None:
        self._online = value

    def preload(self, rated: pa.Table) -> PreloadedCalls | None:
        """The store's early share of writing *rated* (:meth:`Store.preload`), while the database answers."""
        return self.store.preload(rated) if self.online else None

    def write(self, rated: pa.Table, quarantine: list[dict[str, Any]], batch: dict[str, Any],
              segments: list[ingest.SegmentRow], started: float, key: str | None = None,
              preloaded: PreloadedCalls | None = None) -> WriteOutcome:
        """Commit one batch, or spool it durably; either way it may be acknowledged when this returns.

        *key* (default: a fresh one) names the batch in ``collector_batch_commits``: a batch written
        twice under the same key (a remote unit's resend) is counted once.  *preloaded*: :meth:`preload`'s
        result for *rated* (a spooled batch does not use it: the caller that preloaded it releases it).
        """
        key = key or uuid.uuid4().hex
        inserted = self._commit_or_spool(
            lambda: self._commit(key, rated, quarantine, batch, segments, started, preloaded), rated,
            {"key": key, "quarantine": [ingest.quarantine_to_json(q) for q in quarantine], "batch": batch,
             "segments": [_encode_segment(s) for s in segments]})
        return WriteOutcome(0, 0, True) if inserted is None else WriteOutcome(inserted, rated.num_rows - inserted, False)

    def record_event(self, pbx: str, stream: str, kind: str, detail: str = "", key: str | None = None) -> None:
        """A link event (``checkpoints.events``); while the DB is down it waits in the spool, in order with the calls."""
        key = key or uuid.uuid4().hex
        event = {"pbx": pbx, "stream": stream, "kind": kind, "detail": detail, "at": datetime.now(UTC)}
        self._commit_or_spool(lambda: self._commit_events(key, [event]), _NO_CALLS,
                              {"key": key, "events": [{**event, "at": event["at"].isoformat()}]})

    def _commit_or_spool(self, commit: Callable[[], int], table: pa.Table, meta: dict[str, Any]) -> int | None:
        """*commit* if the DB is online and answers; otherwise spool (*table*, *meta*) and return None."""
        went_offline = False
        with self._lock:
            if self.online:
                try:
                    return commit()
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    self._go_offline(exc)
                    went_offline = True
            self.spool.append(table, meta)
        if went_offline:  # later appends leave the retry thread to its backoff
            self._wake.set()
        return None

    def status(self) -> dict[str, Any]:
        st = self.spool.stats()
        age = st.oldest_age_s()
        return {"database": "online" if self.online else "offline", "backlog_batches": st.batches,
                "backlog_rows": st.rows, "oldest_age_s": round(age, 3) if age is not None else None,
                "offline_since": _iso(self.offline_since), "last_error": self.last_error,
                "drained_batches": self.drained_batches, "spool": str(self.spool.folder)}

    def close(self) -> None:
        """Stop retrying (after up to ``final_drain_s`` to drain); a backlog left behind is drained on the next start."""
        if not self.online and self.final_drain_s > 0:
            self._wake.set()
            deadline = time.monotonic() + self.final_drain_s
            while not self.online and time.monotonic() < deadline and self._thread.is_alive():
                time.sleep(0.05)
        self._stopping = True
        self._wake.set()
        self._thread.join(10)
        if not self.online:
            log.warning("stopping with %d batches in the offline spool %s; they are committed on the next start",
                        self.spool.stats().batches, self.spool.folder)

    # --- internals ---------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        """Warehouse tables, accounting tables and the marker table, once per process (raises on an outage)."""
        if self._schema_ready:
            return
        self.store.ensure_schema()
        checkpoints.create_tables(self.engine)
        _metadata.create_all(self.engine)
        self._schema_ready = True

    def _commit(self, key: str, rated: pa.Table, quarantine: list[dict[str, Any]], batch: dict[str, Any],
                segments: list[ingest.SegmentRow], started: float, preloaded: PreloadedCalls | None = None) -> int:
        """Calls (DB + lake, idempotent), then quarantine + ingest account + checkpoints + marker in one transaction.

        *batch*: ``rate_s``, the seconds the batch took to rate (the rest of what a sender puts there is
        recomputed: what is stored and already stored is known only now).
        """
        self._ensure_schema()
        saved = self.store.save_by_pbx(rated, preloaded) if rated.num_rows else {}
        with self.engine.begin() as conn:
            if not self._already(conn, key):
                checkpoints.write_batch(conn, ingest.LIVE, segments, quarantine, saved,
                                        rate_s=float(batch.get("rate_s", 0.0)), store_s=time.perf_counter() - started)
        return sum(s.inserted for s in saved.values())

    def _commit_events(self, key: str, events: list[dict[str, Any]]) -> int:
        self._ensure_schema()
        with self.engine.begin() as conn:
            if not self._already(conn, key):
                conn.execute(checkpoints.events.insert(), events)
        return 0

    def _already(self, conn: sa.Connection, key: str) -> bool:
        """Was the item *key* committed before?  If not, mark it (in the caller's transaction)."""
        if conn.execute(sa.select(commits.c.batch_key).where(commits.c.batch_key == key)).first() is not None:
            return True
        conn.execute(commits.insert().values(batch_key=key, committed_at=datetime.now(UTC)))
        return False

    def _go_offline(self, exc: BaseException) -> None:
        self.online = False
        self.offline_since = time.time()
        self.last_error = first_line(exc)
        log.warning("main database unreachable (%s): batches go to the offline spool %s until it answers",
                    self.last_error, self.spool.folder)

    def _retry_loop(self) -> None:
        delay = self.retry_initial_s
        while not self._stopping:
            if self.online:
                self._wake.wait()
                self._wake.clear()
                delay = self.retry_initial_s
                continue
            try:
                drained = self._drain()
            except Exception:  # e.g. the spool's disk: keep retrying rather than let the thread die quietly
                log.exception("offline spool drain failed")
                drained = False
            if drained:
                delay = self.retry_initial_s
                continue
            st = self.spool.stats()
            log.warning("main database still unreachable (%s); backlog %d batches / %d rows, oldest %.0f s; "
                        "next try in %.1f s", self.last_error, st.batches, st.rows, st.oldest_age_s() or 0, delay)
            self._wake.wait(delay)
            self._wake.clear()
            delay = min(delay * 2, self.retry_max_s)

    def _drain(self) -> bool:
        """Commit the backlog oldest first; True once it is empty and direct writes resumed."""
        while True:
            item = self.spool.head()
            if item is None:
                with self._lock:
                    if self.spool.head() is None:  # nothing was spooled while we looked
                        self.online = True
                        log.info("main database back: offline backlog committed (%d batches so far), "
                                 "direct writes resumed after %.0f s offline", self.drained_batches,
                                 time.time() - (self.offline_since or time.time()))
                        self.offline_since = None
                        return True
                continue
            try:
                table, meta = self.spool.read(item)
                if "events" in meta:
                    self._commit_events(meta["key"], [{**e, "at": datetime.fromisoformat(e["at"])}
                                                      for e in meta["events"]])
                else:
                    if self.join is not None and table.num_rows:
                        table = self.join(table, bool(meta["batch"].get("marks_features", False)))
                    self._commit(meta["key"], table, [ingest.quarantine_from_json(q) for q in meta["quarantine"]],
                                 meta["batch"], [_decode_segment(s) for s in meta["segments"]],
                                 time.perf_counter())
            except Exception as exc:
                if not is_outage(exc):  # kept, and retried with backoff: a spooled batch is never dropped
                    log.exception("offline spool item %s cannot be committed (not an outage); retrying", item.path)
                self.last_error = first_line(exc)
                return False
            self.spool.remove(item)
            self.drained_batches += 1
            if self._stopping:
                return False



def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat() if t else None


def _encode_segment(s: ingest.SegmentRow) -> dict[str, Any]:
    return {**asdict(s), "received_at": s.received_at.isoformat()}


def _decode_segment(s: dict[str, Any]) -> ingest.SegmentRow:
    return ingest.SegmentRow(**{**s, "received_at": datetime.fromisoformat(s["received_at"])})
