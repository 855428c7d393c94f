"""The remote unit's outbox: batches waiting for the centre's acknowledgement, durable and in order.

Why not the offline spool (:mod:`collector.spool`): that numbers items from what is on disk, so an
emptied spool starts again at 1 after a restart.  A remote batch id must keep growing for the life of
the unit (the centre keeps the ids it has committed), so the highest id ever given out is persisted in
``last_id`` *before* the batch that uses it becomes visible.

Each item is the exact HTTP body (:mod:`collector.wire`) in ``<id:012d>.batch``: re-sent byte for
byte, it keeps its checksum.  Appending writes ``.<name>.tmp``, fsyncs it, persists ``last_id``, renames
the item into place and fsyncs the folder — a crash leaves the whole item or nothing that is read.
An item is deleted only after the centre answered 2xx for it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from collector.wire import WireError, decode
from warehouse.errors import StorageError
from warehouse.lake import fsync_dir

_SUFFIX = ".batch"
_LAST_ID = "last_id"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    path: Path
    batch_id: int
    rows: int
    size: int
    queued_at: float  # wall clock


class Outbox:
    """A folder of encoded batches; one appending thread (the store stage, link events) and one sender."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for torn in self.folder.glob(".*.tmp"):  # never renamed into place: never acknowledged to anyone
                torn.unlink()
        except OSError as exc:
            raise StorageError(f"remote outbox {self.folder}: {exc}") from exc
        self._lock = threading.Lock()
        self._items = [self._describe(p) for p in sorted(self.folder.glob(f"*{_SUFFIX}")) if p.stem.isdigit()]
        on_disk = self._items[-1].batch_id if self._items else 0
        self.last_id = max(on_disk, self._read_last_id())

    def append(self, encode: Callable[[int], bytes], rows: int) -> OutboxItem:
        """Give the next batch id to *encode*, write its body durably and return the item."""
        with self._lock:  # ids and files in the same order
            batch_id = self.last_id + 1
            body = encode(batch_id)
            target = self.folder / f"{batch_id:012d}{_SUFFIX}"
            temp = self.folder / f".{target.name}.tmp"
            try:
                _write_synced(temp, body)
                self._write_last_id(batch_id)
                os.replace(temp, target)
                fsync_dir(self.folder)
            except OSError as exc:
                raise StorageError(f"cannot write remote outbox item {target}: {exc}") from exc
            self.last_id = batch_id
            item = OutboxItem(target, batch_id, rows, len(body), time.time())
            self._items.append(item)
            return item

    def head(self) -> OutboxItem | None:
        with self._lock:
            return self._items[0] if self._items else None

    def items(self) -> list[OutboxItem]:
        with self._lock:
            return list(self._items)

    def read(self, item: OutboxItem) -> bytes:
        return item.path.read_bytes()

    def remove(self, item: OutboxItem) -> None:
        """The centre acknowledged *item*: forget it."""
        item.path.unlink(missing_ok=True)
        fsync_dir(self.folder)
        with self._lock:
            self._items = [i for i in self._items if i.batch_id != item.batch_id]

    def stats(self) -> dict[str, float | int | None]:
        with self._lock:
            items = list(self._items)
        oldest = items[0].queued_at if items else None
        return {"backlog_batches": len(items), "backlog_rows": sum(i.rows for i in items),
                "backlog_bytes": sum(i.size for i in items),
                "oldest_age_s": round(max(time.time() - oldest, 0.0), 3) if oldest is not None else None}

    # --- internals ---------------------------------------------------------------------------------

    def _read_last_id(self) -> int:
        try:
            return int((self.folder / _LAST_ID).read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise StorageError(f"remote outbox {self.folder / _LAST_ID} is unreadable: {exc}") from exc

    def _write_last_id(self, batch_id: int) -> None:
        temp = self.folder / f".{_LAST_ID}.tmp"
        _write_synced(temp, f"{batch_id}\n".encode())
        os.replace(temp, self.folder / _LAST_ID)

    def _describe(self, path: Path) -> OutboxItem:
        body = path.read_bytes()
        try:
            rows = decode(body).calls.num_rows
        except WireError as exc:
            raise StorageError(f"remote outbox item {path} is unreadable: {exc}") from exc
        return OutboxItem(path, int(path.stem), rows, len(body), path.stat().st_mtime)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
