"""Active/standby collectors on one real PostgreSQL (issue 21): kill -9 the active one mid-TCP-stream.

Two real ``callcost collect`` processes of one config (one lake, one raw-dump folder, one database): the
first holds the TCP link through its advisory lock, the second stands by.  The active one is SIGKILLed
while a PBX is sending; PostgreSQL frees its lock with its connection, the standby takes the link within
10 s (raw-dump recovery of what the dead one received first), the PBX reconnects and resends from where
it was, and every record is stored once — in the database and the lake.
"""

from __future__ import annotations

import os
import time

import pytest
from clusterkit import held_by, link_holder
from crashkit import (
    AVAYA_OPTIONS,
    CollectorProcess,
    TcpPbx,
    avaya_stream,
    crash_enterprise,
    dumped_bytes,
    expected_ids,
    free_port,
    status,
    tally,
    wait_for_calls,
)

from collector.leases import lock_key, standby_wanted
from warehouse.config import load_config
from warehouse.errors import ConfigError

PBX = "sha-csv"
TAKEOVER_S = 10.0


def _wait(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {timeout}s")


@pytest.mark.postgres
@pytest.mark.slow
def test_kill9_of_the_active_collector_hands_the_link_to_the_standby(tmp_path, pg_server):
    with pg_server.database(f"standby{os.getpid()}") as url:
        port = free_port()
        ent = crash_enterprise(tmp_path / "ent", url, {PBX: f"tcp:127.0.0.1:{port}"}, types={PBX: "avaya"},
                               collector="batch_ms = 200\nqueue_mb = 1", pbx_options={PBX: AVAYA_OPTIONS})
        data = avaya_stream(ent, 20_000)
        expected = expected_ids(ent, PBX, data)
        active = CollectorProcess(ent, tmp_path / "active.log").start()
        standby = None
        try:
            _wait(lambda: held_by(url, PBX, active.proc.pid), 10, "the first collector holding the link")
            standby = CollectorProcess(ent, tmp_path / "standby.log").start()
            time.sleep(2.5)  # two polls: the standby must not take a held link
            assert held_by(url, PBX, active.proc.pid), link_holder(url, PBX)

            pbx = TcpPbx(data, chunk=8 * 1024, pause_s=0.03).start(port)  # ~2,700 CDRs/s for ~7 s
            wait_for_calls(url, len(expected) // 4, 60, active)
            assert not pbx.finished.is_set(), "the stream ended before the kill: not mid-stream"
            active.kill9()
            takeover = _wait(lambda: held_by(url, PBX, standby.proc.pid), TAKEOVER_S, "the standby's takeover")
            assert pbx.finished.wait(30)
            [delivered] = dumped_bytes(ent, PBX)  # what the dead collector received (the PBX knows as much)
            pbx.start(port, pbx.resume_offset(delivered, overlap_records=25))  # reconnects to the standby
            pbx.join()
            assert pbx.error is None, pbx.error
            wait_for_calls(url, len(expected), 120, standby)

            code, rows, alerts = status(ent)
            [row] = [r for r in rows if r["pbx"] == PBX]
            assert f" pid {standby.proc.pid} " in row["held_by"], row
            assert standby.stop() == 0
            assert "fed again from the raw dump" in (tmp_path / "standby.log").read_text()
        finally:
            for proc in (active, standby):
                if proc is not None and proc.alive:
                    proc.kill9()
        t = tally(ent, url, expected)
        assert t.ok, t
        assert t.stored == len(expected) == t.lake_rows
        assert link_holder(url, PBX) is None  # a stopped collector releases its links
        print(f"takeover after kill -9: {takeover:.2f}s")


def test_standby_on_sqlite_is_refused_with_a_message(tmp_path):
    ent = crash_enterprise(tmp_path / "ent", f"sqlite:///{tmp_path}/c.db", {})
    assert standby_wanted(ent) is False  # the default on SQLite: no locks, one collector
    ent.path.write_text(ent.path.read_text() + "\n[cluster]\nstandby = true\n")
    with pytest.raises(ConfigError, match="need PostgreSQL"):
        standby_wanted(load_config(ent.path))


def test_lock_keys_are_stable_signed_64_bit_and_distinct():
    keys = {lock_key(p) for p in ("nyc-cucm", "sha-csv", "lon-csv")}
    assert len(keys) == 3 and all(-(1 << 63) <= k < (1 << 63) for k in keys)
    assert lock_key("nyc-cucm") == lock_key("nyc-cucm")
