"""``callcost collect`` started while PostgreSQL is down: it starts, takes TCP records and folder files into the
offline spool, and commits them once the server is started; a second start with the DB down again does not
take the folder's done files a second time (the local ledger knows them).

Real parts: a PostgreSQL server of the test's own (``synchronous_commit`` on) stopped before the collector
starts, the collector as a subprocess, a TCP client streaming canonical CSV from the traffic generator, and
CUCM flat files in a watched folder (``after_import = "keep"``).
"""

from __future__ import annotations

import time

import pytest
from crashkit import (
    CollectorProcess,
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

from collector.spool import spool_stats


@pytest.fixture
def own_pg():
    server = durable_pg()
    try:
        yield server
    finally:
        server.stop()


def _wait(condition, timeout: float, what: str, collector: CollectorProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert collector.alive, collector.log.read_text()[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"timed out: {what}\n{collector.log.read_text()[-3000:]}")


def test_collector_starts_with_the_database_down_and_drains_when_it_comes_up(tmp_path, own_pg):
    from collector.simulate.cucm_and_canonical_csv import write_cucm_files

    url = own_pg.create_database("down_at_start")  # an empty database: the schema does not exist yet
    port = free_port()
    ent = crash_enterprise(tmp_path / "ent", url, {"lon-csv": f"tcp:127.0.0.1:{port}",
                                                   "nyc-cucm": "folder:incoming/nyc-cucm"},
                           pbx_options={"nyc-cucm": 'settle_s = 0\npoll_s = 0.1\nafter_import = "keep"'})
    stream = canonical_stream(ent, 3_000, seed=11)
    header, body = stream[:stream.index(b"\n") + 1], stream[stream.index(b"\n") + 1:]
    tcp_ids = expected_ids(ent, "lon-csv", stream)
    files = write_cucm_files(generated_calls(ent, 4_000, seed=12), ent.root / "incoming" / "nyc-cucm",
                             cluster="StandAloneCluster", minutes_per_file=60 * 24 * 8)
    file_ids = set().union(*(expected_ids(ent, "nyc-cucm", f.read_bytes(), str(f)) for f in files))
    own_pg.crash()  # the main database is down before the collector starts

    collector = CollectorProcess(ent, tmp_path / "collect.log").start()
    pbx = TcpPbx(body, header=header).start(port)
    pbx.join()
    assert pbx.error is None
    total = len(tcp_ids) + len(file_ids)
    _wait(lambda: spool_stats(ent.storage.offline).rows >= total, 60, "everything spooled", collector)
    doc = collector.health()
    assert doc["status"] == "ok" and doc["storage"]["database"] == "offline"

    own_pg.restart()
    wait_for_calls(url, total, 90, collector)
    _wait(lambda: collector.health()["storage"]["database"] == "online", 30, "back online", collector)
    assert collector.stop() == 0
    assert spool_stats(ent.storage.offline).batches == 0
    t = tally(ent, url, tcp_ids | file_ids)
    assert t.ok, t
    code, rows, alerts = status(ent)
    assert code == 0, alerts
    before = {r["pbx"]: r for r in rows}
    assert before["nyc-cucm"]["streams"] == len(files) and before["lon-csv"]["parsed"] == len(tcp_ids)

    # down again at the next start: the kept files are known done from the local ledger, not taken again
    own_pg.crash()
    collector = CollectorProcess(ent, tmp_path / "collect.log").start()
    time.sleep(1.5)  # many folder polls
    assert spool_stats(ent.storage.offline).batches == 0
    assert collector.health()["sources"]["nyc-cucm"]["records"] == 0
    own_pg.restart()
    assert collector.stop() == 0
    assert count_calls(url) == total
    code, rows, alerts = status(ent)
    assert code == 0, alerts
    assert {r["pbx"]: r["received"] for r in rows} == {p: r["received"] for p, r in before.items()}
