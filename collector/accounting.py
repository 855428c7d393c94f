"""Ingest accounting and checkpoints of the live collector, in the SQL database next to the calls.

Why in SQL: ``callcost status`` and the health endpoint must prove, after the fact and from another
process, that every record a source delivered is accounted for — received = parsed + quarantined,
stored = parsed, rated + unrated = stored — and find what is not (a gap between two segments of a
stream, an RSP sequence jump, a file taken in but never finished).

Tables (created with their own ``MetaData`` on the store's engine, so the warehouse schema is untouched):

* ``collector_segments`` — one row per stored piece of a stream or file: pbx, transport, stream key,
  byte range ``[first_offset, last_offset)``, bytes and their SHA-256, the record counts, the batch.
* ``collector_batches`` — one row per rating/storage batch: records, inserted, duplicates, timings.
* ``collector_checkpoints`` — per (pbx, stream): the position stored so far (byte offset, RSP sequence,
  raw-dump location), advanced only in the transaction that records the stored batch.
* ``collector_events`` — link opened/closed/dropped, RSP sequence gaps, files refused: what status alerts on.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from warehouse.database import UtcDateTime

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

segments = sa.Table(
    "collector_segments", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.BigInteger, nullable=False),
    sa.Column("pbx", sa.Text, nullable=False),
    sa.Column("transport", sa.Text, nullable=False),
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("first_offset", sa.BigInteger, nullable=False),
    sa.Column("last_offset", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    *[sa.Column(n, sa.BigInteger, nullable=False)
      for n in ("received", "parsed", "quarantined", "stored", "rated", "unrated")],
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("stored_at", UtcDateTime, nullable=False),
    sa.Index("ix_collector_segments_stream", "pbx", "stream"),
)
batches = sa.Table(
    "collector_batches", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    *[sa.Column(n, sa.BigInteger, nullable=False)
      for n in ("records", "inserted", "duplicates", "rated", "unrated", "quarantined")],
    sa.Column("rate_s", sa.Float, nullable=False),
    sa.Column("store_s", sa.Float, nullable=False),
    sa.Column("stored_at", UtcDateTime, nullable=False),
)
checkpoints = sa.Table(
    "collector_checkpoints", metadata,
    sa.Column("pbx", sa.Text, primary_key=True),
    sa.Column("stream", sa.Text, primary_key=True),
    sa.Column("transport", sa.Text, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("sequence", sa.Integer),
    sa.Column("dump_ref", sa.Text),
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
events = sa.Table(
    "collector_events", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("pbx", sa.Text, nullable=False),
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # opened | closed | dropped | gap | refused | incomplete
    sa.Column("detail", sa.Text),
    sa.Column("at", UtcDateTime, nullable=False),
)


@dataclass(slots=True)
class SegmentRow:
    """Accounting of one piece of one stream within a stored batch."""

    pbx: str
    transport: str
    stream: str
    first_offset: int
    last_offset: int
    bytes: int
    sha256: str
    received: int
    parsed: int
    quarantined: int
    rated: int
    unrated: int
    final: bool
    received_at: datetime
    sequence: int | None = None
    dump_ref: str | None = None


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)


def record_batch(engine: sa.Engine, batch: dict[str, Any], rows: Sequence[SegmentRow]) -> int:
    """One transaction: the batch, its segments, and the checkpoints they advance."""
    with engine.begin() as conn:
        return write_batch(conn, batch, rows)


def write_batch(conn: sa.Connection, batch: dict[str, Any], rows: Sequence[SegmentRow]) -> int:
    """:func:`record_batch` inside the caller's transaction (the offline failover adds its own marker row)."""
    now = datetime.now(UTC)
    batch_id = int(conn.execute(batches.insert().values(**batch, stored_at=now)).inserted_primary_key[0])
    if rows:
        conn.execute(segments.insert(), [{
            "batch_id": batch_id, "pbx": r.pbx, "transport": r.transport, "stream": r.stream,
            "first_offset": r.first_offset, "last_offset": r.last_offset, "bytes": r.bytes, "sha256": r.sha256,
            "received": r.received, "parsed": r.parsed, "quarantined": r.quarantined, "stored": r.parsed,
            "rated": r.rated, "unrated": r.unrated, "final": r.final, "received_at": r.received_at,
            "stored_at": now} for r in rows])
    latest: dict[tuple[str, str], SegmentRow] = {}
    for r in rows:
        key = (r.pbx, r.stream)
        if key not in latest or r.last_offset >= latest[key].last_offset:
            latest[key] = r
    for (pbx, stream), r in latest.items():
        values = {"transport": r.transport, "position": r.last_offset, "sequence": r.sequence,
                  "dump_ref": r.dump_ref, "final": r.final, "updated_at": now}
        done = conn.execute(checkpoints.update().where(checkpoints.c.pbx == pbx, checkpoints.c.stream == stream)
                            .values(**values)).rowcount
        if not done:
            conn.execute(checkpoints.insert().values(pbx=pbx, stream=stream, **values))
    return batch_id


def record_event(engine: sa.Engine, pbx: str, stream: str, kind: str, detail: str = "") -> None:
    with engine.begin() as conn:
        conn.execute(events.insert().values(pbx=pbx, stream=stream, kind=kind, detail=detail, at=datetime.now(UTC)))


def stored_files(engine: sa.Engine, pbx: str) -> set[str]:
    """Streams of *pbx* (file paths, for folder sources) whose last piece is stored."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(checkpoints.c.stream).where(checkpoints.c.pbx == pbx, checkpoints.c.final))
        return {r[0] for r in rows}


def quarantine_to_json(q: dict[str, Any]) -> dict[str, Any]:
    """A quarantine row as JSON-safe values (raw bytes base64, time ISO) — for the spool and the remote wire."""
    return {**q, "raw": base64.b64encode(q["raw"]).decode() if q.get("raw") is not None else None,
            "received_at": q["received_at"].isoformat()}


def quarantine_from_json(q: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`quarantine_to_json`."""
    return {**q, "raw": base64.b64decode(q["raw"]) if q.get("raw") is not None else None,
            "received_at": datetime.fromisoformat(q["received_at"])}
