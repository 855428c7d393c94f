"""Copy a SQLite database's write-ahead log into the database file on a thread of its own.

Why: in WAL mode SQLite checkpoints *in the connection that commits* once the log passes
``wal_autocheckpoint`` pages (1,000 by default).  A bulk writer that commits 50k calls (~25 MB of pages)
therefore copies every page a second time, with an ``fsync``, before its commit returns — a sizeable
share of the writer's time per call (``docs/dev/storage-performance.md``).  The collector's store thread
is the one thread every call goes through, so that copy is moved here: a second connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` a few
times a second (passive: it never blocks the writer or readers, and copies only frames no reader still
needs), while the bulk writer's connection raises its own ``wal_autocheckpoint`` to a backstop that only
matters if this thread falls behind or stops.  Durability is unchanged: a committed transaction is in the
WAL either way; the checkpoint only moves it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

__all__ = ["WalCheckpointer", "BACKSTOP_PAGES"]

log = logging.getLogger("callcost.warehouse.sqlite_checkpoint")

#: ``wal_autocheckpoint`` of a bulk writer's connection while a :class:`WalCheckpointer` runs: past this
#: many WAL pages (~128 MB) the writer checkpoints itself, as SQLite would without this module.
BACKSTOP_PAGES = 32_768


class WalCheckpointer:
    """A daemon thread checkpointing the SQLite file *path* every *interval_s* seconds until :meth:`stop`."""

    def __init__(self, path: str, interval_s: float = 0.2) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0  # completed checkpoint calls (for tests and curiosity)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, after one last checkpoint so the log is left small."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            while True:
                stopping = self._stop.wait(self.interval_s)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # busy, or the file went away: the writer's backstop covers it
                    log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
                if stopping:
                    return
        except sqlite3.Error as exc:
            log.warning("cannot checkpoint %s in the background (%s); writers checkpoint themselves", self.path, exc)
        finally:
            if conn is not None:
                conn.close()
