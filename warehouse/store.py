"""Where rated calls go: the SQL database and the Parquet lake, both idempotent on ``call_id``.

The database is the system of record for "is this call already stored?" and for ingest accounting
(every file or stream segment: records received, parsed, quarantined, stored); the lake is what
analysts and reports read.  Both are written for every batch; both skip calls they already hold, so
re-importing a file, replaying a dump or retrying after a crash changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from warehouse import lake
from warehouse.config import Enterprise
from warehouse.database import Database


@dataclass(frozen=True, slots=True)
class SaveResult:
    inserted: int
    skipped: int
    unrated: int


class Store:
    """The SQL DB and the lake of one enterprise."""

    def __init__(self, ent: Enterprise, *, database_url: str | None = None) -> None:
        self.ent = ent
        self.db = Database(database_url or ent.storage.database, ent.scale)
        self.db.create_schema()
        self.lake_root = ent.storage.lake

    def save(self, rated: pa.Table) -> SaveResult:
        """Store a batch of rated calls; calls already stored are skipped in both places."""
        inserted = self.db.insert_calls(rated)
        lake.write_calls(self.lake_root, rated)
        unrated = int(pc.sum(pc.equal(rated.column("rating_status"), "unrated")).as_py() or 0)
        return SaveResult(inserted=inserted, skipped=rated.num_rows - inserted, unrated=unrated)

    def record_file(self, pbx: str, source: str, *, data: bytes, records: int, parsed: int, quarantined: list) -> None:
        """Ingest accounting for one file, and its quarantined records with their reasons."""
        now = datetime.now(timezone.utc)
        if quarantined:
            self.db.record_quarantine([
                {"pbx": pbx, "source": q.source, "line": q.line, "offset": q.offset, "field": q.field,
                 "reason": q.reason, "raw": q.raw, "received_at": now}
                for q in quarantined
            ])
        self.db.record_batch({
            "pbx": pbx, "source": source, "received": records, "parsed": parsed, "quarantined": len(quarantined),
            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "started_at": now, "finished_at": now,
        })
