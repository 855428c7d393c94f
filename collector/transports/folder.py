"""``folder:PATH`` — CDR files pushed into a folder (CUCM billing server, Asterisk/FreeSWITCH CSV drops).

A file is taken only once it is complete: names matching ``ignore`` (``.*``, ``*.tmp``, ``*.part``…)
are being written and will be renamed; any other file must keep its size and mtime for ``settle_s``
(0 = take it as soon as it appears, for writers that rename into place).  Polling rather than
inotify: it works the same on NFS/SMB shares, where billing servers often write, and needs no extra
dependency; one ``scandir`` per ``poll_s`` is cheap next to parsing.

After the file's calls are stored, ``after_import`` keeps it (the stored checkpoint stops it being
read again), moves it to ``done/`` or deletes it (its bytes are then raw-dumped first).

Crash safety: a file counts as done only once its batch is durable (committed, or in the offline
spool); then its SHA-256 and path are appended (fsync'd) to a local ledger,
``<storage.offline>/folder-done/<pbx>.txt``, before it is moved or deleted.  At start, ``keep`` knows
its done files from the ledger, the offline spool and the DB's final checkpoints (so it works while
the main database is down).  ``move``/``delete`` folders only hold files not yet done — except one
the collector was killed between storing and moving: a file whose path *and* SHA-256 are in the ledger
or the spool just gets its ``after_import``.  (The content check matters: a writer that drops a new
``Master.csv`` every hour reuses the name.)
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import time
from pathlib import Path

from collector.recovery import durable_positions
from collector.settings import Settings
from collector.streams import Intake
from collector.transports.base import Transport
from warehouse.config import Enterprise, Pbx
from warehouse.database import is_outage
from warehouse.lake import fsync_dir
from collector.spool import spooled_metadata

log = logging.getLogger("callcost.collector.folder")


class FolderTransport(Transport):
    scheme = "folder"
    volatile = False

    @property
    def folder(self) -> Path:
        return (self.ent.root / self.target).resolve()

    def __init__(self, ent: Enterprise, pbx: Pbx, intake: Intake, settings: Settings) -> None:
        super().__init__(ent, pbx, intake, settings)
        self.in_flight: set[str] = set()
        self.pending: dict[str, tuple[int, int, float]] = {}  # path → (size, mtime_ns, stable since)

    async def start(self) -> None:
        self.path = self.folder
        self.path.mkdir(parents=True, exist_ok=True)
        self.after = self.settings["after_import"]
        self.ignore = list(self.settings["ignore"])
        self.settle = float(self.settings["settle_s"])
        self.poll = float(self.settings["poll_s"])
        self.ledger = Path(self.ent.storage.offline) / "folder-done" / f"{self.pbx.id}.txt"
        #: keep: files done; move/delete: path → SHA-256s of contents done but (maybe) not moved yet
        self.done: set[str] = set()
        self.unfinished: dict[str, set[str]] = {}
        await asyncio.to_thread(self._load_done)
        self.in_flight.clear()
        self.pending.clear()
        self._task = asyncio.create_task(self._watch(), name=f"folder-{self.pbx.id}")

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self) -> None:
        while True:
            try:
                await self.scan()
            except OSError as exc:
                log.warning("folder %s: %s", self.path, exc)
            await asyncio.sleep(self.poll)

    async def scan(self) -> None:
        """One pass: remember sizes, take the files that have settled."""
        now = time.monotonic()
        seen = set()
        for entry in sorted(os.scandir(self.path), key=lambda e: e.name):
            if not entry.is_file() or any(fnmatch.fnmatch(entry.name, pat) for pat in self.ignore):
                continue
            name = entry.path
            seen.add(name)
            if name in self.done or name in self.in_flight:
                continue
            st = entry.stat()
            sig = (st.st_size, st.st_mtime_ns)
            prev = self.pending.get(name)
            if prev is None or prev[:2] != sig:
                self.pending[name] = (*sig, now)
                if self.settle > 0:
                    continue
            elif now - prev[2] < self.settle:
                continue
            await self._take(Path(name))
        for gone in set(self.pending) - seen:
            del self.pending[gone]

    async def _take(self, path: Path) -> None:
        data = await asyncio.to_thread(path.read_bytes)
        if len(data) != self.pending[str(path)][0]:
            self.pending.pop(str(path))  # changed under us: wait for it to settle again
            return
        self.pending.pop(str(path))
        source = str(path.parent / "done" / path.name) if self.after == "move" else str(path)
        part = self.intake.file_part(self.scheme, path, data, source=source)
        if part.sha256 in self.unfinished.get(str(path), ()):  # stored before a crash, never moved/deleted
            await asyncio.to_thread(self._finish, path)
            return
        self.in_flight.add(str(path))
        if self.after == "delete" and self.intake.dump is not None:
            self.intake.dump.append("F", path.name.replace(" ", "_"), data)
        part.on_stored = lambda: self._stored(path, part.sha256)
        await self.intake.pipeline.parts.put_async(part)

    def _stored(self, path: Path, sha256: str) -> None:
        """Called by the store worker once the file's calls are durable (stored or spooled)."""
        self._remember(path, sha256)
        self.in_flight.discard(str(path))
        self._finish(path)

    def _finish(self, path: Path) -> None:
        """Apply ``after_import`` to a file whose calls are durable."""
        if self.after == "keep":
            self.done.add(str(path))
            return
        if self.after == "move":
            (path.parent / "done").mkdir(exist_ok=True)
            path.replace(path.parent / "done" / path.name)
        else:
            path.unlink(missing_ok=True)
        fsync_dir(path.parent)
        self.unfinished.pop(str(path), None)

    def _remember(self, path: Path, sha256: str) -> None:
        """Append the file to the ledger of done files, durably (before it is moved or deleted)."""
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        with open(self.ledger, "a", encoding="utf-8") as fh:
            fh.write(f"{sha256} {path}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _load_done(self) -> None:
        """What is durable already: the ledger ∪ the offline spool (∪ the DB's final checkpoints for keep)."""
        entries: set[tuple[str, str]] = set()  # (path, sha256); sha "" = known done from the DB
        if self.ledger.exists():
            for line in self.ledger.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name:
                    entries.add((name, sha))
        for meta in spooled_metadata(self.ent.storage.offline):
            entries |= {(s["stream"], s["sha256"]) for s in meta.get("segments", ())
                        if s["pbx"] == self.pbx.id and s["final"]}
        if self.after == "keep":  # same name, same file (as before): the DB's checkpoints count too
            try:
                entries |= {(stream, "") for stream, d in durable_positions(
                    self.intake.pipeline.engine, self.ent.storage.offline, self.pbx.id).items() if d.final}
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("folder %s: the database does not answer; done files are taken from the local "
                            "ledger %s and the offline spool", self.path, self.ledger)
            self.done = {name for name, _ in entries}
        else:
            for name, sha in entries:
                if sha:
                    self.unfinished.setdefault(name, set()).add(sha)
        self._compact_ledger(entries)

    def _compact_ledger(self, entries: set[tuple[str, str]]) -> None:
        """Rewrite the ledger with the entries whose file is still in the folder (the others cannot come back
        as the same file under ``keep``, and under ``move``/``delete`` they were finished)."""
        keep = sorted(f"{sha} {name}\n" for name, sha in entries
                      if Path(name).parent == self.path and Path(name).exists())
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        temp = self.ledger.with_name(f".{self.ledger.name}.tmp")
        with open(temp, "w", encoding="utf-8") as fh:
            fh.write("".join(keep))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, self.ledger)
        fsync_dir(self.ledger.parent)

    def describe(self) -> dict:
        return {"source": self.pbx.source, "folder": str(self.folder), "waiting": len(self.pending),
                "in_flight": len(self.in_flight)}
