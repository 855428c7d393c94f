"""Active/standby collectors on one real PostgreSQL (issue 21): kill -9 the active one mid-TCP-stream.

Two real ``callcost collect`` processes of one config (one lake, one raw-dump folder, one database): the
first holds the TCP link through its advisory lock, the second stands by.  The active one is SIGKILLed
while a PBX is sending; PostgreSQL frees its lock with its connection, the standby takes the link within
10 s (raw-dump recovery of what the dead one received first), the PBX reconnects and resends from where
it was, and every record is stored once — in the database and the lake (``clusterkit.kill_the_active``).
"""

from __future__ import annotations

import os

import pytest
from clusterkit import kill_the_active
from crashkit import crash_enterprise

from collector.leases import lock_key, standby_wanted
from warehouse.config import load_config
from warehouse.errors import ConfigError

TAKEOVER_S = 10.0


@pytest.mark.postgres
@pytest.mark.slow
def test_kill9_of_the_active_collector_hands_the_link_to_the_standby(tmp_path, pg_server):
    with pg_server.database(f"standby{os.getpid()}") as url:
        out = kill_the_active(tmp_path, url, limit_s=TAKEOVER_S)
    assert out.standby_waited, "the standby took a link its holder still held"
    assert out.takeover_s < TAKEOVER_S
    assert out.held_at_end is not None and f" pid {out.standby_pid} " in out.held_at_end  # callcost status
    assert out.standby_exit == 0
    assert "fed again from the raw dump" in out.standby_log  # the dead one's dump recovered at takeover
    assert out.tally.ok, out.tally
    assert out.tally.stored == out.tally.sent == out.tally.lake_rows
    assert out.released  # a stopped collector releases its links


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
