"""The ingest account: where every record a PBX delivered went — one schema for file imports and live streams.

Why one account: ``callcost status`` must prove, from the database alone and after the fact, that every
record of every source is accounted for, whichever way it came in (``callcost import``, a folder, a TCP
link, a remote unit).  Two sets of tables (one per path) meant status saw only the live half.

Tables (their own ``MetaData``; :meth:`warehouse.database.Database.create_schema` creates them):

* ``ingest_account`` — one row per stored batch and PBX: records received, parsed, stored (new in the
  database), already stored (held before: a re-import, a replay), quarantined (new in ``quarantine``),
  already quarantined (held there before), rated / unrated, and how the batch came (``path``:
  ``import``, ``live``, ``retry``).  Per row ``received = stored + already_stored + quarantined +
  already_quarantined``, and per PBX the sum of ``quarantined`` is the number of its rows in ``quarantine``
  (a :func:`record_retry` row has a negative ``quarantined``: records moved out of quarantine).
* ``ingest_segments`` — one row per piece of a file or stream in a batch: its byte range, bytes and
  SHA-256, records received / parsed / quarantined (what status checks for gaps and unfinished files).
* ``quarantine`` — records no connector could read, with the raw bytes and why; idempotent by
  (pbx, source, position), like calls are by ``call_id``: importing a file twice quarantines its bad
  records once.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from warehouse.database import UtcDateTime

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

#: How a batch came in (``ingest_account.path``).
IMPORT, LIVE, RETRY = "import", "live", "retry"
#: The counts of an ``ingest_account`` row, in the order status shows them.
COUNTS = ("received", "parsed", "stored", "already_stored", "quarantined", "already_quarantined", "rated", "unrated")

account = sa.Table(
    "ingest_account", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("pbx", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    *[sa.Column(n, sa.BigInteger, nullable=False) for n in COUNTS],
    sa.Column("rate_s", sa.Float, nullable=False),
    sa.Column("store_s", sa.Float, nullable=False),
    sa.Column("stored_at", UtcDateTime, nullable=False),
    sa.Index("ix_ingest_account_pbx", "pbx"),
)
segments = sa.Table(
    "ingest_segments", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.BigInteger, nullable=False),
    sa.Column("pbx", sa.Text, nullable=False),
    sa.Column("transport", sa.Text, nullable=False),  # "import" for callcost import, else the live transport
    sa.Column("stream", sa.Text, nullable=False),  # the file's path, or the stream's key
    sa.Column("first_offset", sa.BigInteger, nullable=False),
    sa.Column("last_offset", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    *[sa.Column(n, sa.BigInteger, nullable=False) for n in ("received", "parsed", "quarantined")],
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("stored_at", UtcDateTime, nullable=False),
    sa.Index("ix_ingest_segments_stream", "pbx", "stream"),
)
quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("pbx", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("position", sa.Text, nullable=False),  # "line@offset" (either may be empty): the idempotence key
    sa.Column("line", sa.Integer),
    sa.Column("offset", sa.BigInteger),
    sa.Column("field", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.LargeBinary),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("pbx", "source", "position", name="uq_quarantine_position"),
)


class Saved(Protocol):
    """What storing one PBX's calls of a batch gave (``warehouse.store.SaveResult``)."""

    inserted: int
    skipped: int
    unrated: int


@dataclass(slots=True)
class SegmentRow:
    """Accounting of one piece of one file or stream within a stored batch."""

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
    """The account's tables; a ``quarantine`` table from before positions is brought up to date first."""
    with engine.begin() as conn:
        if "quarantine" in sa.inspect(conn).get_table_names():
            _add_positions(conn)
        metadata.create_all(conn)


def _add_positions(conn: sa.Connection) -> None:
    """A ``quarantine`` table without ``position`` (written before quarantine was idempotent): add the
    column, fill it from line and offset, keep the first of rows quarantined more than once, and index it."""
    if "position" in {c["name"] for c in sa.inspect(conn).get_columns("quarantine")}:
        return
    q = conn.dialect.identifier_preparer.quote
    text = "VARCHAR" if conn.dialect.name == "sqlite" else "TEXT"
    conn.exec_driver_sql(f"ALTER TABLE quarantine ADD COLUMN position {text}")
    conn.exec_driver_sql(f"UPDATE quarantine SET position = COALESCE(CAST(line AS {text}), '') || '@' || "
                         f"COALESCE(CAST({q('offset')} AS {text}), '')")
    conn.exec_driver_sql("DELETE FROM quarantine WHERE id NOT IN "
                         "(SELECT MIN(id) FROM quarantine GROUP BY pbx, source, position)")
    conn.exec_driver_sql("CREATE UNIQUE INDEX uq_quarantine_position ON quarantine (pbx, source, position)")


def position(line: int | None, offset: int | None) -> str:
    """The idempotence key of a quarantined record within its source: ``"12@3456"``, ``"@"`` for a whole file."""
    return f"{'' if line is None else line}@{'' if offset is None else offset}"


def quarantine_row(pbx: str, q: Any, received_at: datetime) -> dict[str, Any]:
    """A ``quarantine`` row for a connector's ``Quarantined`` entry *q*."""
    return {"pbx": pbx, "source": q.source, "line": q.line, "offset": q.offset, "field": q.field,
            "reason": q.reason, "raw": q.raw, "received_at": received_at}


def write_batch(conn: sa.Connection, path: str, segments_: Sequence[SegmentRow], quarantined: Sequence[dict[str, Any]],
                saved: Mapping[str, Saved], *, rate_s: float = 0.0, store_s: float = 0.0) -> dict[str, int]:
    """Account one stored batch in the caller's transaction; returns the ``ingest_account`` id per PBX.

    *segments_*: the pieces of files or streams the batch holds; *quarantined*: their quarantine rows
    (written here, once per position); *saved*: per PBX, what storing its calls gave.
    """
    now = datetime.now(UTC)
    new_quarantined = add_quarantine(conn, quarantined)
    seen: dict[str, list[int]] = {p: [0, 0] for p in {q["pbx"] for q in quarantined} | set(saved)}
    for seg in segments_:
        counts = seen.setdefault(seg.pbx, [0, 0])
        counts[0] += seg.received
        counts[1] += seg.quarantined
    ids: dict[str, int] = {}
    for pbx, (received, seen_quarantined) in sorted(seen.items()):
        s = saved.get(pbx)
        stored, already, unrated = (s.inserted, s.skipped, s.unrated) if s is not None else (0, 0, 0)
        new_q = new_quarantined.get(pbx, 0)
        row = {"pbx": pbx, "path": path, "received": received, "parsed": stored + already, "stored": stored,
               "already_stored": already, "quarantined": new_q,
               "already_quarantined": max(seen_quarantined, new_q) - new_q,
               "rated": stored + already - unrated, "unrated": unrated, "rate_s": rate_s, "store_s": store_s,
               "stored_at": now}
        ids[pbx] = int(conn.execute(account.insert().values(**row)).inserted_primary_key[0])
    if segments_:
        conn.execute(segments.insert(), [{
            "account_id": ids[r.pbx], "pbx": r.pbx, "transport": r.transport, "stream": r.stream,
            "first_offset": r.first_offset, "last_offset": r.last_offset, "bytes": r.bytes, "sha256": r.sha256,
            "received": r.received, "parsed": r.parsed, "quarantined": r.quarantined, "final": r.final,
            "received_at": r.received_at, "stored_at": now} for r in segments_])
    return ids


def add_quarantine(conn: sa.Connection, rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Quarantine *rows* not held yet (by pbx, source and position); returns how many were new, per PBX."""
    by_pbx: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        r = {**r, "position": position(r.get("line"), r.get("offset"))}
        by_pbx.setdefault(r["pbx"], []).append(r)
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(quarantine)
    insert = insert.on_conflict_do_nothing(index_elements=["pbx", "source", "position"])
    new: dict[str, int] = {}
    for pbx, mine in by_pbx.items():
        # the ids RETURNING gives are the rows inserted (rowcount is -1 through psycopg here)
        new[pbx] = len(conn.execute(insert.returning(quarantine.c.id), mine).all())
    return new


def record_retry(conn: sa.Connection, pbx: str, moved: Sequence[int], requarantined: Sequence[dict[str, Any]],
                 saved: Saved, *, extra_received: int = 0) -> int:
    """Quarantined records of *pbx* (ids *moved*) now parse and were stored: out of quarantine, into the account.

    *requarantined*: bad records the moved ones still hold (a file quarantined whole that now parses
    but for a few records), quarantined here by position; *extra_received*: how many more records the
    moved ones turned out to be than they were counted as (a file quarantined whole counted as one).
    The account row (path ``retry``) has ``received`` = *extra_received* (the records were counted when
    they came in), the calls they became as stored / already stored, and ``quarantined`` = new rows
    minus moved ones, so every PBX's counts still add up and its quarantined total still equals its
    rows in ``quarantine``.  Returns how many of *requarantined* were new to the quarantine.
    """
    if not moved:
        return 0
    gone = 0
    for k in range(0, len(moved), 500):
        gone += len(conn.execute(quarantine.delete().where(quarantine.c.id.in_(list(moved[k:k + 500])))
                                 .returning(quarantine.c.id)).all())
    new_q = add_quarantine(conn, requarantined).get(pbx, 0)
    parsed = saved.inserted + saved.skipped
    row = {"pbx": pbx, "path": RETRY, "received": extra_received, "parsed": parsed, "stored": saved.inserted,
           "already_stored": saved.skipped, "quarantined": new_q - gone,
           "already_quarantined": extra_received + gone - parsed - new_q,
           "rated": parsed - saved.unrated, "unrated": saved.unrated,
           "rate_s": 0.0, "store_s": 0.0, "stored_at": datetime.now(UTC)}
    conn.execute(account.insert().values(**row))
    return new_q


def quarantined(conn: sa.Connection, *, pbx: str | None = None, since: datetime | None = None,
                reason: str | None = None, with_raw: bool = False, limit: int | None = None) -> list[sa.Row]:
    """Quarantined records, oldest first: of *pbx*, received at or after *since*, whose reason contains
    *reason* (any case).  Without *with_raw* the raw bytes are left in the database (a listing needs
    only their size: ``raw_bytes``)."""
    q = quarantine.c
    cols = [q.id, q.pbx, q.source, q.line, q.offset, q.field, q.reason, q.received_at,
            sa.func.length(q.raw).label("raw_bytes")]
    query = sa.select(*cols, *([q.raw] if with_raw else [])).order_by(q.received_at, q.id)
    if pbx is not None:
        query = query.where(q.pbx == pbx)
    if since is not None:
        query = query.where(q.received_at >= since)
    if reason:
        query = query.where(q.reason.ilike(f"%{reason}%"))
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).all())


def totals(conn: sa.Connection) -> dict[str, dict[str, int]]:
    """Per PBX: the sum of each count of ``ingest_account``."""
    rows = conn.execute(sa.select(account.c.pbx, *[sa.func.sum(account.c[n]).label(n) for n in COUNTS])
                        .group_by(account.c.pbx)).all()
    return {r.pbx: {n: int(getattr(r, n) or 0) for n in COUNTS} for r in rows}


def quarantined_per_pbx(conn: sa.Connection) -> dict[str, int]:
    """Rows in ``quarantine`` per PBX (what the account's ``quarantined`` total must equal)."""
    rows = conn.execute(sa.select(quarantine.c.pbx, sa.func.count()).group_by(quarantine.c.pbx)).all()
    return {r[0]: int(r[1]) for r in rows}


def quarantine_to_json(q: dict[str, Any]) -> dict[str, Any]:
    """A quarantine row as JSON-safe values (raw bytes base64, time ISO) — for the spool and the remote wire."""
    return {**q, "raw": base64.b64encode(q["raw"]).decode() if q.get("raw") is not None else None,
            "received_at": q["received_at"].isoformat()}


def quarantine_from_json(q: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`quarantine_to_json`."""
    return {**q, "raw": base64.b64decode(q["raw"]) if q.get("raw") is not None else None,
            "received_at": datetime.fromisoformat(q["received_at"])}
