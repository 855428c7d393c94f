"""A burst larger than the in-memory parse queue waits in the raw dump (spilled), not in memory, and
loses nothing: records split across reads, a malformed record and a link dropped mid-record come out
exactly as without spilling, and every ``raw_ref`` still points at its record's first byte."""

from __future__ import annotations

import socket

import sqlalchemy as sa
from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for


def test_parts_spilled_to_the_raw_dump_are_read_back_and_stored_exactly_once(tmp_path):
    # queue_mb = 0: no received byte may wait in memory, so every data part goes through the dump
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"}, collector="batch_ms = 200\nqueue_mb = 0")
    db_url = f"sqlite:///{tmp_path}/c.db"
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        address = svc.transports["lon-csv"].address
        for k in range(3):
            payload = (HEADER + csv_records(200, prefix=f"s{k}-") + b"bad,not-a-time,1,2001,2002\n"
                       + csv_records(100, prefix=f"s{k}-", start=200))
            with socket.create_connection(address) as s:
                for pos in range(0, len(payload), 1013):  # records cut at arbitrary points
                    s.sendall(payload[pos:pos + 1013])
                s.sendall(b"s9-0,2026-10-05T09:0")  # dropped in the middle of a record
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: m.records_received >= 3 * 302 and m.sessions_open == 0, state=lambda: m)
        assert svc.pipeline.spilled_total > 0 and svc.pipeline.spilled == 0
        assert svc.transports["lon-csv"].intake.probes[HEADER] is True  # header probed once, then cached
    assert count(db_url, "select count(*) from calls") == 900
    assert count(db_url, "select count(*) from quarantine") == 6
    assert count(db_url, "select sum(received) from ingest_segments") == 906
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        refs = dict(conn.execute(sa.text("select call_id, raw_ref from calls where call_id like '%-250'")).all())
    engine.dispose()
    assert len(refs) == 3
    for call_id, ref in refs.items():
        path, offset = ref.rsplit("@", 1)
        with open(path, "rb") as f:
            f.seek(int(offset))
            assert f.read(len(call_id) - len("lon-csv:")) == call_id.split(":", 1)[1].encode()
