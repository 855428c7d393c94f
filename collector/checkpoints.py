"""The live collector's own state in the SQL database: stream checkpoints and link events.

What a record became (received, stored, already stored, quarantined) is the ingest account
(:mod:`warehouse.ingest`), shared with ``callcost import``; this module adds what only a live source
has, written in the same transaction as the account:

* ``collector_checkpoints`` — per (pbx, stream): the position stored so far (byte offset, RSP sequence,
  raw-dump location), advanced only in the transaction that accounts the stored batch;
* ``collector_events`` — link opened/closed/dropped, RSP sequence gaps, files refused: what status alerts on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from warehouse import ingest
from warehouse.database import UtcDateTime
from warehouse.ingest import Saved, SegmentRow

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

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


def create_tables(engine: sa.Engine) -> None:
    """The ingest account's tables and the collector's own (checkpoints, events)."""
    ingest.create_tables(engine)
    metadata.create_all(engine)


def record_batch(engine: sa.Engine, path: str, rows: Sequence[SegmentRow], quarantined: Sequence[dict[str, Any]],
                 saved: Mapping[str, Saved], *, rate_s: float = 0.0, store_s: float = 0.0) -> None:
    """One transaction: the batch's ingest account, its quarantined records, and the checkpoints it advances."""
    with engine.begin() as conn:
        write_batch(conn, path, rows, quarantined, saved, rate_s=rate_s, store_s=store_s)


def write_batch(conn: sa.Connection, path: str, rows: Sequence[SegmentRow], quarantined: Sequence[dict[str, Any]],
                saved: Mapping[str, Saved], *, rate_s: float = 0.0, store_s: float = 0.0) -> None:
    """:func:`record_batch` inside the caller's transaction (the offline failover adds its own marker row)."""
    ingest.write_batch(conn, path, rows, quarantined, saved, rate_s=rate_s, store_s=store_s)
    advance(conn, rows)


def advance(conn: sa.Connection, rows: Sequence[SegmentRow]) -> None:
    """Move each stream's checkpoint to the end of its last stored piece in *rows*."""
    now = datetime.now(UTC)
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


def record_event(engine: sa.Engine, pbx: str, stream: str, kind: str, detail: str = "") -> None:
    with engine.begin() as conn:
        conn.execute(events.insert().values(pbx=pbx, stream=stream, kind=kind, detail=detail, at=datetime.now(UTC)))


def stored_files(engine: sa.Engine, pbx: str) -> set[str]:
    """Streams of *pbx* (file paths, for folder sources) whose last piece is stored."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(checkpoints.c.stream).where(checkpoints.c.pbx == pbx, checkpoints.c.final))
        return {r[0] for r in rows}
