"""Helpers for crash-safety tests and ``benchmarks/faults.py``: a real ``callcost collect`` subprocess that can be
``kill -9``-ed, a PBX playing CDRs over TCP, CDRs from the traffic generator, and the exactly-once check.

Why a subprocess: a SIGKILL must hit the whole collector (its threads, its buffered files, its open
transactions) the way it does in production; an in-process service cannot be killed like that.

The PBX: plain TCP has no acknowledgement, so after a collector crash a PBX cannot know which bytes were
read.  :class:`TcpPbx` resends from the first record that is not wholly in the collector's raw dump (minus
an overlap, to prove that repeats are absorbed) — what an RSP link or a PBX with a resend buffer does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from collectorkit import enterprise_with

from collector.connectors.base import connector_for
from collector.rawdump import dump_files, read_frames
from collector.service import pbx_context
from warehouse import lake
from warehouse.config import Enterprise, load_config

REPO = Path(__file__).resolve().parents[1]
AVAYA_OPTIONS = 'layout = "customized"\nfields = "sszokoly"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crash_enterprise(directory: Path, db_url: str, sources: dict[str, str], *, types: dict[str, str] | None = None,
                     collector: str = "batch_ms = 200", pbx_options: dict[str, str] | None = None) -> Enterprise:
    """The sample enterprise with live *sources*, the SQL DB at *db_url*, and PBX *types* changed (e.g. avaya)."""
    ent = enterprise_with(directory, sources, collector=collector, pbx_options=pbx_options)
    text = ent.path.read_text().replace('database = "sqlite:///callcost.db"', f'database = "{db_url}"')
    for pbx, kind in (types or {}).items():
        text, n = re.subn(rf'(id = "{re.escape(pbx)}"\n)type = "[^"]*"', rf'\1type = "{kind}"', text, count=1)
        assert n == 1, pbx
    ent.path.write_text(text)
    return load_config(ent.path)


# --- CDRs from the generator ------------------------------------------------------------------------------

def generated_calls(ent: Enterprise, n: int, seed: int = 7) -> pa.Table:
    from collector.simulate.traffic import generate_traffic

    return generate_traffic(ent, calls=n, seed=seed)


def record_ends(data: bytes) -> np.ndarray:
    """Byte offset just after each record (its line end and any NUL padding)."""
    return np.asarray([m.end() for m in re.finditer(rb"\n\x00*", data)], np.int64)


def unique_records(data: bytes, header: bytes = b"") -> bytes:
    """*data* without repeated identical records (Avaya ids are digests of the text: a repeat is the same call)."""
    ends = record_ends(data[len(header):]) + len(header)
    starts = np.concatenate([[len(header)], ends[:-1]])
    records = dict.fromkeys(data[s:e] for s, e in zip(starts.tolist(), ends.tolist()))
    return header + b"".join(records)


def avaya_stream(ent: Enterprise, n: int, seed: int = 7) -> bytes:
    from collector.simulate.record_formats import write_avaya

    path = ent.root / f"avaya-{seed}.cdr"
    write_avaya(generated_calls(ent, n, seed), path, timezone="UTC")
    data = unique_records(path.read_bytes())
    path.unlink()
    return data


def canonical_stream(ent: Enterprise, n: int, seed: int = 7) -> bytes:
    from collector.simulate.cucm_and_canonical_csv import write_canonical_csv

    path = ent.root / f"canonical-{seed}.csv"
    write_canonical_csv(generated_calls(ent, n, seed), path)
    data = path.read_bytes()
    path.unlink()
    return data


def expected_ids(ent: Enterprise, pbx: str, data: bytes, name: str = "expected") -> set[str]:
    """The call ids a batch parse of *data* gives (what the live path must store, each once)."""
    result = connector_for(ent.pbxs[pbx].type, pbx_context(ent, pbx)).parse(data, name)
    assert not result.quarantined, result.quarantined[:3]
    return set(result.calls.column("call_id").to_pylist())


# --- the collector process --------------------------------------------------------------------------------

@dataclass
class CollectorProcess:
    """``python -m callcost collect --config …`` with a health port, logging to a file."""

    ent: Enterprise
    log: Path
    health_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    what = "collector"

    def verb_args(self) -> list[str]:
        """The ``callcost collect`` options beyond ``--config`` and ``--health-port``."""
        return []

    def start(self, wait: float = 60) -> CollectorProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callcost", "collect", *self.verb_args(), "--config", str(self.ent.path),
                 "--health-port", str(self.health_port)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.ent.root, env=env)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.what} exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                self.health()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{self.what} did not come up:\n{self.log.read_text()[-3000:]}")

    def health(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/health", timeout=5) as r:
            return json.loads(r.read())

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM: the graceful drain; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"collector did not stop:\n{self.log.read_text()[-3000:]}") from None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# --- a PBX on a TCP link ----------------------------------------------------------------------------------

class TcpPbx:
    """Sends *data* (records, an optional *header* at the start of every connection) over TCP on a thread."""

    def __init__(self, data: bytes, header: bytes = b"", chunk: int = 64 * 1024, pause_s: float = 0.0) -> None:
        self.data, self.header, self.chunk, self.pause_s = data, header, chunk, pause_s
        self.ends = record_ends(data)
        self.offset = 0  # where the current connection started in *data*
        self.sent = 0  # bytes of *data* handed to the socket on the current connection
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, port: int, offset: int = 0) -> TcpPbx:
        self.offset, self.sent, self.error = offset, 0, None
        self.finished.clear()
        self._thread = threading.Thread(target=self._send, args=(port,), daemon=True)
        self._thread.start()
        return self

    def _send(self, port: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                if self.header:
                    s.sendall(self.header)
                for k in range(self.offset, len(self.data), self.chunk):
                    s.sendall(self.data[k:k + self.chunk])
                    self.sent = min(k + self.chunk, len(self.data)) - self.offset
                    if self.pause_s:
                        time.sleep(self.pause_s)
        except OSError as exc:  # the collector died under us
            self.error = exc
        finally:
            self.finished.set()

    def join(self, timeout: float = 600) -> None:
        assert self._thread is not None
        self._thread.join(timeout)

    def whole_records(self, delivered: int) -> int:
        """Records of *data* wholly delivered once this connection delivered *delivered* bytes (header included)."""
        return int(np.searchsorted(self.ends, self.offset + max(delivered - len(self.header), 0), side="right"))

    def resume_offset(self, delivered: int, overlap_records: int = 20) -> int:
        """Where to resend from: the first record not wholly *delivered*, minus *overlap_records*."""
        k = max(self.whole_records(delivered) - overlap_records, 0)
        return 0 if k == 0 else int(self.ends[k - 1])


def dumped_bytes(ent: Enterprise, pbx: str) -> list[int]:
    """Data bytes in the raw dump per session of *pbx*, in the order the sessions opened."""
    per: dict[str, int] = {}
    for path in dump_files([ent.storage.raw_dump / pbx]):
        for f in read_frames(path):
            if f.kind == "O":
                per.setdefault(f.session, 0)
            elif f.kind == "D":
                per[f.session] = per.get(f.session, 0) + len(f.payload)
    return list(per.values())


# --- the check --------------------------------------------------------------------------------------------

def count_calls(db_url: str) -> int:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("select count(*) from calls")).scalar_one())
    except sa.exc.SQLAlchemyError:
        return -1
    finally:
        engine.dispose()


def wait_for_calls(db_url: str, n: int, timeout: float, collector: CollectorProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        seen = count_calls(db_url)
        if seen >= n:
            return
        if collector is not None and not collector.alive:
            raise AssertionError(f"collector died:\n{collector.log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"only {seen} of {n} calls stored after {timeout}s"
                         + (f":\n{collector.log.read_text()[-3000:]}" if collector else ""))


@dataclass
class Tally:
    """sent / stored / lost / duplicated, in the DB and in the lake."""

    sent: int
    stored: int
    lost: int
    duplicated: int
    extra: int
    lake_rows: int
    lake_lost: int
    lake_duplicated: int

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.extra or self.lake_lost or self.lake_duplicated)


def tally(ent: Enterprise, db_url: str, expected: set[str]) -> Tally:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select call_id from calls")).scalars().all()
    finally:
        engine.dispose()
    ids = set(rows)
    files = sorted(Path(ent.storage.lake, lake.DATASET).glob("date=*/*.parquet"))  # temp files are hidden
    lake_ids = pa.chunked_array([pq.read_table(f, columns=["call_id"]).column("call_id") for f in files],
                                pa.string()) if files else pa.chunked_array([], pa.string())
    lake_unique = set(pc.unique(lake_ids).to_pylist())
    return Tally(sent=len(expected), stored=len(ids & expected), lost=len(expected - ids),
                 duplicated=len(rows) - len(ids), extra=len(ids - expected), lake_rows=len(lake_ids),
                 lake_lost=len(expected - lake_unique), lake_duplicated=len(lake_ids) - len(lake_unique))


def status(ent: Enterprise) -> tuple[int, list[dict], str]:
    """``callcost status --json``: exit code, rows, stderr (alerts)."""
    proc = subprocess.run([sys.executable, "-m", "callcost", "status", "--json", "--config", str(ent.path)],
                          capture_output=True, text=True, timeout=120, cwd=ent.root, check=False)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else [], proc.stderr


def durable_pg():
    """A PostgreSQL server of the caller's own with ``synchronous_commit`` on (a told commit survives a crash).

    ``fsync=off`` is harmless here: when only PostgreSQL (or the collector) dies, the OS keeps its page cache.
    """
    from pgserver import PgServer

    return PgServer(settings="-c fsync=off -c full_page_writes=off -c shared_buffers=64MB "
                             "-c max_connections=50").start()
