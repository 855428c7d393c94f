"""What the cluster tests and ``benchmarks/bench_cluster.py`` share: sample enterprises, CUCM files, comparisons.

Two enterprises built from the sample (``callcost demo``'s) that differ only in where they store — so
the one-process and the cluster path can import the *same* file paths (a call's ``raw_ref`` names its
file) and their lakes and databases be compared row for row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from callcost.demo import build_sample
from collector.simulate.demo_files import write_demo_files
from collector.simulate.traffic import generate_traffic
from warehouse import lake
from warehouse.config import Enterprise, load_config
from warehouse.database import Database

PBX = "nyc-cucm"
#: Columns that differ between two ratings of the same call without the call having changed.
VOLATILE = ("rated_at",)


def enterprise_at(directory: Path, database: str | None = None) -> Enterprise:
    """The sample enterprise in *directory*, its database *database* (default: SQLite beside the config)."""
    config = build_sample(directory)
    if database is not None:
        text = config.read_text(encoding="utf-8").replace('database = "sqlite:///callcost.db"',
                                                           f'database = "{database}"')
        config.write_text(text, encoding="utf-8")
    return load_config(config)


def cucm_files(ent: Enterprise, cdrs: int, *, seed: int = 7) -> list[Path]:
    """About *cdrs* CUCM CDRs of the sample's generated traffic, as hourly CUCM flat files under *ent*'s folder."""
    traffic = generate_traffic(ent, calls=int(cdrs / 0.455) + 1000, seed=seed)  # the CUCM cluster: ~45.5%
    cucm = traffic.filter(pc.equal(traffic.column("pbx"), PBX))
    return sorted(write_demo_files(ent, cucm.slice(0, min(cdrs, cucm.num_rows)), ent.root)[PBX])


def lake_rows(ent: Enterprise) -> pa.Table:
    """Every call of the lake, by ``call_id``, without the volatile columns."""
    table = lake.read_calls(ent.storage.lake, scale=ent.scale)
    return table.drop_columns([c for c in VOLATILE if c in table.column_names]).sort_by("call_id")


def database_rows(ent: Enterprise) -> list[dict]:
    """Every call of the database, by ``call_id``, without the volatile columns."""
    with Database(ent.storage.database, ent.scale) as db:
        frame = db.read_calls()
    frame = frame.drop(columns=[c for c in VOLATILE if c in frame.columns]).sort_values("call_id")
    return frame.to_dict("records")


def lake_ids(ent: Enterprise) -> list[str]:
    """Every ``call_id`` the lake holds, repeats included (a doubled call shows twice)."""
    return lake.read_calls(ent.storage.lake, columns=["call_id"], scale=ent.scale).column("call_id").to_pylist()


def link_holder(db_url: str, pbx: str) -> str | None:
    """Who holds *pbx*'s link now (``host pid N since …``), from ``link_holders`` and ``pg_locks``; None: nobody."""
    import sqlalchemy as sa

    from collector.leases import current_holders

    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        return current_holders(engine).get(pbx)
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def held_by(db_url: str, pbx: str, pid: int) -> bool:
    """Whether the collector process *pid* holds *pbx*'s link."""
    holder = link_holder(db_url, pbx)
    return holder is not None and f" pid {pid} " in holder


# --- active/standby: kill -9 of the active collector mid-TCP-stream -------------------------------------------

STANDBY_PBX = "sha-csv"


@dataclass
class Takeover:
    """What one kill of the active collector gave (``kill_the_active``)."""

    takeover_s: float  # from the SIGKILL until the standby held the link
    standby_waited: bool  # while the active one lived, the standby did not take its link
    held_at_end: str | None  # ``callcost status --json``'s held_by for the link before the standby stopped
    standby_pid: int
    standby_exit: int
    standby_log: str
    tally: object  # crashkit.Tally: sent / stored / lost / doubled, database and lake
    released: bool  # nobody holds the link once the standby stopped


def kill_the_active(root: Path, url: str, *, cdrs: int = 20_000, limit_s: float = 60.0) -> Takeover:
    """Two ``callcost collect`` processes of one config on *url*; a TCP PBX sends *cdrs* Avaya CM records; the
    active one is SIGKILLed a quarter of the way; the PBX resends from where the dead one's raw dump ends."""
    from crashkit import (AVAYA_OPTIONS, CollectorProcess, TcpPbx, avaya_stream, crash_enterprise, dumped_bytes,
                          expected_ids, free_port, status, tally, wait_for_calls)

    port = free_port()
    ent = crash_enterprise(root / "standby", url, {STANDBY_PBX: f"tcp:127.0.0.1:{port}"},
                           types={STANDBY_PBX: "avaya"}, collector="batch_ms = 200\nqueue_mb = 1",
                           pbx_options={STANDBY_PBX: AVAYA_OPTIONS})
    data = avaya_stream(ent, cdrs)
    expected = expected_ids(ent, STANDBY_PBX, data)
    active = CollectorProcess(ent, root / "active.log").start()
    standby = None
    try:
        _until(lambda: held_by(url, STANDBY_PBX, active.proc.pid), 10, "the first collector holding the link")
        standby = CollectorProcess(ent, root / "standby.log").start()
        time.sleep(2.5)  # two polls of the standby
        waited = held_by(url, STANDBY_PBX, active.proc.pid)
        pbx = TcpPbx(data, chunk=8 * 1024, pause_s=0.03).start(port)  # ~2,700 CDRs/s for ~7 s
        wait_for_calls(url, len(expected) // 4, 60, active)
        if pbx.finished.is_set():
            raise AssertionError("the stream ended before the kill: not mid-stream")
        active.kill9()
        took = _until(lambda: held_by(url, STANDBY_PBX, standby.proc.pid), limit_s, "the standby's takeover")
        pbx.finished.wait(30)
        [delivered] = dumped_bytes(ent, STANDBY_PBX)  # what the dead collector received (the PBX knows as much)
        pbx.start(port, pbx.resume_offset(delivered, overlap_records=25))  # reconnects, to the standby
        pbx.join()
        if pbx.error is not None:
            raise AssertionError(f"the PBX could not resend: {pbx.error}")
        wait_for_calls(url, len(expected), 120, standby)
        _code, rows, _alerts = status(ent)
        held = next((r.get("held_by") for r in rows if r["pbx"] == STANDBY_PBX), None)
        pid, code = standby.proc.pid, standby.stop()
    finally:
        for proc in (active, standby):
            if proc is not None and proc.alive:
                proc.kill9()
    return Takeover(took, waited, held, pid, code, (root / "standby.log").read_text(), tally(ent, url, expected),
                    link_holder(url, STANDBY_PBX) is None)


def _until(condition, timeout: float, what: str) -> float:
    """Seconds until *condition* held (polled every 20 ms); an AssertionError after *timeout*."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{what} not within {timeout}s")
