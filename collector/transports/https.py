"""``https:HOST:PORT`` — the centre's end of a remote unit: batches POSTed over TLS, rated and stored idempotently.

Every ``[[pbx]]`` a remote unit forwards is listed at the centre with ``source = "https:HOST:PORT"``;
PBXs naming the same HOST:PORT share one listener, which accepts batches only for them.

A request (``POST /v1/batches``, see :mod:`collector.wire`) is taken in this order:

1. ``Authorization: Bearer <token>`` compared in constant time with the token from the environment
   variable ``https_token_env`` — otherwise 401 and the connection is closed, the body unread;
2. the body's SHA-256 checked against ``X-Callcost-Sha256`` (400 on a mismatch: the unit resends);
3. duplicates: the batch key ``remote:<unit>:<batch id>:<sha256 prefix>`` was committed before (in
   ``collector_batch_commits``, or accepted by this process while the DB is down) → 200 ``duplicate``,
   nothing written;
4. the parsed calls are rated with the *centre's* tariffs and handed to the pipeline's writer — the same
   :class:`~collector.failover.FailoverWriter` the local sources use: calls into DB + lake (idempotent on
   ``call_id``), quarantine and segment accounting in one transaction with the batch key as marker, or,
   while the database is down, into the offline spool;
5. only then 200: the unit deletes the batch from its outbox.  Any failure before that answers 5xx and
   the unit retries, so a batch is stored at least once and counted exactly once.

A hand-written HTTP/1.1 server on the collector's event loop (like ``collector.health``): one POST route
does not justify a web framework dependency.  Keep-alive is supported; one batch at a time per listener.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import sqlalchemy as sa

from collector.failover import commits
from collector.pipeline import Pipeline
from collector import wire
from collector.settings import Settings, settings_for, token_from_env
from collector.transports.base import Transport, host_port
from warehouse.config import Enterprise, Pbx
from warehouse.errors import ConfigError
from analytics.rating.stage import RatingStage

log = logging.getLogger("callcost.collector.https")
_IDLE_S = 120.0  # a keep-alive connection with no request for this long is closed
_BODY_S = 600.0  # a body that takes longer than this to arrive is dropped (and resent by the unit)
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 411: "Length Required",
            413: "Content Too Large", 422: "Unprocessable Content", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}


@dataclass(frozen=True, slots=True)
class HttpsSettings:
    host: str
    port: int
    cert: Path
    key: Path
    token_env: str
    max_bytes: int

    def token(self) -> str:
        return token_from_env(self.token_env, field="https_token_env",
                              expected="the bearer token the remote units send, in that variable")


def https_settings(ent: Enterprise, pbx: Pbx, settings: Settings | None = None) -> HttpsSettings:
    """The listener settings of an ``https:`` PBX; each problem names the config file and field."""
    s = settings or settings_for(ent, pbx)
    where = f"pbx '{pbx.id}'"
    try:
        host, port = host_port(pbx.source_target, "https")
    except ConfigError as exc:
        raise ConfigError(exc.message, file=str(ent.path), field=f"{where}.source", expected=exc.expected) from exc
    paths = {}
    for key in ("https_cert", "https_key"):
        if not s[key]:
            raise ConfigError("missing", file=str(ent.path), field=f"{where}.{key}",
                              expected="a PEM file (in [collector] or the [[pbx]] table)")
        paths[key] = ent.path.parent / s[key]
        if not paths[key].is_file():
            raise ConfigError(f"{paths[key]} does not exist", file=str(ent.path), field=f"{where}.{key}",
                              expected="a readable PEM file")
    if not s["https_token_env"] or not os.environ.get(s["https_token_env"]):
        raise ConfigError(f"environment variable {s['https_token_env'] or '(empty)'} is not set",
                          file=str(ent.path), field=f"{where}.https_token_env",
                          expected="the name of an environment variable holding the units' bearer token")
    if int(s["https_max_mb"]) <= 0:
        raise ConfigError("must be positive", file=str(ent.path), field=f"{where}.https_max_mb", expected="e.g. 256")
    return HttpsSettings(host, port, paths["https_cert"], paths["https_key"], s["https_token_env"],
                         int(float(s["https_max_mb"]) * 1024 * 1024))


@dataclass
class UnitStatus:
    last_batch: int | None = None
    last_at: float | None = None
    batches: int = 0
    duplicates: int = 0
    calls: int = 0


class HttpsTransport(Transport):
    scheme = "https"
    volatile = False  # the bytes stay in the unit's outbox until acknowledged, and in its raw dump
    listener: _Listener | None = None  # from start to stop

    async def start(self) -> None:
        self.https = https_settings(self.ent, self.pbx, self.settings)
        self.listener = await _Listener.acquire(self.ent, self.intake.pipeline, self.https, self.pbx.id)

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.release(self.pbx.id)
            self.listener = None

    @property
    def address(self) -> tuple[str, int]:
        assert self.listener is not None, "started"
        return self.listener.address

    def describe(self) -> dict:
        listener = self.listener
        if listener is None:
            return {"source": self.pbx.source, "listening": None}
        return {"source": self.pbx.source, "listening": "{}:{}".format(*listener.address),
                "connections": len(listener.tasks), "refused": listener.refused,
                "units": {u: {**vars(s), "last_at": _iso(s.last_at)} for u, s in listener.units.items()}}


@dataclass(eq=False)
class _Listener:
    """One TLS server per (collector, HOST:PORT), shared by the PBXs that name it."""

    ent: Enterprise
    pipeline: Pipeline
    settings: HttpsSettings
    pbx_ids: set[str] = field(default_factory=set)
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task] = field(default_factory=set)
    units: dict[str, UnitStatus] = field(default_factory=dict)
    refused: int = 0
    _accepted: set[str] = field(default_factory=set)  # batch keys taken by this process (the DB may be down)
    _stage: RatingStage | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    _open = {}  # type: dict[tuple[int, str, int], _Listener]

    @classmethod
    async def acquire(cls, ent: Enterprise, pipeline: Pipeline, settings: HttpsSettings, pbx_id: str) -> _Listener:
        key = (id(pipeline), settings.host, settings.port)
        listener = cls._open.get(key)
        if listener is None:
            listener = cls(ent, pipeline, settings)
            await listener._start(settings.token())
            cls._open[key] = listener
        listener.pbx_ids.add(pbx_id)
        return listener

    async def release(self, pbx_id: str) -> None:
        self.pbx_ids.discard(pbx_id)
        if self.pbx_ids:
            return
        self._open.pop((id(self.pipeline), self.settings.host, self.settings.port), None)
        if self.server is not None:
            self.server.close()
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[:2]

    async def _start(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.settings.cert, self.settings.key)
        self.server = await asyncio.start_server(self._accept, self.settings.host, self.settings.port, ssl=context,
                                                 ssl_handshake_timeout=15, limit=64 * 1024)
        log.info("accepting remote-unit batches on https://%s:%d%s", *self.address, wire.PATH)

    # --- HTTP --------------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), _IDLE_S)
                except TimeoutError:
                    break
                if not line:
                    break
                request = line.decode("latin-1").split()
                headers = await self._headers(reader)
                if headers is None:
                    await _respond(writer, 431, {"error": "too many header lines"}, keep=False)
                    break
                status, doc, keep = await self._handle(request, headers, reader, f"{peer[0]}:{peer[1]}")
                await _respond(writer, status, doc, keep=keep, extra="WWW-Authenticate: Bearer\r\n" if status == 401 else "")
                if not keep:
                    break
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.LimitOverrunError,
                ValueError):
            pass
        except asyncio.CancelledError:  # the listener is stopping; a batch being stored was not acknowledged
            pass
        finally:
            self.tasks.discard(task)
            writer.close()
            try:  # TLS close_notify; a peer that does not answer it is cut off rather than waited for
                await asyncio.wait_for(writer.wait_closed(), 1)
            except (OSError, TimeoutError, ssl.SSLError, asyncio.CancelledError):
                writer.transport.abort()

    @staticmethod
    async def _headers(reader: asyncio.StreamReader) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        for _ in range(100):
            line = await asyncio.wait_for(reader.readline(), 30)
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return None

    async def _handle(self, request: list[str], headers: dict[str, str], reader: asyncio.StreamReader,
                      peer: str) -> tuple[int, dict[str, Any], bool]:
        if len(request) < 2 or request[0] != "POST" or request[1] != wire.PATH:
            return 404, {"error": f"try POST {wire.PATH}"}, False
        unit = headers.get(wire.H_UNIT.lower(), "?")
        if not hmac.compare_digest(headers.get("authorization", "").encode("latin-1"), self._expected):
            self.refused += 1
            log.warning("refused a batch from %s (unit %r): wrong or missing bearer token", peer, unit)
            return 401, {"error": "wrong or missing bearer token"}, False
        length = headers.get("content-length", "")
        if not length.isdigit():
            return 411, {"error": "Content-Length required"}, False
        if int(length) > self.settings.max_bytes:
            return 413, {"error": f"batch larger than {self.settings.max_bytes} bytes (https_max_mb)"}, False
        body = await asyncio.wait_for(reader.readexactly(int(length)), _BODY_S)
        digest = wire.sha256(body)
        if not hmac.compare_digest(headers.get(wire.H_SHA256.lower(), ""), digest):
            return 400, {"error": "checksum mismatch: body damaged in transit"}, True
        try:
            batch = await asyncio.to_thread(wire.decode, body)
        except wire.WireError as exc:
            return 400, {"error": str(exc)}, True
        if batch.unit != unit or str(batch.batch_id) != headers.get(wire.H_BATCH.lower()):
            return 400, {"error": "unit/batch headers do not match the body"}, True
        foreign = batch.pbxs - self.pbx_ids
        if foreign:
            log.error("unit %s sent batch %d for PBXs this listener does not serve: %s", unit, batch.batch_id,
                      ", ".join(sorted(foreign)))
            return 422, {"error": "unknown PBX: " + ", ".join(sorted(foreign)),
                         "expected": f"[[pbx]] tables at the centre with source \"https:{self.settings.host}:"
                                     f"{self.settings.port}\""}, True
        async with self._lock:  # one batch at a time: a unit's batches are committed in its order
            try:
                answer = await asyncio.to_thread(self._ingest, batch, digest)
            except Exception as exc:  # noqa: BLE001 - the unit keeps the batch and retries
                log.exception("batch %d of unit %s not stored; the unit will resend it", batch.batch_id, unit)
                return 503, {"error": f"not stored: {type(exc).__name__}"}, False
        return 200, answer, True

    # --- storing -----------------------------------------------------------------------------------

    def _ingest(self, batch: wire.RemoteBatch, digest: str) -> dict[str, Any]:
        key = f"remote:{batch.unit}:{batch.batch_id}:{digest[:16]}"
        status = self.units.setdefault(batch.unit, UnitStatus())
        if key in self._accepted or self._committed(key):
            status.duplicates += 1
            return {"status": "duplicate", "batch": batch.batch_id}
        writer = self.pipeline.writer
        if writer is None:
            raise RuntimeError("the centre's pipeline has no writer")
        spooled, inserted, rows = False, 0, 0
        if batch.event is not None:
            e = batch.event
            writer.record_event(e["pbx"], e["stream"], e["kind"], e.get("detail", ""), key=key)
            spooled = not writer.online
        else:
            started = time.perf_counter()
            if self._stage is None:
                self._stage = RatingStage(self.ent)  # its own: the pipeline's rate worker uses the other
            rated = self._stage.rate_batch(batch.calls)
            rows = rated.num_rows
            n_rated = int(pc.sum(pc.equal(rated.column("rating_status"), "rated")).as_py() or 0) if rows else 0
            fields = {**batch.batch, "rated": n_rated, "unrated": rows - n_rated,
                      "rate_s": time.perf_counter() - started}
            outcome = writer.write(rated, batch.quarantine, fields, batch.segments, started, key=key)
            spooled, inserted = outcome.spooled, outcome.inserted
            self._count(batch)
        self._accepted.add(key)
        status.last_batch, status.last_at = batch.batch_id, time.time()
        status.batches += 1
        status.calls += rows
        return {"status": "spooled" if spooled else "stored", "batch": batch.batch_id, "calls": rows,
                "inserted": inserted}

    def _committed(self, key: str) -> bool:
        """Is *key* in ``collector_batch_commits``?  Unknown (False) while the DB is down: the spool's drain dedupes."""
        writer = self.pipeline.writer
        if writer is None or not writer.online:
            return False
        try:
            with writer.engine.connect() as conn:
                return conn.execute(sa.select(commits.c.batch_key).where(commits.c.batch_key == key)).first() is not None
        except sa.exc.SQLAlchemyError:
            return False

    def _count(self, batch: wire.RemoteBatch) -> None:
        """The health counters of the PBXs in *batch*, as the pipeline's store stage keeps them."""
        wall = time.time()
        for s in batch.segments:
            m = self.pipeline.metrics[s.pbx]
            m.bytes_received += s.bytes
            m.count_stored(s.received, s.parsed, s.quarantined, s.rated, s.received_at.timestamp(), wall)
            m.lag_s = wall - s.received_at.timestamp()
        self.pipeline.batches_stored += 1


async def _respond(writer: asyncio.StreamWriter, status: int, doc: dict[str, Any], *, keep: bool,
                   extra: str = "") -> None:
    body = json.dumps(doc).encode()
    writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: {'keep-alive' if keep else 'close'}\r\n{extra}\r\n"
                 .encode() + body)
    await writer.drain()


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat() if t else None
