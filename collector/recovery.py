"""Crash recovery at start: what a killed collector had received but not yet stored is fed again.

Why: a TCP/RSP/serial source sends a record once.  The collector appends every received buffer to the
raw dump before anything else (and, for RSP, acknowledges only after the dump is fsync'd), so after a
``kill -9`` the bytes the PBX considers delivered are in the dump even if their batch never reached
the database.  On the next start this module finds, per stream, how far the data is *durable*
(stored in the SQL DB, or spooled in the offline spool) and feeds the dump frames after that point
through the normal pipeline under the **same stream key**: accounting continues the stream without a
gap, ``raw_ref`` points into the original dump, and ``call_id`` idempotence absorbs any overlap.

Which dump files to read: ``<raw_dump>/<pbx>/recovered.json`` names the newest dump file that is
known to be fully stored.  It is written after a clean stop and after a completed recovery, so a
normal start reads nothing, and a start after a crash reads only the files written since.

Durable positions come from the spool first, then the DB: batches only move spool → DB, so reading in
that order never misses one.  While the DB does not answer, recovery waits (with backoff) — the dump
keeps the bytes, and new links are served meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from collector import checkpoints
from collector.connectors.base import Connector
from collector.pipeline import Pipeline
from collector.rawdump import dump_files, read_frames, session_meta
from collector.streams import Intake, StreamSession
from warehouse.database import is_outage
from warehouse.errors import CallcostError
from warehouse.lake import fsync_dir
from collector.spool import spooled_metadata

log = logging.getLogger("callcost.collector.recovery")

MARKER = "recovered.json"
CRASH_REASON = "collector stopped without closing the link (crash); recovered from the raw dump"


@dataclass(frozen=True, slots=True)
class Durable:
    """How far one stream is durable: stream bytes ``[0, position)`` stored or spooled; *final*: all of it."""

    position: int = 0
    final: bool = False


def durable_positions(engine: sa.Engine, spool_dir: Path | str, pbx: str, *, db: bool = True) -> dict[str, Durable]:
    """Per stream of *pbx*: the spool's segments, then the DB's checkpoints (raises on a DB outage when *db*)."""
    out: dict[str, Durable] = {}

    def note(stream: str, position: int, final: bool) -> None:
        old = out.get(stream, Durable())
        out[stream] = Durable(max(old.position, position), old.final or final)

    for meta in spooled_metadata(spool_dir):
        for s in meta.get("segments", ()):
            if s["pbx"] == pbx:
                note(s["stream"], int(s["last_offset"]), bool(s["final"]))
    if db:
        checkpoints.create_tables(engine)
        cp = checkpoints.checkpoints
        with engine.connect() as conn:
            for stream, position, final in conn.execute(sa.select(cp.c.stream, cp.c.position, cp.c.final)
                                                        .where(cp.c.pbx == pbx)):
                note(stream, int(position), bool(final))
    return out


def read_marker(pbx_dir: Path) -> str | None:
    try:
        return json.loads((pbx_dir / MARKER).read_text())["stored_through"]
    except (OSError, ValueError, KeyError):
        return None


def write_marker(pbx_dir: Path, newest: Path | None) -> None:
    """Record that every dump file up to *newest* (in write order) is stored; atomic and fsync'd."""
    if newest is None:
        return
    pbx_dir.mkdir(parents=True, exist_ok=True)
    temp = pbx_dir / f".{MARKER}.tmp"
    with open(temp, "w") as fh:
        json.dump({"stored_through": newest.name}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, pbx_dir / MARKER)
    fsync_dir(pbx_dir)


def unrecovered_files(pbx_dir: Path) -> list[Path]:
    """Dump files of one PBX written after the marker, in write order."""
    if not pbx_dir.is_dir():
        return []
    files = dump_files([pbx_dir])
    marker = read_marker(pbx_dir)
    if marker is None:
        return files
    names = [f.name for f in files]
    if marker not in names:  # the marked file expired (retention): everything left is newer or unknown
        return files
    return files[names.index(marker) + 1:]


@dataclass
class RecoveryReport:
    files: int = 0
    sessions: int = 0
    bytes: int = 0
    streams: list[str] = field(default_factory=list)


def recover_pbx(pipeline: Pipeline, pbx: str, connector: Connector, files: list[Path],
                durable: dict[str, Durable]) -> RecoveryReport:
    """Feed the not-yet-durable data of *files* into *pipeline* (blocking; run it on a thread)."""
    intake = Intake(pipeline, pbx, connector, None)
    report = RecoveryReport(files=len(files))
    sessions: dict[str, _RecoveredSession] = {}
    skipped: set[str] = set()
    reasons: dict[str, str] = {}

    def session(name: str, meta: dict) -> _RecoveredSession | None:
        if name in skipped:
            return None
        if name not in sessions:
            state = durable.get(name, Durable())
            if state.final:
                skipped.add(name)
                return None
            s = _RecoveredSession(intake, meta.get("transport", name.split(":", 1)[0]), name, meta, state.position)
            sessions[name] = s
        return sessions[name]

    for path in files:
        for frame in read_frames(path):
            if frame.kind == "O":
                session(frame.session, session_meta(frame))
            elif frame.kind == "D":
                s = session(frame.session, {})
                if s is not None:
                    s.feed_blocking(frame.payload, frame.ref)
            elif frame.kind == "C":
                reasons[frame.session] = frame.payload.decode(errors="replace")
    for name, s in sessions.items():
        # the final part is always recorded (even empty): it quarantines a torn tail and ends the stream
        s.close_blocking(reasons.get(name, CRASH_REASON))
        if name not in reasons:  # the link never closed in the dump: say how it ended
            intake.event(name, "closed", CRASH_REASON)
        report.sessions += 1
        report.bytes += max(s.received - s.position, 0)
        report.streams.append(name)
    return report


class _RecoveredSession(StreamSession):
    """A dump session fed again: parts wholly inside the durable prefix are dropped, not re-stored."""

    def __init__(self, intake: Intake, transport: str, stream: str, meta: dict, position: int) -> None:
        super().__init__(intake, transport, stream, meta)
        self.position = position

    def feed_blocking(self, data, ref=None) -> None:  # type: ignore[override]
        part = self.take(data, ref)
        if part is None:
            return
        if part.range_end > self.position:
            self.intake.pipeline.submit(part)
        elif part.data:
            # Already stored: not stored again, but parsed so that a connector that carries state across
            # chunks (Avaya date records) knows what it knew live when the remainder comes.
            try:
                self.connector.parse(part.preamble + part.data, f"recovery-prime:{self.stream}")
            except CallcostError:  # it failed live too (and was quarantined then): nothing to learn from it
                pass


class DumpRecovery:
    """Runs :func:`recover_pbx` for every PBX of a service on a background thread, waiting out a DB outage.

    *connectors* are instances of the recovery's own (not the live links'): a connector may carry state
    across chunks, and the parse stage groups parts by connector instance, so recovered parts are never
    parsed in one input with a live link's (which could renumber identical records).
    """

    def __init__(self, pipeline: Pipeline, spool_dir: Path | str, dump_root: Path,
                 connectors: dict[str, Connector], *, retry_initial_s: float = 0.5, retry_max_s: float = 30.0) -> None:
        self.pipeline = pipeline
        self.spool_dir = spool_dir
        self.dump_root = Path(dump_root)
        self.connectors = connectors
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        # the files to read are fixed now, before this process's own writers open new ones
        self.files = {pbx: unrecovered_files(self.pbx_dir(pbx)) for pbx in connectors}
        self.done = threading.Event()
        self.reports: dict[str, RecoveryReport] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pbx_dir(self, pbx: str) -> Path:
        from collector.rawdump import _safe

        return self.dump_root / _safe(pbx)

    @property
    def needed(self) -> bool:
        return any(self.files.values())

    def start(self) -> None:
        if not self.needed:
            self.done.set()
            return
        self._thread = threading.Thread(target=self._run, name="collector-recovery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop waiting for the DB (recovery not run yet is retried on the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            for pbx, files in self.files.items():
                if not files:
                    continue
                durable = self._positions(pbx)
                if durable is None:
                    return
                log.warning("PBX %s: recovering %d raw-dump file(s) not known to be stored (crash before?)",
                            pbx, len(files))
                report = recover_pbx(self.pipeline, pbx, self.connectors[pbx], files, durable)
                self.reports[pbx] = report
                log.warning("PBX %s: %d session(s), %d bytes fed again from the raw dump", pbx, report.sessions,
                            report.bytes)
            self.done.set()
        except Exception:
            log.exception("raw-dump recovery failed; it is retried on the next start")

    def _positions(self, pbx: str) -> dict[str, Durable] | None:
        delay = self.retry_initial_s
        while not self._stop.is_set():
            try:
                return durable_positions(self.pipeline.engine, self.spool_dir, pbx)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("raw-dump recovery of %s waits for the database (%s); next try in %.1f s", pbx,
                            str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__,
                            delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.retry_max_s)
        return None

    def mark_stored(self, newest: Callable[[str], Path | None]) -> None:
        """After a clean drain: every dump file up to the newest is stored, if recovery completed."""
        if not self.done.is_set():
            return
        for pbx in self.connectors:
            write_marker(self.pbx_dir(pbx), newest(pbx))
