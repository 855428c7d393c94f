"""The live ingest pipeline: receive → parse → rate → store, each stage on its own worker thread.

Stages are connected by bounded :class:`~collector.channel.Channel` queues (bytes before parsing,
rows before rating, batches before storing), so a slow database slows the parser, which slows the
receivers, which stop reading their sockets — TCP flow control then holds the PBX back.  Nothing is
ever dropped to make room.

Batching: the rate worker collects parsed parts until ``batch_records`` rows or ``batch_ms`` have
passed, rates them in one vectorised call, and hands the batch to the store worker, which writes the
calls (idempotent on ``call_id``), the quarantine, the per-segment accounting and the checkpoints
— checkpoints move only after the calls are stored.

Many links, few records each: a parser call costs milliseconds whatever its size, so the parse worker
lingers briefly for more parts and parses all links of a PBX in one call.  A burst: once the parse
queue's memory (``queue_bytes``) is full, live parts are queued *spilled* — their bytes stay in the
raw dump, where they were written before anything else, and the parser reads them back — so a PBX
dumping its buffer is taken in at network speed while memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector import checkpoints
from collector.channel import Channel, Closed
from collector.batch_writer import BatchWriter
from collector.parsing import group_parts, parse_group
from collector.parts import ParsedGroup, Part, RatedBatch
from analytics.rating.chains_store import MARKS, join_stored
from analytics.rating.stage import RatingStage
from warehouse import ingest
from warehouse.database import is_outage
from warehouse.store import Store

log = logging.getLogger("callcost.collector")

#: Bytes of queued parts one parser call takes at most: about ``batch_records`` records (at the bytes per
#: record seen so far), within these bounds, …
PARSE_MAX_BYTES = 8 << 20
PARSE_FLOOR_BYTES = 256 << 10
#: … and below how many it waits (up to PARSE_LINGER_S) for more parts to parse with them.
PARSE_MIN_BYTES = 1 << 20
PARSE_LINGER_S = 0.05
#: Bytes per record assumed before any was parsed (a CUCM CDR is ~550, a canonical CSV line ~60).
FIRST_BYTES_PER_RECORD = 100.0
#: Rows of the first batch after a quiet spell; each next batch may be twice the last, up to batch_records.
SLOW_START_ROWS = 5_000


@dataclass
class SourceMetrics:
    """Counters per PBX for the health endpoint and the benchmarks."""

    bytes_received: int = 0
    records_received: int = 0
    parsed: int = 0
    quarantined: int = 0
    stored: int = 0
    rated: int = 0
    last_record_at: float = 0.0  # wall clock of the last stored record's arrival
    last_stored_at: float = 0.0
    lag_s: float = 0.0  # arrival → stored, for the last batch
    sessions_open: int = 0

    def count_stored(self, received: int, parsed: int, quarantined: int, rated: int, received_at: float,
                     wall: float) -> None:
        """Count one stored part (the store stage here, a remote unit's segment at the centre)."""
        self.records_received += received
        self.parsed += parsed
        self.quarantined += quarantined
        self.stored += parsed
        self.rated += rated
        if received:
            self.last_record_at = max(self.last_record_at, received_at)
        self.last_stored_at = wall


@dataclass
class PipelineConfig:
    batch_records: int = 50_000
    batch_ms: int = 1_000
    queue_bytes: int = 64 * 1024 * 1024
    queue_batches: int = 4
    parse_workers: int = 1
    #: received bytes that may wait in the raw dump instead of memory once ``queue_bytes`` is full
    #: (a burst is taken at network speed; the dump is the buffer).  Beyond it, receivers wait.
    spill_bytes: int = 16 << 30


class _Stopped(Exception):
    """Another stage failed: this worker stops quietly (the failure is reported once, by its own worker)."""


class Pipeline:
    """One per enterprise; every PBX's transports feed :attr:`parts`."""

    def __init__(self, store: Store, stage: RatingStage, config: PipelineConfig | None = None,
                 writer: BatchWriter | None = None) -> None:
        self.store = store
        self.writer = writer  # None: write straight to the store (a DB outage then stops the pipeline)
        self.stage = stage
        self.config = config = config or PipelineConfig()
        self.engine = store.db.engine
        if writer is None:  # a FailoverWriter creates them once the DB answers (it may be down at start)
            checkpoints.create_tables(self.engine)
        self.parts: Channel[Part] = Channel(config.queue_bytes, lambda p: p.weight, "parse")
        self.parsed: Channel[ParsedGroup] = Channel(max(config.batch_records * 2, 1), _group_rows, "rate")
        self.rated: Channel[RatedBatch] = Channel(config.queue_batches, name="store")
        self.metrics: dict[str, SourceMetrics] = defaultdict(SourceMetrics)
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._parsers_left = config.parse_workers
        # several parse workers keep the queue's order: takes are numbered, handed on in number order
        self._take_lock = threading.Lock()
        self._turn = threading.Condition()
        self._takes = 0  # takes numbered so far
        self._handed = 0  # takes whose groups are in self.parsed
        self._lock = threading.Lock()
        self.batches_stored = 0
        self._storing = False
        self.spilled = 0  # bytes of queued parts waiting in the raw dump, not in memory
        self.spilled_total = 0
        self._bytes_per_record = FIRST_BYTES_PER_RECORD
        self._batch_rows = min(SLOW_START_ROWS, config.batch_records)  # the next batch's size (slow start)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Pipeline:
        for k in range(self.config.parse_workers):
            self._spawn(self._parse_loop, f"collector-parse-{k}")
        self._spawn(self._rate_loop, "collector-rate")
        self._spawn(self._store_loop, "collector-store")
        return self

    def drain(self, timeout: float | None = None) -> None:
        """No more parts will come: finish everything queued, then stop the workers."""
        self.parts.close()
        for t in self._threads:
            t.join(timeout)
        if self.errors:
            raise self.errors[0]

    def submit(self, part: Part) -> None:
        """Queue a part from a thread (blocks while the parse queue is full)."""
        self.parts.put(part)

    async def offer(self, part: Part) -> None:
        """Queue a part from the event loop.  While the parse queue's memory is full, a part whose bytes
        are in the raw dump is queued without them (spilled) instead of waiting: the burst goes to
        disk at network speed and is read back by the parser.  Order is kept: it is one FIFO queue."""
        if part.can_spill and self.parts.load + part.weight > self.parts.capacity:
            with self._lock:
                room = self.spilled + len(part.data) <= self.config.spill_bytes
                if room:
                    self.spilled += len(part.data)
                    self.spilled_total += len(part.data)
            if room:
                part = part.spill()
        await self.parts.put_async(part)

    def queue_depths(self) -> dict[str, float]:
        return {**{c.name: c.load for c in (self.parts, self.parsed, self.rated)}, "spilled": self.spilled}

    def _spawn(self, target, name: str) -> None:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # a dead stage must not leave the others waiting forever
                log.exception("collector stage %s failed", name)
                self.errors.append(exc)
                for c in (self.parts, self.parsed, self.rated):
                    c.close()
        t = threading.Thread(target=run, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    # --- stages ------------------------------------------------------------------------------------

    def _parse_loop(self) -> None:
        """Take parts off the queue, parse them, hand the groups to the rate stage.

        With several workers (``parse_workers``) the takes are numbered in queue order and handed on in
        that order, and a take holding parts of a stream with an instance of its own
        (``Connector.for_stream``) is parsed only once every earlier take has been handed on: checkpoints
        then advance in stream order and a stream's connector sees its parts in order, as with one
        worker.  Stateless formats and files still parse side by side (a stateful format's takes wait
        for every earlier take, not only for those of the same stream: simple, and such formats come
        over one or two links per PBX).
        """
        closed = False
        try:
            while not closed:
                with self._take_lock:
                    try:
                        parts = self.parts.get_many(self._parse_bytes(), timeout=0.5, size=_size)
                    except Closed:
                        return
                    parts, closed = self._linger(parts)
                    if not parts:
                        continue
                    take, self._takes = self._takes, self._takes + 1
                parts = [self._restore(p) for p in parts]
                groups = group_parts(parts)
                if any(g[0].connector.repeats is not None for g in groups):  # a stream's own instance
                    self._await_turn(take)
                waiting: list[ParsedGroup] = []
                for group in groups:
                    parsed = parse_group(group)
                    self._learn_record_size(group, parsed)
                    waiting.append(parsed)
                    if self._handed == take:  # our turn (always, with one worker): on to rating at once
                        for ready in waiting:
                            self.parsed.put(ready)
                        waiting.clear()
                self._await_turn(take)
                for ready in waiting:
                    self.parsed.put(ready)
                with self._turn:
                    self._handed += 1
                    self._turn.notify_all()
        except _Stopped:
            return
        except Closed:
            if not self.errors:  # closed by the failure of another stage: that one is reported
                raise
        finally:
            with self._lock:
                self._parsers_left -= 1
                last = self._parsers_left == 0
            if last:
                self.parsed.close()

    def _await_turn(self, take: int) -> None:
        """Wait until every take before *take* has been handed on (at once with one parse worker)."""
        with self._turn:
            while self._handed != take:
                if self.errors:  # the worker holding an earlier take died: its turn never comes
                    raise _Stopped
                self._turn.wait(0.5)

    def _parse_bytes(self) -> int:
        """Bytes for the next parser call: about one batch of records (at its slow-start size).

        A parser call much larger than a batch makes the first batch wait for all of it and the last
        batch store alone (for 8 MB of 60-byte records, 140k calls of fill and drain during which one
        core idles); much smaller ones pay the per-call cost more often.
        """
        want = self._batch_rows * self._bytes_per_record
        return int(min(max(want, PARSE_FLOOR_BYTES), PARSE_MAX_BYTES))

    def _learn_record_size(self, parts: list[Part], parsed: ParsedGroup) -> None:
        records = int(parsed.received.sum())
        if records:
            seen = sum(_size(p) for p in parts) / records
            self._bytes_per_record += 0.5 * (seen - self._bytes_per_record)

    def _linger(self, parts: list[Part]) -> tuple[list[Part], bool]:
        """Wait up to ``PARSE_LINGER_S`` for more parts while the first ones are small: a parser call
        costs milliseconds whatever its size, so 200 links' few records each are parsed together.
        Returns the parts and whether the queue was closed meanwhile."""
        total = sum(_size(p) for p in parts)
        deadline = time.monotonic() + PARSE_LINGER_S
        enough = min(PARSE_MIN_BYTES, self._parse_bytes())
        while parts and total < enough:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                more = self.parts.get_many(self._parse_bytes() - total, timeout=remaining, size=_size)
            except Closed:
                return parts, True
            parts.extend(more)
            total += sum(_size(p) for p in more)
        return parts, False

    def _restore(self, part: Part) -> Part:
        if not part.spilled:
            return part
        with self._lock:
            self.spilled -= part.spilled
        return part.restored()

    def _rate_loop(self) -> None:
        pending: list[ParsedGroup] = []
        rows = 0
        oldest = 0.0
        limit_s = self.config.batch_ms / 1000
        while True:
            wait = max(limit_s - (time.monotonic() - oldest), 0.001) if pending else 0.5
            try:
                group = self.parsed.get(timeout=wait)
            except Closed:
                if pending:
                    self.rated.put(self._rate(pending))
                self.rated.close()
                return
            if group is not None:
                if not pending:
                    oldest = time.monotonic()
                pending.append(group)
                rows += group.calls.num_rows
            age = time.monotonic() - oldest
            # Time-based flushes wait while the store is still busy with the previous batch (up to 10 ×
            # batch_ms): under load batches grow, so fixed per-batch costs are paid less often.
            due = age >= limit_s and (not self._storing or age >= 10 * limit_s)
            # Slow start: a backlog's first batches are small, so storing starts after a small batch has
            # been parsed and rated instead of a full one (the other stages idle meanwhile).
            if pending and (rows >= self._batch_rows or due):
                self.rated.put(self._rate(pending))
                self._batch_rows = min(self.config.batch_records, max(SLOW_START_ROWS, 2 * rows))
                pending, rows = [], 0

    def _rate(self, groups: list[ParsedGroup]) -> RatedBatch:
        started = time.perf_counter()
        tables = [g.calls for g in groups if g.calls.num_rows]
        calls = pa.concat_tables(tables) if tables else groups[0].calls
        marks = _marks_features(groups)
        rated = self.stage.rate_batch(calls, marks_features=marks)
        offsets = np.cumsum([0] + [len(g.parts) for g in groups[:-1]])
        row_part = np.concatenate([g.row_part + off for g, off in zip(groups, offsets)]) if groups else np.zeros(0)
        # the database's bulk load of this batch, here, while the store thread moves the previous one
        staging = self.writer.preload if self.writer is not None else self.store.preload
        preloaded = staging(rated) if rated.num_rows else None
        return RatedBatch(groups, rated, row_part.astype(np.int64), time.perf_counter() - started, preloaded, marks)

    def _store_loop(self) -> None:
        while True:
            try:
                batch = self.rated.get(timeout=0.5)
            except Closed:
                return
            if batch is not None:
                self._storing = True
                try:
                    self._store(batch)
                finally:
                    self._storing = False
                    if batch.preloaded is not None:  # preloaded by the rating thread: used up, or given back here
                        batch.preloaded.release()

    def _joined(self, batch: RatedBatch) -> pa.Table:
        """The batch with the stored legs of its chains stitched in (``join_stored``), as the import does:
        a late leg — another batch, or after a restart — re-prices its chain's stored legs in place.

        The open chains are the stored legs, so this needs the database: while it is down the batch goes
        to the offline spool as rated, and the writer joins its chains when it drains the spool.  Rows keep their order (``row_part`` counts by position).
        A joined batch's preloaded copy holds the old figures: it is given back and the batch saved plain.
        """
        rated = batch.rated
        if not rated.num_rows or (self.writer is not None and not self.writer.online):
            return rated
        try:
            joined = join_stored(self.stage, rated, self.store, marks_features=batch.marks_features)
        except Exception as exc:
            if self.writer is None or not is_outage(exc):
                raise
            log.warning("chains not joined for a batch of %d calls: database unreachable (%s)", rated.num_rows, exc)
            return rated
        if joined.calls is not rated and batch.preloaded is not None:
            batch.preloaded.release()
            batch.preloaded = None
        return joined.calls

    def _store(self, batch: RatedBatch) -> None:
        started = time.perf_counter()
        rated = batch.rated = self._joined(batch)
        saved = self.store.save_by_pbx(rated, batch.preloaded) if rated.num_rows and self.writer is None else {}
        now = datetime.now(UTC)
        quarantine_rows = [ingest.quarantine_row(g.parts[0].pbx, q, now) for g in batch.groups for q in g.quarantined]
        parts = [p for g in batch.groups for p in g.parts]
        is_rated = np.zeros(rated.num_rows, bool)
        if rated.num_rows:
            is_rated = np.asarray(pc.equal(rated.column("rating_status"), "rated").to_numpy(zero_copy_only=False),
                                  bool)
        rated_per_part = np.bincount(batch.row_part[is_rated], minlength=len(parts)) if len(parts) else []
        received = np.concatenate([g.received for g in batch.groups])
        parsed = np.concatenate([g.parsed for g in batch.groups])
        quarantined = np.concatenate([g.n_quarantined for g in batch.groups])
        rows = []
        for k, p in enumerate(parts):
            loc = p.dump_location(max(p.range_end - 1, 0))
            rows.append(ingest.SegmentRow(
                pbx=p.pbx, transport=p.transport, stream=p.stream, first_offset=p.range_start,
                last_offset=p.range_end, bytes=p.range_end - p.range_start, sha256=p.sha256,
                received=int(received[k]), parsed=int(parsed[k]), quarantined=int(quarantined[k]),
                rated=int(rated_per_part[k]), unrated=int(parsed[k] - rated_per_part[k]), final=p.final,
                received_at=p.received_at, sequence=p.sequence,
                dump_ref=f"{loc[0]}@{loc[1] + 1}" if loc else None))
        if self.writer is None:
            checkpoints.record_batch(self.engine, ingest.LIVE, rows, quarantine_rows, saved, rate_s=batch.rate_s,
                                     store_s=time.perf_counter() - started)
        else:  # the DB or, while it is down, the offline spool: durable either way
            # a spooled batch's chains are joined when it is drained (FailoverWriter's join): it says how
            self.writer.write(rated, quarantine_rows, {"rate_s": batch.rate_s,
                                                       "marks_features": batch.marks_features},
                              rows, started, preloaded=batch.preloaded)
        wall = time.time()
        for k, p in enumerate(parts):
            m = self.metrics[p.pbx]
            m.count_stored(int(received[k]), int(parsed[k]), int(quarantined[k]), int(rated_per_part[k]),
                           p.received_at.timestamp(), wall)
            m.lag_s = wall - p.received_at.timestamp()
            if p.on_stored is not None:
                p.on_stored()
        self.batches_stored += 1


def _marks_features(groups: list[ParsedGroup]) -> bool:
    """Do all the batch's connectors mark every leg of a multi-leg scenario (``chains_store.MARKS``)?"""
    return all(MARKS <= p.connector.fields for g in groups for p in g.parts)


def _size(p: Part) -> int:
    return p.size


def _group_rows(g: ParsedGroup) -> int:
    return max(g.calls.num_rows, 1)

