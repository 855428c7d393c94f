"""The offline spool: rated batches kept on local disk while the main SQL database cannot take them.

Why a Parquet file per batch (not an embedded SQLite DB): a rated batch already *is* an Arrow table,
so Parquet keeps its exact types (``decimal128`` money, UTC timestamps) with no conversion code and
no second SQL schema to keep in step with ``calls_schema``; one file per batch keeps the batch as the
unit that is acknowledged, drained and deleted; and "append" is one atomic rename.

Guarantees:

* **atomic** — an item is written to ``.NAME.tmp``, fsync'd, renamed into place and the directory
  fsync'd; a crash leaves either the whole item or a ``.tmp`` that is never read (and removed on open);
* **ordered** — items are named by a zero-padded sequence number that keeps growing across reopenings,
  so :meth:`Spool.items` is arrival order;
* **restart-safe** — everything is on disk; a new :class:`Spool` on the same folder sees the backlog.

Each item carries a JSON document (the caller's metadata) in the Parquet key-value metadata.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.errors import StorageError
from warehouse.lake import fsync_dir

_META_KEY = b"callcost.spool"
_SUFFIX = ".parquet"


@dataclass(frozen=True, slots=True)
class SpoolItem:
    """One spooled batch on disk."""

    path: Path
    seq: int
    rows: int
    spooled_at: float  # wall clock (seconds since the epoch)


@dataclass(frozen=True, slots=True)
class SpoolStats:
    batches: int
    rows: int
    oldest_at: float | None

    def oldest_age_s(self, now: float | None = None) -> float | None:
        return None if self.oldest_at is None else max((now or time.time()) - self.oldest_at, 0.0)


class Spool:
    """A folder of spooled batches; safe to share between one appending and one draining thread."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for torn in self.folder.glob(f".*{_SUFFIX}.tmp"):  # never renamed into place: never acknowledged
                torn.unlink()
        except OSError as exc:
            raise StorageError(f"offline spool {self.folder}: {exc}") from exc
        self._lock = threading.Lock()
        self._items: list[SpoolItem] = [self._describe(p) for p in sorted(self.folder.glob(f"*{_SUFFIX}"))
                                        if p.stem.isdigit()]
        self._next = self._items[-1].seq + 1 if self._items else 1

    def append(self, table: pa.Table, meta: dict[str, Any]) -> SpoolItem:
        """Write one batch durably; when this returns the batch survives a crash of the process or the OS."""
        with self._lock:
            seq = self._next
            self._next += 1
        now = time.time()
        doc = json.dumps({"spooled_at": now, "meta": meta}).encode()
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: doc})
        target = self.folder / f"{seq:012d}{_SUFFIX}"
        temp = self.folder / f".{target.name}.tmp"
        try:
            with open(temp, "wb") as fh:
                pq.write_table(table, fh, compression="zstd")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, target)
            fsync_dir(self.folder)
        except OSError as exc:
            raise StorageError(f"cannot write offline spool item {target}: {exc}") from exc
        item = SpoolItem(target, seq, table.num_rows, now)
        with self._lock:
            self._items.append(item)
            self._items.sort(key=lambda i: i.seq)
        return item

    def items(self) -> list[SpoolItem]:
        """The backlog, oldest first."""
        with self._lock:
            return list(self._items)

    def head(self) -> SpoolItem | None:
        with self._lock:
            return self._items[0] if self._items else None

    def read(self, item: SpoolItem) -> tuple[pa.Table, dict[str, Any]]:
        """The batch and its metadata (the spool's own key is removed from the schema metadata)."""
        table = pq.read_table(item.path)
        meta = dict(table.schema.metadata or {})
        doc = json.loads(meta.pop(_META_KEY))
        return table.replace_schema_metadata(meta or None), doc["meta"]

    def remove(self, item: SpoolItem) -> None:
        """Forget a batch once it is committed to the main database."""
        item.path.unlink(missing_ok=True)
        fsync_dir(self.folder)
        with self._lock:
            self._items = [i for i in self._items if i.seq != item.seq]

    def stats(self) -> SpoolStats:
        with self._lock:
            items = list(self._items)
        return SpoolStats(len(items), sum(i.rows for i in items), items[0].spooled_at if items else None)

    @staticmethod
    def _describe(path: Path) -> SpoolItem:
        try:
            md = pq.read_metadata(path)
            doc = json.loads((md.metadata or {})[_META_KEY])
        except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
            raise StorageError(f"offline spool item {path} is unreadable: {exc}") from exc
        return SpoolItem(path, int(path.stem), md.num_rows, float(doc["spooled_at"]))


def spooled_metadata(folder: Path | str) -> list[dict[str, Any]]:
    """The caller's metadata of every spooled item, oldest first (footers only, no rows read).

    The collector uses it at start to learn what is durable but not yet in the main database (files
    finished, stream positions stored), so it works while the database is down.
    """
    folder = Path(folder)
    out = []
    for path in sorted(folder.glob(f"*{_SUFFIX}")) if folder.is_dir() else []:
        if not path.stem.isdigit():
            continue
        try:
            md = pq.read_metadata(path)
            out.append(json.loads((md.metadata or {})[_META_KEY])["meta"])
        except FileNotFoundError:
            continue  # drained (deleted) while we looked
        except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
            raise StorageError(f"offline spool item {path} is unreadable: {exc}") from exc
    return out


def spool_stats(folder: Path | str) -> SpoolStats:
    """Backlog of a spool folder, read-only (for ``callcost status`` while the collector runs elsewhere)."""
    folder = Path(folder)
    items = []
    for path in sorted(folder.glob(f"*{_SUFFIX}")) if folder.is_dir() else []:
        if path.stem.isdigit():
            try:
                items.append(Spool._describe(path))
            except StorageError:
                continue  # drained (deleted) while we looked
    return SpoolStats(len(items), sum(i.rows for i in items), items[0].spooled_at if items else None)
