"""Offline-database failover with real parts: a PostgreSQL server of the test's own, crashed with
``pg_ctl stop -m immediate`` in the middle of a live TCP stream and restarted; the offline spool on disk.

Checked: batches keep being accepted (and acknowledged) while the database is down; the backlog is
committed in arrival order once it is back; every call is in the DB and in the lake exactly once; the
money totals equal those of an uninterrupted run; a collector restarted with a backlog drains it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for
from pgserver import PgServer

from collector.failover import is_outage
from collector.health import health_document, prometheus_text
from collector.status import collector_status, offline_backlog
from warehouse import lake
from warehouse.database import Database
from warehouse.errors import StorageError
from collector.spool import Spool, spool_stats


@pytest.fixture
def own_pg():
    """A server only this test uses: crashing it must not disturb the suite's shared one.

    ``synchronous_commit`` stays on (the suite's FAST settings turn it off): with it off, a commit the
    collector was told about can vanish in ``pg_ctl stop -m immediate``, as it would in production.
    ``fsync=off`` is harmless here: the OS keeps its page cache when only PostgreSQL dies.
    """
    server = PgServer(settings="-c fsync=off -c full_page_writes=off -c shared_buffers=64MB "
                               "-c max_connections=50").start()
    try:
        yield server
    finally:
        server.stop()


def _fast_retry(svc) -> None:
    w = svc.pipeline.writer
    w.retry_initial_s, w.retry_max_s, w.final_drain_s = 0.05, 0.3, 0.5


def _check_exactly_once(ent, url: str, expected_ids: set[str], reference: dict[str, Decimal]) -> None:
    assert count(url, "select count(*) from calls") == len(expected_ids)
    assert count(url, "select count(distinct call_id) from calls") == len(expected_ids)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        db_ids = {r[0] for r in conn.execute(sa.text("select call_id from calls"))}
    [st] = [s for s in collector_status(ent, engine) if s.pbx == "lon-csv"]
    engine.dispose()
    assert db_ids == expected_ids
    in_lake = lake.read_calls(ent.storage.lake, scale=ent.scale)
    assert in_lake.num_rows == len(expected_ids)  # no call twice in the lake either
    assert set(in_lake.column("call_id").to_pylist()) == expected_ids
    with Database(url, ent.scale) as db:
        assert db.money_totals() == reference
    lake_cost = pc.sum(in_lake.column("actual_cost")).as_py()
    assert Decimal(lake_cost).quantize(Decimal("0.01")) == reference["actual_cost"]
    assert st.stored == len(expected_ids) and not [a for a in st.alerts if "gap" in a or "add up" in a], st.alerts


def _reference_totals(tmp_path: Path, payload: bytes, n: int) -> dict[str, Decimal]:
    """The same CDRs through an uninterrupted collector (SQLite): the figures the outage must not change."""
    ent = enterprise_with(tmp_path / "reference", {"lon-csv": "tcp:127.0.0.1:0"}, collector="batch_ms = 100")
    url = f"sqlite:///{tmp_path}/reference.db"
    with running(ent, url, pbx_ids=["lon-csv"]) as svc:
        m = svc.pipeline.metrics["lon-csv"]
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + payload)
            wait_for(lambda: m.stored >= n, what="reference run stored")
    with Database(url, ent.scale) as db:
        assert db.count_calls() == n
        return db.money_totals()


def test_postgres_crash_mid_stream_spools_then_drains_exactly_once(tmp_path, own_pg):
    before, during, after = csv_records(400, prefix="a"), [csv_records(150, prefix=f"b{k}-") for k in range(4)], \
        csv_records(250, prefix="c")
    other_link = csv_records(100, prefix="d")
    total = 400 + 4 * 150 + 250 + 100
    url = own_pg.create_database("offline")
    ent = enterprise_with(tmp_path / "live", {"lon-csv": "tcp:127.0.0.1:0"}, collector="batch_ms = 100")
    with running(ent, url, pbx_ids=["lon-csv"]) as svc:
        _fast_retry(svc)
        writer, m = svc.pipeline.writer, svc.pipeline.metrics["lon-csv"]
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + before)
            wait_for(lambda: m.stored >= 400, what="first records stored")
            assert writer.online and count(url, "select count(*) from calls") == 400

            own_pg.crash()  # pg_ctl stop -m immediate, in the middle of the stream
            for k, chunk in enumerate(during):
                s.sendall(chunk)
                wait_for(lambda k=k: m.stored >= 400 + 150 * (k + 1), what="batch accepted while the DB is down",
                         state=lambda: (m, writer.status()))
            # a second link opens, delivers and closes while the DB is down: its "closed" event waits too
            with socket.create_connection(svc.transports["lon-csv"].address) as other:
                other.sendall(HEADER + other_link)
            wait_for(lambda: m.stored >= 1100 and m.sessions_open == 1, what="second link accepted",
                     state=lambda: (m, writer.status()))
            wait_for(lambda: writer.status()["backlog_batches"] >= 6, what="the close event spooled")
            st = writer.status()
            assert st["database"] == "offline" and st["backlog_rows"] == 700 and st["backlog_batches"] >= 1
            assert st["oldest_age_s"] is not None and st["last_error"]
            doc = health_document(svc)
            assert doc["status"] == "ok" and doc["storage"]["database"] == "offline"
            metrics = prometheus_text(svc)
            assert "callcost_database_online 0" in metrics and "callcost_offline_backlog_rows 700" in metrics
            assert offline_backlog(ent)["backlog_rows"] == 700  # what `callcost status` reads, from disk
            assert not svc.pipeline.errors

            own_pg.restart()
            wait_for(lambda: writer.online, what="backlog drained", state=writer.status)
            assert writer.status()["backlog_batches"] == 0 and writer.drained_batches == st["backlog_batches"]
            assert "callcost_database_online 1" in prometheus_text(svc)
            s.sendall(after)  # direct writes again
            wait_for(lambda: m.stored >= total, what="records after recovery")
    assert not list(Path(ent.storage.offline).glob("*.parquet"))
    expected = {f"lon-csv:{line.split(b',')[0].decode()}"
                for line in (before + b"".join(during) + after + other_link).splitlines()}
    reference = _reference_totals(tmp_path, before + b"".join(during) + after + other_link, total)
    _check_exactly_once(ent, url, expected, reference)
    # arrival order: the spooled batches were committed before the batch sent after the recovery
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        order = [r[0] for r in conn.execute(sa.text(
            "select first_offset from ingest_segments where stream like 'tcp:%-1' order by account_id"))]
        closed = [r[0] for r in conn.execute(sa.text("select stream from collector_events where kind = 'closed'"))]
    engine.dispose()
    assert order == sorted(order) and len(order) >= 6
    assert any(name.endswith("-2") for name in closed)  # the second link's close, recorded after the outage


def test_collector_restarted_with_a_backlog_commits_it(tmp_path, own_pg):
    first, second, third = csv_records(300, prefix="a"), csv_records(200, prefix="b"), csv_records(100, prefix="c")
    url = own_pg.create_database("restart")
    ent = enterprise_with(tmp_path / "live", {"lon-csv": "tcp:127.0.0.1:0"}, collector="batch_ms = 100")
    with running(ent, url, pbx_ids=["lon-csv"]) as svc:
        writer, m = svc.pipeline.writer, svc.pipeline.metrics["lon-csv"]
        # no retry before the collector stops: the backlog must still be on disk when it starts again
        writer.retry_initial_s = writer.retry_max_s = 60
        writer.final_drain_s = 0
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + first)
            wait_for(lambda: m.stored >= 300, what="first records stored")
            own_pg.crash()
            s.sendall(second)
            wait_for(lambda: m.stored >= 500, what="spooled")
            own_pg.restart()  # (the link's "closed" event goes straight to the DB: it must be up)
    backlog = spool_stats(ent.storage.offline)
    assert backlog.rows == 200 and backlog.batches >= 1  # + the accounting-only batch of the link closing
    assert count(url, "select count(*) from calls") == 300
    with running(ent, url, pbx_ids=["lon-csv"]) as svc:  # the collector starts again
        _fast_retry(svc)
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: svc.pipeline.writer.online, what="backlog from before the restart drained")
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + third)
            wait_for(lambda: m.stored >= 100, what="new records")
    assert spool_stats(ent.storage.offline).batches == 0
    expected = {f"lon-csv:{line.split(b',')[0].decode()}" for line in (first + second + third).splitlines()}
    _check_exactly_once(ent, url, expected, _reference_totals(tmp_path, first + second + third, 600))


def _batch(ids: list[str], cents: list[int]) -> pa.Table:
    return pa.table({"call_id": pa.array(ids),
                     "actual_cost": pa.array([Decimal(c).scaleb(-2) for c in cents], pa.decimal128(18, 2)),
                     "start_utc": pa.array([datetime(2026, 10, 5, 9, tzinfo=UTC)] * len(ids), pa.timestamp("us", "UTC"))})


def test_spool_is_atomic_ordered_and_survives_reopening(tmp_path):
    folder = tmp_path / "spool"
    spool = Spool(folder)
    batches = [_batch([f"x{k}-{i}" for i in range(k + 1)], [101 * (i + 1) + k for i in range(k + 1)]) for k in range(3)]
    for k, b in enumerate(batches):
        spool.append(b, {"key": f"k{k}", "raw": "q"})
    (folder / ".000000000099.parquet.tmp").write_bytes(b"PAR1 torn by a crash")  # an append that never finished
    assert spool_stats(folder).batches == 3 and (folder / ".000000000099.parquet.tmp").exists()  # read-only

    reopened = Spool(folder)  # the collector restarted
    assert not (folder / ".000000000099.parquet.tmp").exists()
    items = reopened.items()
    assert [i.seq for i in items] == [1, 2, 3] and [i.rows for i in items] == [1, 2, 3]
    for k, item in enumerate(items):
        table, meta = reopened.read(item)
        assert meta == {"key": f"k{k}", "raw": "q"}
        assert table.equals(batches[k])  # exact decimals and UTC timestamps, no spool metadata left
    assert reopened.stats().rows == 6 and reopened.stats().oldest_at == items[0].spooled_at

    reopened.remove(items[0])
    item = reopened.append(batches[0], {"key": "k3"})
    assert item.seq == 4  # numbering continues: never reuses a name, so order holds across restarts
    again = Spool(folder)
    assert [i.seq for i in again.items()] == [2, 3, 4]
    assert again.read(again.items()[-1])[1] == {"key": "k3"}
    assert not list(folder.glob(".*.tmp"))


def test_only_outages_are_spooled_not_bad_data(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/x.db", 2)
    try:
        with pytest.raises(StorageError) as bad:
            db.insert_calls(_batch(["a"], [1]).set_column(1, "actual_cost", pa.array([Decimal("0.001")],
                                                                                     pa.decimal128(18, 3))))
        assert not is_outage(bad.value)
    finally:
        db.close()
    down = Database("postgresql+psycopg://postgres@127.0.0.1:1/none", 2)
    try:
        with pytest.raises(StorageError) as refused:
            down.create_schema()
        assert is_outage(refused.value)
    finally:
        down.close()


def test_callcost_status_reports_the_backlog_and_alerts(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    run = [sys.executable, "-m", "callcost", "status", "--json", "--config", str(ent.path)]
    clean = subprocess.run(run, check=False, capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stderr
    Spool(ent.storage.offline).append(_batch(["a", "b"], [1, 2]), {"key": "k"})
    proc = subprocess.run(run, check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2  # a monitoring check fires while calls wait for the main database
    assert "offline spool" in proc.stderr and "1 batches, 2 calls" in proc.stderr
    assert isinstance(json.loads(proc.stdout), list)  # --json keeps its shape
