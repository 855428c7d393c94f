"""``folder:PATH`` — CDR files pushed into a folder (CUCM billing server, Asterisk/FreeSWITCH CSV drops).

A file is taken only once it is complete: names matching ``ignore`` (``.*``, ``*.tmp``, ``*.part``…)
are being written and will be renamed; any other file must keep its size and mtime for ``settle_s``
(0 = take it as soon as it appears, for writers that rename into place).  Polling rather than
inotify: it works the same on NFS/SMB shares, where billing servers often write, and needs no extra
dependency; one ``scandir`` per ``poll_s`` is cheap next to parsing.

After the file's calls are stored, ``after_import`` keeps it (the stored checkpoint stops it being
read again), moves it to ``done/`` or deletes it (its bytes are then raw-dumped first).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import time
from pathlib import Path

from collector import accounting
from collector.transports.base import Transport

log = logging.getLogger("callcost.collector.folder")


class FolderTransport(Transport):
    scheme = "folder"
    volatile = False

    @property
    def folder(self) -> Path:
        return (self.ent.root / self.target).resolve()

    async def start(self) -> None:
        self.path = self.folder
        self.path.mkdir(parents=True, exist_ok=True)
        self.after = self.settings["after_import"]
        self.ignore = list(self.settings["ignore"])
        self.settle = float(self.settings["settle_s"])
        self.poll = float(self.settings["poll_s"])
        self.done: set[str] = (await asyncio.to_thread(accounting.stored_files, self.intake.pipeline.engine,
                                                       self.pbx.id)) if self.after == "keep" else set()
        self.in_flight: set[str] = set()
        self.pending: dict[str, tuple[int, int, float]] = {}  # path → (size, mtime_ns, stable since)
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
        self.in_flight.add(str(path))
        source = str(path.parent / "done" / path.name) if self.after == "move" else str(path)
        if self.after == "delete" and self.intake.dump is not None:
            self.intake.dump.append("F", path.name.replace(" ", "_"), data)
        part = self.intake.file_part(self.scheme, path, data, source=source, on_stored=lambda: self._stored(path))
        await self.intake.pipeline.parts.put_async(part)

    def _stored(self, path: Path) -> None:
        """Called by the store worker once the file's calls are stored."""
        self.in_flight.discard(str(path))
        if self.after == "keep":
            self.done.add(str(path))
        elif self.after == "move":
            (path.parent / "done").mkdir(exist_ok=True)
            path.replace(path.parent / "done" / path.name)
        else:
            path.unlink(missing_ok=True)

    def describe(self) -> dict:
        return {"source": self.pbx.source, "folder": str(self.folder), "waiting": len(getattr(self, "pending", {})),
                "in_flight": len(getattr(self, "in_flight", ()))}
