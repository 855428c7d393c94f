"""Page data cached by the lake's contents: a repeat view is a dictionary lookup, a new import is seen.

The key of every entry starts with :func:`lake_version` — the name, size and modification time of
every live data file of the lake — so storing calls, re-rating (which replaces files) or compacting
changes the key and the next view computes afresh; nothing has to remember to invalidate.  Listing
the partition folders costs milliseconds even at 10M calls (a few files per day), against the
hundreds of milliseconds a DuckDB aggregate over them takes.

Concurrent views of the same uncached page compute it once: the first caller computes, the others
wait for its result (10 managers opening the overview at 9:00 cost one query, not ten).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

__all__ = ["PageCache", "lake_version"]


def lake_version(lake: Path) -> str:
    """A digest of the lake's data files (path, size, mtime) — journals and
    compaction records included: changes whenever calls are stored or replaced."""
    digest = hashlib.blake2b(digest_size=12)
    calls = Path(lake) / "calls"
    if not calls.is_dir():
        return "empty"
    for root, dirs, files in os.walk(calls):
        dirs.sort()
        for name in sorted(files):
            try:
                st = os.stat(os.path.join(root, name))
            except FileNotFoundError:  # removed by a compaction while we list: the next view sees it
                continue
            digest.update(f"{root}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class PageCache:
    """A bounded LRU of computed page data, keyed by ``(lake version, *key)``; thread-safe."""

    def __init__(self, lake: Path, max_entries: int = 256) -> None:
        self.lake = Path(lake)
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Event] = {}
        self.hits = self.misses = 0

    def version(self) -> str:
        return lake_version(self.lake)

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for *key* at the lake's current contents, computing it (once) when missing."""
        full = (self.version(), key)
        while True:
            with self._lock:
                if full in self._data:
                    self._data.move_to_end(full)
                    self.hits += 1
                    return self._data[full]
                event = self._pending.get(full)
                if event is None:
                    event = self._pending[full] = threading.Event()
                    self.misses += 1
                    break
            event.wait()  # someone else computes it; then look again (or compute if they failed)
        try:
            value = compute()
            with self._lock:
                self._data[full] = value
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._pending[full]
            event.set()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
