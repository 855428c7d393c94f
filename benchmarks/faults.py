"""Fault scenarios at scale (issue 5): does any fault lose or double a CDR?  Prints sent / stored / lost / duplicated.

    python benchmarks/faults.py [--cdrs 1000000] [--scenario pg-crash --scenario kill-tcp …]

Each scenario gets a fresh enterprise, its own PostgreSQL server (``synchronous_commit`` on), and a real
``callcost collect`` subprocess; the CDRs come from the traffic generator (``collector.simulate``) as
canonical CSV, which the PBX side streams over TCP or drops into the watched folder as files:

* ``pg-crash`` — PostgreSQL stopped with ``pg_ctl stop -m immediate`` mid-stream, restarted after a while;
* ``kill-file`` — the collector SIGKILLed while it works through a folder of large files, restarted;
* ``kill-tcp`` — the collector SIGKILLed mid-TCP-stream (a tenth stored or 80 % sent, at ≤ 6.5 MB/s), restarted; the
  PBX reconnects and resends from the first record not wholly in the raw dump, with an overlap of 1,000
  records (plain TCP has no ack, see docs/collector.md "Crash safety");
* ``db-down-start`` — PostgreSQL is down when the collector starts, started once half the CDRs are spooled;
* ``remote-unit`` — a real ``callcost collect --remote-unit`` takes the TCP stream (paced as in kill-tcp) and
  forwards it over loopback HTTPS (test CA) through a relay to a real centre collector on its own PostgreSQL;
  mid-stream the link is cut (the relay drops everything for longer than the unit's ``timeout_s``, then
  resets the connections that lived through it), the centre is SIGSTOPped for longer than ``timeout_s``
  (answers are lost: resends must be taken as duplicates), then SIGKILLed, down ≤ 20 s, and restarted.

Columns: *sent* distinct CDRs the PBX side delivered, *stored* of those in the DB, *lost* = sent − stored,
*dup* = rows beyond one per call in the DB and in the lake, *lake* rows, *alerts* from ``callcost status``,
*s* wall seconds from the first byte to the last call stored.  The goal is 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))  # the harness shared with tests

from crashkit import (
    CollectorProcess,
    Tally,
    TcpPbx,
    canonical_stream,
    count_calls,
    crash_enterprise,
    durable_pg,
    expected_ids,
    free_port,
    generated_calls,
    status,
    tally,
    wait_for_calls,
)

COLLECTOR = "batch_ms = 1000\nqueue_mb = 16"


@dataclass
class Outcome:
    scenario: str
    tally: Tally | None
    seconds: float
    alerts: int
    note: str = ""


@dataclass
class Ctx:
    root: Path
    cdrs: int
    timeout: float


def _split(stream: bytes) -> tuple[bytes, bytes]:
    cut = stream.index(b"\n") + 1
    return stream[:cut], stream[cut:]


class TcpSetup(NamedTuple):
    """A fresh database and an enterprise whose ``lon-csv`` PBX streams canonical CSV to a TCP port."""

    url: str
    port: int
    ent: object
    expected: set[str]
    header: bytes
    body: bytes


def _tcp_setup(ctx: Ctx, pg) -> TcpSetup:
    url = pg.create_database("faults")
    port = free_port()
    ent = crash_enterprise(ctx.root, url, {"lon-csv": f"tcp:127.0.0.1:{port}"}, collector=COLLECTOR)
    stream = canonical_stream(ent, ctx.cdrs)
    return TcpSetup(url, port, ent, expected_ids(ent, "lon-csv", stream), *_split(stream))


def _finish(name: str, ent, url: str, expected: set[str], collector: CollectorProcess, t0: float,
            timeout: float, note: str, unit: CollectorProcess | None = None) -> Outcome:
    wait_for_calls(url, len(expected), timeout, collector)
    seconds = time.monotonic() - t0
    if unit is not None:  # a remote unit in front: its outbox (the link's end events) drains first
        note += _stop_unit(unit, timeout)
    rc = collector.stop()
    if rc != 0:
        note += f"; collector exit {rc}"
    _code, _rows, alerts = status(ent)
    return Outcome(name, tally(ent, url, expected), seconds, len([a for a in alerts.splitlines() if "alert" in a]),
                   note)


def pg_crash(ctx: Ctx, pg) -> Outcome:
    url, port, ent, expected, header, body = _tcp_setup(ctx, pg)
    collector = CollectorProcess(ent, ctx.root / "collect.log").start()
    t0 = time.monotonic()
    pbx = TcpPbx(body, header=header).start(port)
    wait_for_calls(url, len(expected) // 3, ctx.timeout, collector)
    pg.crash()  # pg_ctl stop -m immediate
    down = time.monotonic()
    time.sleep(min(20.0, 5 + ctx.cdrs / 100_000))  # batches go to the offline spool meanwhile
    pg.restart()
    pbx.join(ctx.timeout)
    note = f"DB down {time.monotonic() - down:.0f}s" + ("" if pbx.error is None else f"; PBX error {pbx.error}")
    return _finish("pg-crash", ent, url, expected, collector, t0, ctx.timeout, note)


def kill_file(ctx: Ctx, pg) -> Outcome:
    from collector.simulate.cucm_and_canonical_csv import write_canonical_csv

    url = pg.create_database("faults")
    ent = crash_enterprise(ctx.root, url, {"lon-csv": "folder:incoming/lon-csv"}, collector=COLLECTOR,
                           pbx_options={"lon-csv": 'settle_s = 0\npoll_s = 0.2\nafter_import = "move"'})
    calls = generated_calls(ent, ctx.cdrs)
    staging, folder = ctx.root / "staging", ent.root / "incoming" / "lon-csv"
    staging.mkdir()
    folder.mkdir(parents=True, exist_ok=True)
    per = max(ctx.cdrs // 20, 1)
    files = [write_canonical_csv(calls.slice(k, per), staging / f"cdr-{k // per:03d}.csv")
             for k in range(0, calls.num_rows, per)]
    expected = set().union(*(expected_ids(ent, "lon-csv", f.read_bytes(), str(f)) for f in files))
    collector = CollectorProcess(ent, ctx.root / "collect.log").start()
    t0 = time.monotonic()
    for f in files:
        os.replace(f, folder / f.name)
    wait_for_calls(url, len(expected) // 3, ctx.timeout, collector)
    collector.kill9()
    left = len(list(folder.glob("cdr-*")))
    collector = CollectorProcess(ent, ctx.root / "collect.log").start()
    return _finish("kill-file", ent, url, expected, collector, t0, ctx.timeout,
                   f"{len(files)} files, {left} not done at the kill")


def kill_tcp(ctx: Ctx, pg) -> Outcome:
    from crashkit import dumped_bytes

    url, port, ent, expected, header, body = _tcp_setup(ctx, pg)
    collector = CollectorProcess(ent, ctx.root / "collect.log").start()
    t0 = time.monotonic()
    pbx = TcpPbx(body, header=header, pause_s=0.01).start(port)  # paced (≤ 6.5 MB/s): killed mid-stream
    stored_before = 0
    while pbx.sent < len(body) * 0.8 and not pbx.finished.is_set() and stored_before < len(expected) // 10:
        time.sleep(0.2)
        stored_before = max(count_calls(url), 0)
    mid = not pbx.finished.is_set()
    collector.kill9()
    pbx.finished.wait(60)
    delivered = dumped_bytes(ent, "lon-csv")[-1]
    collector = CollectorProcess(ent, ctx.root / "collect.log").start()
    resume = pbx.resume_offset(delivered, overlap_records=1_000)
    pbx.start(port, resume)
    pbx.join(ctx.timeout)
    note = (f"{'killed mid-stream' if mid else 'stream was already sent'} with {stored_before:,} stored; "
            f"{delivered:,} bytes in the dump, resent from byte {resume:,} of {len(body):,}")
    return _finish("kill-tcp", ent, url, expected, collector, t0, ctx.timeout, note)


def db_down_start(ctx: Ctx, pg) -> Outcome:
    from collector.spool import spool_stats

    url, port, ent, expected, header, body = _tcp_setup(ctx, pg)
    pg.crash()
    collector = CollectorProcess(ent, ctx.root / "collect.log").start()
    t0 = time.monotonic()
    pbx = TcpPbx(body, header=header).start(port)
    deadline = time.monotonic() + ctx.timeout
    while spool_stats(ent.storage.offline).rows < len(expected) // 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    spooled = spool_stats(ent.storage.offline).rows
    pg.restart()
    pbx.join(ctx.timeout)
    return _finish("db-down-start", ent, url, expected, collector, t0, ctx.timeout,
                   f"{spooled:,} CDRs spooled before the DB started")


UNIT_REMOTE = ('\n[remote]\nunit = "lon-unit-1"\ncentre = "https://localhost:{port}"\nca = "{ca}"\n'
               'retry_initial_s = 0.5\nretry_max_s = 4.0\ntimeout_s = {timeout}\nfinal_drain_s = 5.0\n')
UNIT_TIMEOUT_S = 20.0  # the unit's per-request timeout; the link cut and the SIGSTOP last longer


@dataclass
class UnitProcess(CollectorProcess):
    """``callcost collect --remote-unit`` — started and killed like the centre's collector process."""

    what = "unit"

    def verb_args(self) -> list[str]:
        return ["--remote-unit", "--pbx", "lon-csv"]

    def remote(self) -> dict:
        return self.health()["storage"]


class Link:
    """The unit → centre network: a TCP relay that can be cut.  While cut it forwards nothing and accepts new
    connections without answering (packets dropped, so a request hangs until the unit's ``timeout_s``); on
    restore, every connection that lived through the cut is reset, as a firewall that lost its state does.
    A connection to a centre that is down is closed at once (the unit sees the connection end)."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.cut_now = False
        self._live: list[dict] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self.cut_now = True
            for conn in self._live:
                conn["doomed"] = True

    def restore(self) -> None:
        self.cut_now = False

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        conn = {"doomed": False, "socks": [client]}
        with self._lock:
            conn["doomed"] = self.cut_now
            self._live.append(conn)
        try:
            while self.cut_now:
                time.sleep(0.1)
            if conn["doomed"]:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                return  # the centre is down
            conn["socks"].append(server)
            peer = {client: server, server: client}
            while True:
                if conn["doomed"]:
                    if self.cut_now:
                        time.sleep(0.1)
                        continue
                    return
                ready, _, _ = select.select(list(peer), [], [], 0.2)
                for s in ready:
                    if conn["doomed"]:
                        break
                    data = s.recv(256 * 1024)
                    if not data:
                        return
                    peer[s].sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._live.remove(conn)
            for s in conn["socks"]:
                if conn["doomed"]:  # reset, not a clean close
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()


def _stop_unit(unit: CollectorProcess, timeout: float) -> str:
    """Wait until the unit's outbox is empty, stop it gracefully; a note on what it did."""
    deadline = time.monotonic() + timeout
    st = unit.health()["storage"]
    while st["backlog_batches"] and time.monotonic() < deadline:
        time.sleep(0.5)
        st = unit.health()["storage"]
    rc = unit.stop()
    return (f"; unit sent {st['sent_batches']} batches (last id {st['last_id']}), {st['backlog_batches']} left"
            + ("" if rc == 0 else f", unit exit {rc}"))


def _wait_stored(url: str, n: int, timeout: float, centre: CollectorProcess) -> int:
    wait_for_calls(url, n, timeout, centre)
    return max(count_calls(url), 0)


def _accounted(url: str) -> tuple[int, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return (int(conn.execute(sa.text("select coalesce(sum(received), 0) from ingest_account")).scalar_one()),
                    int(conn.execute(sa.text("select coalesce(sum(parsed), 0) from ingest_segments")).scalar_one()))
    finally:
        engine.dispose()


def remote_unit(ctx: Ctx, pg) -> Outcome:
    """PBX --tcp--> ``collect --remote-unit`` --HTTPS via :class:`Link`--> centre ``collect`` --> PostgreSQL + lake;
    the link cut, the centre SIGSTOPped, then SIGKILLed and restarted, while the PBX keeps sending."""
    from remotekit import make_tls

    ctx.root.mkdir(parents=True)
    os.environ.setdefault("CALLCOST_REMOTE_TOKEN", "faults-remote-unit-token")  # inherited by both processes
    tls = make_tls(Path(tempfile.mkdtemp(dir=ctx.root, prefix="tls-")))
    url = pg.create_database("faults")
    port = free_port()
    centre_ent = crash_enterprise(ctx.root / "centre", url, {"lon-csv": f"https:127.0.0.1:{port}"},
                                  collector=f'{COLLECTOR}\nhttps_cert = "{tls["cert"]}"\nhttps_key = "{tls["key"]}"')
    link = Link(port)
    tcp_port = free_port()
    unit_ent = crash_enterprise(ctx.root / "unit", "sqlite:///callcost.db", {"lon-csv": f"tcp:127.0.0.1:{tcp_port}"},
                                collector=COLLECTOR)
    with open(unit_ent.path, "a") as fh:
        fh.write(UNIT_REMOTE.format(port=link.port, ca=tls["ca"], timeout=UNIT_TIMEOUT_S))
    stream = canonical_stream(unit_ent, ctx.cdrs)
    expected = expected_ids(centre_ent, "lon-csv", stream)
    header, body = _split(stream)
    centre = CollectorProcess(centre_ent, ctx.root / "centre.log").start()
    unit = UnitProcess(unit_ent, ctx.root / "unit.log").start()
    n = len(expected)
    try:
        t0 = time.monotonic()
        # paced as in kill-tcp (≤ 6.5 MB/s), and over ≥ 60 s, so that the unit keeps taking calls through the faults
        pbx = TcpPbx(body, header=header, pause_s=max(0.01, 60 / (len(body) / (64 * 1024) + 1))).start(tcp_port)
        # 1. the link is cut for longer than the unit's request timeout
        at_cut = _wait_stored(url, n // 5, ctx.timeout, centre)
        link.cut()
        time.sleep(UNIT_TIMEOUT_S + 5)
        link.restore()
        # 2. the centre is stopped (SIGSTOP) for longer than the timeout: its answers come too late
        at_stop = _wait_stored(url, min(max(n * 2 // 5, at_cut + 1), n), ctx.timeout, centre)
        centre.proc.send_signal(signal.SIGSTOP)
        time.sleep(UNIT_TIMEOUT_S + 5)
        centre.proc.send_signal(signal.SIGCONT)
        # 3. the centre is killed, stays down for a while and is restarted
        at_kill = _wait_stored(url, min(max(n * 3 // 5, at_stop + 1), n), ctx.timeout, centre)
        backlog = unit.remote()["backlog_rows"]
        dups = centre.health()["sources"]["lon-csv"]["units"].get("lon-unit-1", {}).get("duplicates", 0)
        centre.kill9()
        down = time.monotonic()
        time.sleep(20.0)
        st = unit.remote()
        centre = CollectorProcess(centre_ent, ctx.root / "centre.log").start()
        down_s = time.monotonic() - down  # until the restarted centre answers /health
        pbx.join(ctx.timeout)
        note = (f"link cut {UNIT_TIMEOUT_S + 5:.0f}s at {at_cut:,} stored; centre SIGSTOP {UNIT_TIMEOUT_S + 5:.0f}s "
                f"at {at_stop:,} ({dups} resends taken as duplicates); SIGKILL at {at_kill:,} (outbox {backlog:,} calls), "
                f"down {down_s:.0f}s "
                f"(outbox then {st['backlog_rows']:,} calls, centre_online={st['centre_online']})"
                + ("" if pbx.error is None else f"; PBX error {pbx.error}"))
        outcome = _finish("remote-unit", centre_ent, url, expected, centre, t0, ctx.timeout, note, unit=unit)
        records, parsed = _accounted(url)  # a resent batch must not be counted twice either
        outcome.note += (f"; accounted {records:,} records / {parsed:,} parsed"
                         + ("" if records == parsed == n else " — ACCOUNTING MISMATCH"))
        return outcome
    finally:
        link.close()
        for proc in (unit, centre):
            if proc.alive:
                proc.proc.send_signal(signal.SIGCONT)
                proc.proc.kill()


SCENARIOS: dict[str, Callable[[Ctx, object], Outcome]] = {
    "pg-crash": pg_crash,
    "kill-file": kill_file,
    "kill-tcp": kill_tcp,
    "db-down-start": db_down_start,
    "remote-unit": remote_unit,
}


def run(name: str, cdrs: int, timeout: float, keep: bool) -> Outcome:
    root = Path(tempfile.mkdtemp(prefix=f"callcost-faults-{name}-"))
    pg = durable_pg()
    try:
        return SCENARIOS[name](Ctx(root / "ent", cdrs, timeout), pg)
    except AssertionError as exc:
        return Outcome(name, None, 0.0, 0, f"FAILED: {str(exc).splitlines()[0][:200]} (logs in {root})")
    finally:
        pg.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cdrs", type=int, default=1_000_000, help="CDRs per scenario (e.g. 20000 for a quick run)")
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="run only these (repeatable)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds a scenario may take to store everything")
    ap.add_argument("--keep", action="store_true", help="keep each scenario's folder (logs, dumps, lake)")
    args = ap.parse_args()
    names = args.scenario or list(SCENARIOS)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.cdrs:,} CDRs per scenario", flush=True)
    head = f"{'scenario':<14} {'sent':>10} {'stored':>10} {'lost':>6} {'dup':>5} {'lake':>10} {'alerts':>6} {'s':>7}  note"
    print(head, flush=True)
    failed = False
    for name in names:
        o = run(name, args.cdrs, args.timeout, args.keep)
        t = o.tally
        if t is None:
            print(f"{o.scenario:<14} {'-':>10} {'-':>10} {'-':>6} {'-':>5} {'-':>10} {'-':>6} {'-':>7}  {o.note}",
                  flush=True)
            failed |= o.note.startswith("FAILED")
            continue
        dup = t.duplicated + t.lake_duplicated + t.extra
        lost = max(t.lost, t.lake_lost)
        print(f"{o.scenario:<14} {t.sent:>10,} {t.stored:>10,} {lost:>6} {dup:>5} {t.lake_rows:>10,} {o.alerts:>6} "
              f"{o.seconds:>7.1f}  {o.note}", flush=True)
        failed |= bool(lost or dup or o.alerts)
    if failed:
        sys.exit("some scenario lost or doubled CDRs, raised alerts or failed")


if __name__ == "__main__":
    main()
