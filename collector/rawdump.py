"""The raw dump: every byte a volatile source (TCP, RSP, serial, FTP) delivered, kept before it is parsed.

Why: a PBX sends a record once.  If a layout was wrong, a parser had a bug or the database was down,
the bytes must still exist so that ``callcost replay`` can read them again; and an acknowledgement
(RSP) may only be sent once the bytes survive a crash — :meth:`RawDumpWriter.sync` is that point.

Format (one file = a sequence of frames, readable with ``less``)::

    \\x1e<kind> <session> <received_ns> <length>\\n<payload bytes>\\n

*kind* is ``O`` (session opened; payload = JSON metadata), ``D`` (data bytes, replayed), ``P``
(protocol bytes received but not data, e.g. RSP headers; kept for audit, not replayed), ``S``
(bytes we sent, e.g. RSP acks), ``F`` (a whole uploaded file; payload = the file, its name in the
session field) and ``C`` (session closed; payload = why).  Frames of many sessions interleave in one
file, so one ``fsync`` makes every link of a PBX durable at once (group commit).

Files rotate by size and age (``raw_rotate_mb``, ``raw_rotate_minutes``) and are deleted after
``raw_retention_days``; they live in ``<storage.raw_dump>/<pbx>/<UTC date>/``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from warehouse.errors import CallcostError
from warehouse.lake import fsync_dir

FRAME_START = b"\x1e"
KINDS = frozenset("ODPSFC")


@dataclass(frozen=True, slots=True)
class DumpRef:
    """Where a payload's first byte sits in the raw dump."""

    path: str
    offset: int

    def __str__(self) -> str:
        return f"{self.path}@{self.offset}"


@dataclass(frozen=True, slots=True)
class Frame:
    kind: str
    session: str
    received_ns: int
    payload: bytes
    ref: DumpRef


@dataclass(frozen=True, slots=True)
class DumpPolicy:
    """Rotation and retention (``[collector]`` table, overridable per ``[[pbx]]``)."""

    rotate_bytes: int = 64 * 1024 * 1024
    rotate_seconds: float = 3600.0
    retention_days: float = 90.0


class RawDumpWriter:
    """Appends frames for one PBX; thread-safe; :meth:`sync` makes everything appended so far durable."""

    def __init__(self, root: Path, pbx: str, policy: DumpPolicy = DumpPolicy()) -> None:
        self.root = Path(root) / _safe(pbx)
        self.pbx = pbx
        self.policy = policy
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._opened = 0.0
        self._size = 0
        self._seq = 0  # frames appended
        self._synced = 0  # frames known durable
        self._counter = 0
        #: day folder of each open session's ``O`` frame: retention keeps it (see :meth:`_expire`)
        self._open_since: dict[str, str] = {}

    @property
    def current_path(self) -> Path | None:
        return self._path

    def append(self, kind: str, session: str, payload: bytes, received_ns: int | None = None) -> DumpRef:
        """Append one frame; returns where its payload starts.  Durable only after :meth:`sync`."""
        if kind not in KINDS or " " in session or "\n" in session:
            raise ValueError(f"bad raw-dump frame kind {kind!r} or session {session!r}")
        header = b"%s%s %s %d %d\n" % (FRAME_START, kind.encode(), session.encode(), received_ns or time.time_ns(),
                                       len(payload))
        with self._lock:
            if self._file is None or self._due_rotation():
                self._rotate()
            assert self._file is not None and self._path is not None
            if kind == "O":
                self._open_since.setdefault(session, self._path.parent.name)
            elif kind == "C":
                self._open_since.pop(session, None)
            offset = self._size + len(header)
            self._file.write(header)
            self._file.write(payload)
            self._file.write(b"\n")
            self._file.flush()  # in the OS now: survives a kill -9 of the collector (sync() for power loss)
            self._size += len(header) + len(payload) + 1
            self._seq += 1
            return DumpRef(str(self._path), offset)

    def sync(self) -> None:
        """flush + fsync: every frame appended before this call survives a crash (group commit)."""
        with self._sync_lock:
            with self._lock:
                target = self._seq
                if self._synced >= target or self._file is None:
                    return
                self._file.flush()
                fd = os.dup(self._file.fileno())
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._synced = max(self._synced, target)

    def read(self, path: str, offset: int, length: int) -> bytes:
        """*length* payload bytes at *offset* of one of this writer's files (a spilled part's data)."""
        with self._lock:
            if self._file is not None and str(self._path) == path:
                self._file.flush()  # appended bytes are in the OS before they are read back
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if len(data) != length:
            raise OSError(f"raw dump {path}@{offset}: {len(data)} of {length} bytes (file truncated?)")
        return data

    def close(self) -> None:
        with self._lock:
            self._close_current()

    # --- internals -----------------------------------------------------------------------------

    def _due_rotation(self) -> bool:
        return self._size >= self.policy.rotate_bytes or time.monotonic() - self._opened >= self.policy.rotate_seconds

    def _rotate(self) -> None:
        self._close_current()
        now = self._now()
        folder = self.root / now.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        self._counter += 1
        path = folder / f"{_safe(self.pbx)}-{now.strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-{self._counter}.raw"
        self._file = open(path, "ab")  # noqa: SIM115 - kept open across calls, closed on rotation
        self._path, self._size, self._opened = path, path.stat().st_size, time.monotonic()
        fsync_dir(folder)
        self._expire(now)

    def _close_current(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._synced = self._seq
            self._file = None

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _expire(self, now: datetime) -> None:
        """Delete day folders older than the retention (checked on each rotation, so at most hourly).

        Except from the first day of a session still open: recovery and replay rebuild a session from
        its ``O`` frame on, counting stream offsets from its first byte, so a CM link up for longer than
        the retention keeps its dump until it closes (disk is the price; a lost stream offset would make
        recovery take un-stored bytes for stored ones).
        """
        cutoff = (now - timedelta(days=self.policy.retention_days)).strftime("%Y-%m-%d")
        cutoff = min([cutoff, *self._open_since.values()])
        for day in self.root.iterdir():
            if day.is_dir() and len(day.name) == 10 and day.name < cutoff:
                shutil.rmtree(day, ignore_errors=True)


class RawDumpError(CallcostError, ValueError):
    """A file given as a raw dump holds something that is not a frame (``replay`` of the wrong file)."""


def read_frames(path: str | os.PathLike[str]) -> Iterator[Frame]:
    """Every frame of one dump file, in order; a torn last frame (crash mid-write) ends the file."""
    path = str(path)
    with open(path, "rb") as f:
        pos = 0
        while True:
            header = f.readline()
            if not header:
                return
            if not header.startswith(FRAME_START) or not header.endswith(b"\n"):
                raise RawDumpError(f"{path}@{pos}: not a raw-dump frame header: {header[:60]!r}")
            parts = header[1:-1].split(b" ")
            try:
                if len(parts) != 4 or parts[0].decode() not in KINDS:
                    raise ValueError
                kind, session, received, length = parts[0].decode(), parts[1].decode(), int(parts[2]), int(parts[3])
            except ValueError:  # UnicodeDecodeError too: bytes that are no frame header
                raise RawDumpError(f"{path}@{pos}: bad raw-dump frame header: {header[:60]!r}") from None
            start = pos + len(header)
            payload = f.read(length)
            if len(payload) < length or f.read(1) != b"\n":
                return  # torn tail: the writer crashed mid-frame; nothing after it was ever acknowledged
            pos = start + length + 1
            yield Frame(kind, session, received, payload, DumpRef(path, start))


def session_meta(frame: Frame) -> dict:
    """The JSON metadata of an ``O`` frame."""
    try:
        return json.loads(frame.payload.decode()) if frame.payload else {}
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError
        raise RawDumpError(f"{frame.ref}: session metadata is not JSON: {exc}") from None


def dump_files(paths: list[Path]) -> list[Path]:
    """Dump files named on the command line (folders expanded), in write order."""
    found: list[Path] = []
    for p in paths:
        found.extend(sorted(p.rglob("*.raw")) if p.is_dir() else [p])
    return sorted(found, key=_write_order)


def _write_order(path: Path) -> tuple[str, int, str]:
    """``<pbx>-<UTC timestamp>-<pid>-<n>.raw`` sorts by timestamp, then by rotation counter."""
    parts = path.stem.rsplit("-", 3)
    if len(parts) == 4 and parts[3].isdigit():
        return parts[1], int(parts[3]), path.name
    return path.name, 0, path.name


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


