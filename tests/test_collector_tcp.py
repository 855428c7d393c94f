"""Live TCP collection with real sockets: framing across reads, a link dropped mid-record, malformed
records between good ones, 200 concurrent senders, accounting in the SQL DB and the health endpoint."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import sqlalchemy as sa
from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for

from collector.status import collector_status


def test_records_split_across_reads_malformed_and_dropped_link(tmp_path, db_url):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        host, port = svc.transports["lon-csv"].address
        payload = HEADER + csv_records(300) + b"bad1,not-a-time,1,2001,2002\n" + csv_records(200, start=300)
        with socket.create_connection((host, port)) as s:
            for k in range(0, len(payload), 97):  # records cut at arbitrary points
                s.sendall(payload[k:k + 97])
            s.sendall(b"c999,2026-10-05T09:0")  # the link drops in the middle of this record
        with socket.create_connection((host, port)) as s:  # the PBX reconnects and sends it again, whole
            s.sendall(HEADER + csv_records(1, start=999))
        metrics = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: metrics.records_received >= 503 and metrics.sessions_open == 0, what="all records",
                 state=lambda: metrics)
    assert count(db_url, "select count(*) from calls") == 501
    assert count(db_url, "select count(*) from quarantine") == 2
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        reasons = sorted(f"{r[0]} {r[1]}" for r in conn.execute(sa.text("select reason, field from quarantine")))
        refs = [r[0] for r in conn.execute(sa.text("select raw_ref from calls where call_id = 'lon-csv:c300'"))]
    assert "incomplete record" in reasons[0] and "start_utc" in reasons[1]
    path, offset = refs[0].rsplit("@", 1)  # raw_ref points at the record's first byte in the raw dump
    with open(path, "rb") as f:
        f.seek(int(offset))
        assert f.read(6) == b"c300,2"
    [st] = [s for s in collector_status(ent, engine) if s.pbx == "lon-csv"]
    engine.dispose()
    assert (st.received, st.parsed, st.quarantined, st.stored) == (503, 501, 2, 501)
    assert st.rated + st.unrated == st.stored
    assert st.streams == 2 and not [a for a in st.alerts if "gap" in a or "add up" in a]


def test_two_hundred_concurrent_senders_lose_nothing(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    db_url = f"sqlite:///{tmp_path}/c.db"
    senders, per = 200, 20
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        address = svc.transports["lon-csv"].address

        def send(k: int) -> None:
            with socket.create_connection(address) as s:
                s.sendall(HEADER + csv_records(per, prefix=f"s{k}-"))

        threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: m.stored >= senders * per and m.sessions_open == 0, what="every record stored")
    assert count(db_url, "select count(*) from calls") == senders * per
    assert count(db_url, "select count(distinct stream) from ingest_segments") == senders
    assert count(db_url, "select sum(received) from ingest_segments") == senders * per


def test_health_endpoint_serves_json_and_prometheus(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    from collector.health import HealthServer, health_document, prometheus_text

    with running(ent, f"sqlite:///{tmp_path}/c.db", pbx_ids=["lon-csv"]) as svc:
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + csv_records(10))
        wait_for(lambda: svc.pipeline.metrics["lon-csv"].stored >= 10)
        doc = health_document(svc)
        assert doc["status"] == "ok" and doc["sources"]["lon-csv"]["stored"] == 10
        assert doc["sources"]["lon-csv"]["last_record_age_s"] < 30
        text = prometheus_text(svc)
        assert 'callcost_stored_total{pbx="lon-csv"} 10' in text
        assert 'callcost_queue_depth{stage="parse"}' in text
        # and over real HTTP, served from the collector's own loop
        import asyncio

        server = HealthServer(svc, "127.0.0.1", 0)
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.start())
            ready.set()
            loop.run_forever()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        ready.wait(5)
        host, port = server.address
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=5) as r:
            assert json.loads(r.read())["sources"]["lon-csv"]["stored"] == 10
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as r:
            assert b"callcost_last_record_age_seconds" in r.read()
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)
        loop.close()
    time.sleep(0)


def test_vendor_smdr_records_over_tcp_match_a_batch_parse(tmp_path, shared_dir):
    """Real NEC SMDR sample records, streamed byte-split over TCP, give the calls a batch parse gives."""
    from collector.connectors.base import connector_for
    from collector.service import pbx_context

    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    old = ent.pbxs["lon-csv"]
    ent.pbxs["lon-csv"] = type(old)(id="lon-csv", type="smdr", site="LON", source=old.source,
                                     options={**old.options, "layout": "nec"})
    samples = sorted((shared_dir / "samples" / "nec-smdr").glob("*.smdr"))
    data = b"".join(f.read_bytes() for f in samples)
    batch = connector_for("smdr", pbx_context(ent, "lon-csv")).parse(data, "batch")
    db_url = f"sqlite:///{tmp_path}/c.db"
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            for k in range(0, len(data), 7):
                s.sendall(data[k:k + 7])
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: m.sessions_open == 0 and m.records_received >= batch.records_seen, state=lambda: m)
    assert batch.calls.num_rows > 0
    assert count(db_url, "select count(*) from calls") == batch.calls.num_rows
    assert count(db_url, "select count(*) from quarantine") == len(batch.quarantined)


def _backlog_batch_sizes(tmp_path, db_url, batch_records: int, total: int) -> list[int]:
    """Send *total* 60-byte records at once on one link; the rows of each stored batch, in order."""
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"},
                          collector=f"batch_records = {batch_records}\nbatch_ms = 5000\nqueue_mb = 64")
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + csv_records(total))
        metrics = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: metrics.stored >= total, timeout=60, what="all records", state=lambda: metrics)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        sizes = [r[0] for r in conn.execute(sa.text("select received from ingest_account order by id"))]
    engine.dispose()
    assert sum(sizes) == total and count(db_url, "select count(*) from calls") == total
    return sizes


def test_a_backlog_of_small_records_is_parsed_and_stored_in_batches_of_about_batch_records(tmp_path, db_url):
    # 80k 60-byte records arrive at once: one parser call must not take megabytes of them (a 140k-call
    # batch), but about batch_records, so storing starts early and the last batch is small
    sizes = _backlog_batch_sizes(tmp_path, db_url, 5_000, 80_000)
    assert len(sizes) >= 6 and max(sizes[1:]) <= 3 * 5000, sizes  # the first, before sizes are known, may be larger


def test_a_backlog_starts_with_a_small_batch_and_grows_to_batch_records(tmp_path, db_url):
    # slow start: storing begins after a small batch is parsed and rated, not a full one
    sizes = _backlog_batch_sizes(tmp_path, db_url, 20_000, 80_000)
    assert sizes[0] < 20_000 and max(sizes) >= 15_000, sizes
