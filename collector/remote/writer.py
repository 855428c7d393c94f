"""The remote unit's store stage: each batch goes into the outbox instead of a database.

It has the pipeline's writer interface (``write``, ``record_event``, ``status``, ``close``), the same as
:class:`collector.failover.FailoverWriter`, so the unit runs the unchanged pipeline: a batch in the
outbox is durable, so checkpoints and link acknowledgements advance as they would after a DB commit.

After the outbox append, the batch's accounting (segments, checkpoints, events) is also written to the
unit's own SQL database.  That is what the unit's folder sources (files already taken), raw-dump crash
recovery (how far each stream is durable) and ``callcost status`` on the unit read; there "stored"
means "in the outbox".  A crash between the two only makes recovery resend a range the centre dedupes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from collector import checkpoints
from collector import wire
from collector.remote.forwarder import Forwarder
from collector.remote.outbox import Outbox
from collector.remote.settings import RemoteSettings
from warehouse import ingest
from warehouse.schema import PARSED_SCHEMA
from warehouse.store import SaveResult


class OutboxWriter:
    def __init__(self, settings: RemoteSettings, engine: sa.Engine) -> None:
        self.settings = settings
        self.engine = engine  # the unit's own DB: local accounting only
        checkpoints.create_tables(engine)
        self.outbox = Outbox(settings.outbox)
        self.forwarder = Forwarder(settings, self.outbox)
        self.forwarder.start()

    def write(self, rated: pa.Table, quarantine: list[dict[str, Any]], batch: dict[str, Any],
              segments: list[ingest.SegmentRow], started: float, key: str | None = None,
              staged: None = None) -> None:
        """Append the batch to the outbox (there is no database share to stage: no ``stage`` method)."""
        calls = wire.parsed_columns(rated)
        self.outbox.append(lambda batch_id: wire.encode(wire.RemoteBatch(
            self.settings.unit, batch_id, calls, quarantine, batch, segments)), calls.num_rows)
        self.forwarder.wake()
        outboxed: dict[str, SaveResult] = {}  # on the unit, "stored" is "in the outbox": already stored is the centre's
        for s in segments:
            o = outboxed.get(s.pbx, SaveResult(0, 0, 0))
            outboxed[s.pbx] = SaveResult(o.inserted + s.parsed, 0, o.unrated + s.unrated)
        checkpoints.record_batch(self.engine, ingest.LIVE, segments, quarantine, outboxed,
                                 rate_s=float(batch.get("rate_s", 0.0)), store_s=time.perf_counter() - started)

    def record_event(self, pbx: str, stream: str, kind: str, detail: str = "", key: str | None = None) -> None:
        """Link events travel as batches of their own, in order with the calls."""
        event = {"pbx": pbx, "stream": stream, "kind": kind, "detail": detail, "at": datetime.now(UTC).isoformat()}
        self.outbox.append(lambda batch_id: wire.encode(wire.RemoteBatch(
            self.settings.unit, batch_id, PARSED_SCHEMA.empty_table(), event=event)), 0)
        self.forwarder.wake()
        checkpoints.record_event(self.engine, pbx, stream, kind, detail)

    def status(self) -> dict[str, Any]:
        return self.forwarder.status()

    def close(self) -> None:
        self.forwarder.close()
