"""Batch import of CDR files — the same parse → rate → store path as live collection.

Files are parsed one by one (a file is the unit of ingest accounting: received, parsed, quarantined,
stored, with its SHA-256), and parsed calls are rated and stored in batches of ``batch_size`` rows so
a month of one-minute CUCM files does not become forty thousand tiny database transactions.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from collector.connectors.base import PbxContext, Quarantined, connector_for
from warehouse.config import Enterprise
from warehouse.pipeline import RatingStage
from warehouse.store import Store


@dataclass
class ImportReport:
    files: int = 0
    records: int = 0
    parsed: int = 0
    quarantined: int = 0
    stored: int = 0
    duplicates: int = 0
    unrated: int = 0
    seconds: float = 0.0
    problems: list[Quarantined] = field(default_factory=list)

    @property
    def calls_per_s(self) -> float:
        return self.parsed / self.seconds if self.seconds else 0.0

    def add(self, other: "ImportReport") -> None:
        for name in ("files", "records", "parsed", "quarantined", "stored", "duplicates", "unrated", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems)


def pbx_context(ent: Enterprise, pbx_id: str) -> PbxContext:
    pbx = ent.pbxs[pbx_id]
    return PbxContext(pbx_id=pbx.id, site=pbx.site, timezone=ent.sites[pbx.site].timezone, options=dict(pbx.options))


def import_files(
    ent: Enterprise,
    pbx_id: str,
    files: Iterable[Path],
    *,
    store: Store,
    stage: RatingStage | None = None,
    batch_size: int = 250_000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Parse, rate and store *files* from PBX *pbx_id*; quarantine what cannot be parsed."""
    started = time.perf_counter()
    pbx = ent.pbxs[pbx_id]
    connector = connector_for(pbx.type, pbx_context(ent, pbx_id))
    stage = stage or RatingStage(ent)
    report = ImportReport()
    pending: list[pa.Table] = []
    pending_rows = 0

    def flush() -> None:
        nonlocal pending, pending_rows
        if not pending:
            return
        rated = stage.rate_batch(pa.concat_tables(pending))
        saved = store.save(rated)
        report.stored += saved.inserted
        report.duplicates += saved.skipped
        report.unrated += saved.unrated
        pending, pending_rows = [], 0

    for path in files:
        data = Path(path).read_bytes()
        result = connector.parse(data, str(path))
        report.files += 1
        report.records += result.records_seen
        report.parsed += result.calls.num_rows
        report.quarantined += len(result.quarantined)
        report.problems.extend(result.quarantined)
        store.record_file(pbx_id, str(path), data=data, records=result.records_seen,
                          parsed=result.calls.num_rows, quarantined=result.quarantined)
        if result.calls.num_rows:
            pending.append(result.calls)
            pending_rows += result.calls.num_rows
        if pending_rows >= batch_size:
            flush()
        if progress:
            progress(1)
    flush()
    report.seconds = time.perf_counter() - started
    return report


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
