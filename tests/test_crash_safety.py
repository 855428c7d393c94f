"""``kill -9`` of a real ``callcost collect`` process, mid-file and mid-TCP-stream, then a restart: every CDR
exactly once in the DB and the lake, and ``callcost status`` without alerts.

Real parts: the collector is a subprocess, PostgreSQL is a server of the test's own with
``synchronous_commit`` on, the PBX is a TCP client streaming generated Avaya CM records (and a CM on an
RSP link, one acknowledged SPDU at a time), the folder holds large generated CUCM flat files.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for
from crashkit import (
    AVAYA_OPTIONS,
    CollectorProcess,
    TcpPbx,
    avaya_stream,
    canonical_stream,
    crash_enterprise,
    dumped_bytes,
    durable_pg,
    expected_ids,
    free_port,
    generated_calls,
    status,
    tally,
    wait_for_calls,
)

from collector.transports.rsp import ACCEPT, ack, data_spdu

CONNECT = bytes([0x01]) + bytes(16)  # the 17-byte session connect (contents undecoded)


@pytest.fixture
def own_pg():
    server = durable_pg()
    try:
        yield server
    finally:
        server.stop()


def test_kill9_mid_tcp_stream_loses_and_doubles_nothing(tmp_path, own_pg):
    url = own_pg.create_database("crash_tcp")
    port = free_port()
    ent = crash_enterprise(tmp_path / "ent", url, {"sha-csv": f"tcp:127.0.0.1:{port}"}, types={"sha-csv": "avaya"},
                           collector="batch_ms = 200\nqueue_mb = 1", pbx_options={"sha-csv": AVAYA_OPTIONS})
    data = avaya_stream(ent, 20_000)
    expected = expected_ids(ent, "sha-csv", data)
    collector = CollectorProcess(ent, tmp_path / "collect.log").start()
    pbx = TcpPbx(data, chunk=8 * 1024, pause_s=0.03).start(port)  # ~2,700 CDRs/s for ~7 s
    wait_for_calls(url, len(expected) // 4, 60, collector)
    assert not pbx.finished.is_set(), "the stream ended before the kill: not mid-stream"
    collector.kill9()
    assert pbx.finished.wait(30)  # the link died (or its last bytes sat unread in the dead socket's buffer)
    [delivered] = dumped_bytes(ent, "sha-csv")
    assert 0 < delivered <= pbx.sent  # the dump holds a prefix of what was sent

    collector = CollectorProcess(ent, tmp_path / "collect.log").start()  # restart: recovers the dump
    pbx.start(port, pbx.resume_offset(delivered, overlap_records=25))  # the PBX reconnects and resends
    pbx.join()
    assert pbx.error is None
    wait_for_calls(url, len(expected), 120, collector)
    assert collector.stop() == 0
    log = (tmp_path / "collect.log").read_text()
    assert "fed again from the raw dump" in log

    t = tally(ent, url, expected)
    assert t.ok, t
    assert t.stored == len(expected) == t.lake_rows
    code, rows, alerts = status(ent)
    assert code == 0, alerts
    [st] = [r for r in rows if r["pbx"] == "sha-csv"]
    assert st["received"] == st["parsed"] + st["quarantined"] and st["quarantined"] <= 1  # a torn record at most
    assert st["parsed"] >= len(expected)  # the overlap was parsed again, stored once


def test_kill9_mid_file_loses_and_doubles_nothing(tmp_path, own_pg):
    from collector.simulate.cucm_and_canonical_csv import write_cucm_files

    url = own_pg.create_database("crash_folder")
    # small batches: a file spans several commits, so the kill lands inside one even on a fast machine
    ent = crash_enterprise(tmp_path / "ent", url, {"nyc-cucm": "folder:incoming/nyc-cucm"},
                           collector="batch_ms = 200\nbatch_records = 2000",
                           pbx_options={"nyc-cucm": 'settle_s = 0\npoll_s = 0.1\nafter_import = "move"'})
    staging = tmp_path / "staging"
    files = write_cucm_files(generated_calls(ent, 40_000), staging, cluster="StandAloneCluster",
                             minutes_per_file=60 * 24 * 4)
    expected = set().union(*(expected_ids(ent, "nyc-cucm", f.read_bytes(), str(f)) for f in files))
    assert len(files) >= 6
    folder = ent.root / "incoming" / "nyc-cucm"
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.move(f, folder / f.name)

    collector = CollectorProcess(ent, tmp_path / "collect.log").start()
    wait_for_calls(url, 1, 90, collector)  # the first batch is in: kill at once (the import takes ~1 s)
    collector.kill9()  # in the middle of the folder: some files stored, one being parsed/rated/stored
    left = sorted(p.name for p in folder.glob("cdr_*"))
    assert left, "every file was done before the kill"

    collector = CollectorProcess(ent, tmp_path / "collect.log").start()
    wait_for_calls(url, len(expected), 120, collector)
    moved = [folder / "done" / f.name for f in files]
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in moved) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert collector.stop() == 0
    assert all(p.exists() for p in moved) and not list(folder.glob("cdr_*"))

    t = tally(ent, url, expected)
    assert t.ok, t
    code, rows, alerts = status(ent)
    assert code == 0, alerts
    [st] = [r for r in rows if r["pbx"] == "nyc-cucm"]
    assert st["streams"] == len(files)  # each file accounted once: none taken twice
    assert st["parsed"] == len(expected) and st["quarantined"] == 0


class _Cm:
    """A CM on an RSP link: one data SPDU at a time, each waiting for its ack (window 1)."""

    def __init__(self, records: list[bytes], header: bytes, per_spdu: int = 10, pause_s: float = 0.005) -> None:
        self.pause_s = pause_s
        self.spdus = [b"".join(records[k:k + per_spdu]) for k in range(0, len(records), per_spdu)]
        self.header = header
        self.acked = 0  # SPDUs acknowledged so far: CM's buffer may drop them
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self, port: int) -> None:
        self.error = None
        self.done.clear()
        threading.Thread(target=self._run, args=(port,), daemon=True).start()

    def _run(self, port: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(CONNECT)
                assert _recv(s, len(ACCEPT)) == ACCEPT
                first = True
                while self.acked < len(self.spdus):
                    seq = self.acked & 0xFF
                    s.sendall(data_spdu(seq, (self.header if first else b"") + self.spdus[self.acked]))
                    if _recv(s, 5) != ack(seq):
                        raise AssertionError("wrong ack")
                    self.acked += 1
                    first = False
                    time.sleep(self.pause_s)  # a switch sends records as calls end, not all at once
        except (OSError, AssertionError) as exc:
            self.error = exc
        finally:
            self.done.set()


def _recv(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("collector closed the link")
        out += chunk
    return out


def test_kill9_on_an_rsp_link_loses_no_acknowledged_record(tmp_path, own_pg):
    url = own_pg.create_database("crash_rsp")
    port = free_port()
    ent = crash_enterprise(tmp_path / "ent", url, {"lon-csv": f"rsp:127.0.0.1:{port}"},
                           collector="batch_ms = 200", pbx_options={"lon-csv": "rsp_idle_ms = 100"})
    stream = canonical_stream(ent, 12_000, seed=5).replace(b"\n", b"\r\n")
    expected = expected_ids(ent, "lon-csv", stream)
    lines = stream.splitlines(keepends=True)
    cm = _Cm(lines[1:], lines[0])
    collector = CollectorProcess(ent, tmp_path / "collect.log").start()
    cm.run(port)
    wait_for_calls(url, len(expected) // 4, 60, collector)
    assert not cm.done.is_set(), f"the CM had sent everything before the kill ({cm.error!r}, {cm.acked})"
    collector.kill9()
    assert cm.done.wait(30) and cm.error is not None
    acked = cm.acked  # CM drops what was acknowledged; everything else it sends again

    collector = CollectorProcess(ent, tmp_path / "collect.log").start()
    cm.run(port)  # reconnect: resend from the first unacknowledged SPDU
    assert cm.done.wait(120) and cm.error is None, cm.error
    wait_for_calls(url, len(expected), 120, collector)
    assert collector.stop() == 0
    assert 0 < acked < len(cm.spdus)
    t = tally(ent, url, expected)
    assert t.ok, t
    code, _rows, alerts = status(ent)
    assert code == 0, alerts


def test_recovery_feeds_an_unclosed_dump_session_once_and_marks_the_dump_stored(tmp_path):
    """In-process and fast: a dump left by a "crashed" process (a session with no close frame, its first
    records already stored) is fed again from its checkpoint at start; after a clean stop nothing is left."""
    from collector.recovery import read_marker

    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"}, collector="batch_ms = 100")
    db_url = f"sqlite:///{tmp_path}/c.db"
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:  # the run that "crashes"
        session = svc.transports["lon-csv"].intake.open_session("tcp", "10.0.0.9:4000")
        session.feed_blocking(HEADER + csv_records(300))  # received, dumped and stored
        wait_for(lambda: svc.pipeline.metrics["lon-csv"].stored >= 300)
        # received and dumped, then the process dies before parsing it (and the link never closes)
        svc.dumps["lon-csv"].append("D", session.stream, csv_records(200, start=300) + b"c500,2026-10-05T09:0")
    assert read_marker(ent.storage.raw_dump / "lon-csv") is not None  # a clean stop marks the dump stored …
    (ent.storage.raw_dump / "lon-csv" / "recovered.json").unlink()  # … which a kill -9 never reaches
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        wait_for(lambda: svc.recovery.done.is_set() and svc.pipeline.metrics["lon-csv"].stored >= 200)
        assert svc.recovery.reports["lon-csv"].sessions == 1
    assert count(db_url, "select count(*) from calls") == 500
    assert count(db_url, "select count(*) from quarantine") == 1  # the torn record, never guessed
    assert count(db_url, "select count(*) from collector_events where detail like '%crash%'") == 1
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:  # a third start: nothing left to recover
        assert not svc.recovery.needed
    import sqlalchemy as sa

    from collector.status import collector_status

    engine = sa.create_engine(db_url)
    [st] = [x for x in collector_status(ent, engine) if x.pbx == "lon-csv"]
    engine.dispose()
    assert (st.parsed, st.quarantined) == (500, 1) and not st.alerts, st.alerts


def test_folder_finishes_a_stored_file_without_reading_it_again_but_imports_a_new_one_of_the_same_name(tmp_path):
    """``after_import = "move"``: a file stored before a crash but never moved is moved, not imported twice;
    a later file that reuses the name (an hourly ``Master.csv``) has other content and is imported."""
    import hashlib

    ent = enterprise_with(tmp_path, {"lon-csv": "folder:incoming/lon-csv"}, collector="batch_ms = 100",
                          pbx_options={"lon-csv": 'settle_s = 0\npoll_s = 0.05\nafter_import = "move"'})
    db_url = f"sqlite:///{tmp_path}/c.db"
    folder = ent.root / "incoming" / "lon-csv"
    folder.mkdir(parents=True, exist_ok=True)
    master = folder / "Master.csv"
    first = HEADER + csv_records(10, prefix="x")
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        master.write_bytes(first)
        wait_for(lambda: (folder / "done" / "Master.csv").exists() and not master.exists())
    ledger = ent.storage.offline / "folder-done" / "lon-csv.txt"
    assert ledger.read_text() == f"{hashlib.sha256(first).hexdigest()} {master}\n"

    master.write_bytes(first)  # the killed collector's file: stored (in the ledger), not yet moved
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        wait_for(lambda: not master.exists(), what="moved without being read")
        assert svc.pipeline.metrics["lon-csv"].records_received == 0
        master.write_bytes(HEADER + csv_records(10, prefix="z"))  # the next hour's file, same name
        wait_for(lambda: svc.pipeline.metrics["lon-csv"].stored >= 10 and not master.exists())
    assert count(db_url, "select count(*) from calls") == 20
    assert count(db_url, "select count(distinct stream) from ingest_segments") == 1  # one path, two files
    assert count(db_url, "select sum(received) from ingest_segments") == 20
