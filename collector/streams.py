"""From bytes on a link to queued parts: the raw dump, record framing and the session's header lines.

Every transport goes through an :class:`Intake` (one per PBX).  A stream session
(:meth:`Intake.open_session`) appends each received buffer to the raw dump *first*, then keeps the
bytes until the connector's ``complete_prefix`` says they hold whole records, and queues those.
Bytes left unterminated when the link closes are quarantined, never guessed into a record.

Header lines: a CSV stream (canonical CSV, CUCM) starts with a header the parser needs in front of
every chunk.  Lines at the start of a session that parse to no record and no error are the session's
*preamble* and are prepended to each chunk it parses — found by asking the connector, so no format
is special-cased here.  The answers are remembered per PBX (a probe is a whole parser call on the
receiving loop): a session that starts with a preamble an earlier session ended with takes it as is.  Formats with their own framing (an overridden ``complete_prefix``) have none.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from collector import checkpoints
from collector.connectors.base import Connector
from collector.parts import Part
from collector.pipeline import Pipeline
from collector.rawdump import DumpRef, RawDumpWriter
from warehouse.errors import CallcostError


class Intake:
    """Where one PBX's transports hand over what they receive."""

    def __init__(self, pipeline: Pipeline, pbx: str, connector: Connector, dump: RawDumpWriter | None) -> None:
        self.pipeline = pipeline
        self.pbx = pbx
        self.connector = connector
        self.dump = dump
        self._sessions = 0
        #: header-probe verdicts by candidate bytes: every session of a PBX starts with the same header
        #: line, and one probe is a whole connector parse (milliseconds on the receiving loop)
        self.probes: dict[bytes, bool] = {}
        #: whole preambles earlier sessions ended with (a record followed them): a session starting with
        #: the same bytes takes them as its preamble without probing its first data line
        self.preambles: set[bytes] = set()

    def open_session(self, transport: str, name: str, meta: dict | None = None) -> StreamSession:
        self._sessions += 1
        stream = f"{transport}:{name}#{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{self._sessions}"
        return StreamSession(self, transport, stream.replace(" ", "_"), meta or {})

    def event(self, stream: str, kind: str, detail: str = "") -> None:
        if self.pipeline.writer is not None:  # while the DB is down, events wait in the offline spool
            self.pipeline.writer.record_event(self.pbx, stream, kind, detail)
        else:
            checkpoints.record_event(self.pipeline.engine, self.pbx, stream, kind, detail)

    async def event_async(self, stream: str, kind: str, detail: str = "") -> None:
        await asyncio.to_thread(self.event, stream, kind, detail)

    def file_part(self, transport: str, path: Path, data: bytes, *, source: str | None = None,
                  on_stored: Callable[[], None] | None = None) -> Part:
        """A whole file as one part (files are parsed alone: formats may read their name)."""
        return Part(pbx=self.pbx, transport=transport, stream=str(path), connector=self.connector, data=data,
                    preamble=b"", first_offset=0, range_start=0, range_end=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), received_at=datetime.now(UTC), final=True,
                    is_file=True, source=source or str(path), on_stored=on_stored)

    async def durable(self) -> None:
        """Everything appended to the raw dump so far is on disk (group commit across links)."""
        if self.dump is not None:
            await asyncio.to_thread(self.dump.sync)


class StreamSession:
    """One connection (or serial port opening) of one PBX."""

    def __init__(self, intake: Intake, transport: str, stream: str, meta: dict) -> None:
        self.intake = intake
        self.transport = transport
        self.stream = stream
        self.connector = intake.connector.for_stream()
        self.buffer = bytearray()
        self.received = 0  # stream bytes received
        self.consumed = 0  # stream offset of buffer[0]
        self.emitted = 0  # end of the last part's range
        self.blocks: list[tuple[int, str, int]] = []
        self.preamble = b""
        self.in_preamble = type(self.connector).complete_prefix is Connector.complete_prefix
        self.sequence: int | None = None
        self.closed = False
        self.own_dump = intake.dump is not None  # every block is in intake.dump (parts may then spill)
        intake.pipeline.metrics[intake.pbx].sessions_open += 1
        if intake.dump is not None:
            intake.dump.append("O", stream, json.dumps({"pbx": intake.pbx, "transport": transport,
                                                        "stream": stream, **meta}).encode())

    def dump_protocol(self, kind: str, data: bytes) -> None:
        """Keep non-data bytes (protocol headers received ``P``, bytes sent ``S``) for audit."""
        if self.intake.dump is not None:
            self.intake.dump.append(kind, self.stream, data)

    def take(self, data: bytes, ref: DumpRef | None = None) -> Part | None:
        """Record *data* (dump first) and return the whole records it completes, if any."""
        if ref is None and self.intake.dump is not None:
            ref = self.intake.dump.append("D", self.stream, data)
        else:
            self.own_dump = False  # replayed or recovered bytes: their blocks are in other files
        if ref is not None:
            self.blocks.append((self.received, ref.path, ref.offset))
        self.received += len(data)
        self.buffer += data
        self.intake.pipeline.metrics[self.intake.pbx].bytes_received += len(data)
        return self._part(final=False)

    async def feed(self, data: bytes, ref: DumpRef | None = None) -> None:
        part = self.take(data, ref)
        if part is not None:
            await self.intake.pipeline.offer(part)

    def feed_blocking(self, data: bytes, ref: DumpRef | None = None) -> None:
        part = self.take(data, ref)
        if part is not None:
            self.intake.pipeline.submit(part)

    def end(self, reason: str) -> Part:
        """The session is over: the last part (with any unterminated tail to quarantine)."""
        self.closed = True
        self.intake.pipeline.metrics[self.intake.pbx].sessions_open -= 1
        part = self._part(final=True)
        assert part is not None
        if self.intake.dump is not None:
            self.intake.dump.append("C", self.stream, reason.encode())
        return part

    async def close(self, reason: str) -> None:
        if not self.closed:
            await self.intake.pipeline.offer(self.end(reason))

    def close_blocking(self, reason: str) -> None:
        if not self.closed:
            self.intake.pipeline.submit(self.end(reason))

    # --- internals ---------------------------------------------------------------------------------

    def _part(self, *, final: bool) -> Part | None:
        n = self.connector.complete_prefix(bytes(self.buffer)) if self.buffer else 0
        head = 0
        if self.in_preamble and n:
            head = self._header_bytes(n)
            self.preamble += bytes(self.buffer[:head])
        if n - head <= 0 and not final:
            if head:
                del self.buffer[:head]
                self.consumed += head
            return None
        whole = bytes(self.buffer[:n])
        tail = bytes(self.buffer[n:]) if final else b""
        data = whole[head:]
        end = self.consumed + n + len(tail)
        part = Part(pbx=self.intake.pbx, transport=self.transport, stream=self.stream, connector=self.connector,
                    data=data, preamble=self.preamble, first_offset=self.consumed + head,
                    range_start=self.emitted, range_end=end,
                    sha256=hashlib.sha256(whole + tail).hexdigest() if (whole or tail) else _EMPTY,
                    received_at=datetime.now(UTC), blocks=self._blocks_until(end), final=final,
                    incomplete=tail if tail.strip(b"\0\r\n \t") else b"", sequence=self.sequence,
                    dump=self.intake.dump if self.own_dump else None)
        del self.buffer[:n + len(tail)]
        self.consumed = self.emitted = end
        return part

    def _blocks_until(self, end: int) -> tuple[tuple[int, str, int], ...]:
        """Dump blocks covering ``[consumed, end)``; blocks still needed for the remainder are kept."""
        used = tuple(b for b in self.blocks if b[0] < end)
        keep = [b for b in self.blocks if b[0] >= end]
        if used and ((keep and keep[0][0] > end) or (not keep and self.received > end)):
            keep.insert(0, used[-1])  # the last block continues past *end*
        self.blocks = keep
        return used

    def _header_bytes(self, n: int) -> int:
        """How many of the first *n* buffered bytes are header lines (see module doc)."""
        view = bytes(self.buffer[:n])
        if not self.preamble:
            known = max((k for k in self.intake.preambles if view.startswith(k)), key=len, default=None)
            if known is not None:
                self.in_preamble = False
                return len(known)
        pos = 0
        while pos < n:
            end = view.find(b"\n", pos) + 1 or n
            if not view[pos:end].strip() or not self._is_header(self.preamble + view[:end]):
                self.in_preamble = False
                if self.preamble or pos:
                    if len(self.intake.preambles) >= 16:
                        self.intake.preambles.clear()
                    self.intake.preambles.add(self.preamble + view[:pos])
                return pos
            pos = end
        return pos

    def _is_header(self, candidate: bytes) -> bool:
        """Does *candidate* (preamble + one more line) parse to no record and no error?  Cached per PBX."""
        probes = self.intake.probes
        if candidate not in probes:
            try:
                result = self.intake.connector.parse(candidate, "header-probe")  # shared: no stream state
                verdict = not (result.records_seen or result.quarantined)
            except CallcostError:
                verdict = False
            if len(probes) >= 256:  # data lines differ per session: keep the cache small
                probes.clear()
            probes[candidate] = verdict
        return probes[candidate]


_EMPTY = hashlib.sha256(b"").hexdigest()

