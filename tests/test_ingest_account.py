"""One ingest account for imports and live streams, on both backends (issue 14; issue 16 items 3, 5, 6).

Real files, the real collector (folder sources), a real SQLite file and the session's PostgreSQL server:
per PBX, received = stored + already stored + quarantined + already quarantined, whichever way the
records came, and the quarantined total is the quarantine table's.
"""

from __future__ import annotations

import pyarrow.compute as pc
import sqlalchemy as sa
from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for
from factories import rated_calls

from collector.importer import import_files
from collector.retry import retry_quarantined
from collector.status import collector_status
from warehouse import ingest
from warehouse.store import Store

BAD = b"bad1,not-a-time,5,2001,00442071234567\nbad2,2026-10-05T09:00:00Z,-4,2001,00442071234567\n"


def test_save_by_pbx_charges_each_duplicate_to_its_own_pbx(tmp_path, db_url):
    """A live batch of two PBXs: the database counts new rows, not whose they are; save_by_pbx does."""
    ent = enterprise_with(tmp_path, {})
    store = Store(ent, database_url=db_url)
    try:
        calls = rated_calls(400, seed=3)
        pbxs = sorted(set(calls.column("pbx").to_pylist()))
        assert len(pbxs) >= 2
        first = calls.filter(pc.equal(calls.column("pbx"), pbxs[0]))
        store.save(first.slice(0, first.num_rows // 2))  # half of the first PBX's calls are stored already
        saved = store.save_by_pbx(calls)
    finally:
        store.db.close()
    assert set(saved) == set(pbxs)
    assert (saved[pbxs[0]].inserted, saved[pbxs[0]].skipped) == (first.num_rows - first.num_rows // 2,
                                                                 first.num_rows // 2)
    for p in pbxs[1:]:
        n = pc.sum(pc.equal(calls.column("pbx"), p)).as_py()
        assert (saved[p].inserted, saved[p].skipped) == (n, 0)


def test_live_and_imported_records_share_one_account(tmp_path, db_url):
    ent = enterprise_with(tmp_path, {"lon-csv": "folder:incoming/lon-csv"},
                          pbx_options={"lon-csv": 'settle_s = 0.2\npoll_s = 0.05\nafter_import = "keep"'})
    folder = ent.root / "incoming" / "lon-csv"
    data = HEADER + csv_records(60) + BAD
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        (folder / "cdr_001.csv").write_bytes(data)
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: m.stored >= 60 and m.quarantined >= 2, state=lambda: m)
        wait_for(lambda: count(db_url, "select count(*) from collector_checkpoints where final") == 1)
    assert count(db_url, "select count(*) from quarantine") == 2

    store = Store(ent, database_url=db_url)
    try:
        again = tmp_path / "again.csv"
        again.write_bytes(data)
        for path in (folder / "cdr_001.csv", folder / "cdr_001.csv"):  # the same file, twice
            report = import_files(ent, "lon-csv", [path], store=store)
            assert (report.stored, report.duplicates, report.quarantined) == (0, 60, 2)
        assert count(db_url, "select count(*) from quarantine") == 2  # by source and position: once
        [st] = [s for s in collector_status(ent, store.db.engine) if s.pbx == "lon-csv"]
    finally:
        store.db.close()
    assert not st.alerts, st.alerts
    assert (st.received, st.imported) == (3 * 62, 2 * 62)
    assert (st.stored, st.already_stored, st.quarantined, st.already_quarantined) == (60, 120, 2, 4)
    assert count(db_url, "select count(distinct path) from ingest_account") == 2  # live and import


def test_retry_moves_records_exactly_once_on_both_backends(tmp_path, db_url):
    """Quarantined records whose raw bytes now parse (here: rows fixed in the database, as a config fix
    would make them readable) are stored once and leave the quarantine; a second retry moves nothing."""
    ent = enterprise_with(tmp_path, {})
    path = tmp_path / "cdr.csv"
    path.write_bytes(HEADER + csv_records(10) + BAD)
    store = Store(ent, database_url=db_url)
    try:
        import_files(ent, "lon-csv", [path], store=store)
        with store.begin() as conn:  # what a fixed layout would read: the same record, well-formed
            for line, good in ((12, b"bad1,2026-10-05T09:00:00Z,5,2001,00442071234567"),):
                conn.execute(sa.update(ingest.quarantine).where(ingest.quarantine.c.line == line)
                             .values(raw=HEADER + good + b"\n"))
        first = retry_quarantined(ent, store)
        second = retry_quarantined(ent, store)
        [st] = [s for s in collector_status(ent, store.db.engine) if s.pbx == "lon-csv"]
    finally:
        store.db.close()
    assert (first.tried, first.moved, first.stored, first.still_quarantined) == (2, 1, 1, 1)
    assert (second.tried, second.moved, second.stored) == (1, 0, 0)
    assert count(db_url, "select count(*) from calls") == 11
    assert count(db_url, "select count(*) from quarantine") == 1
    assert count(db_url, "select count(*) from calls where raw_ref like '%cdr.csv:12'") == 1
    assert not st.alerts, st.alerts
    assert (st.received, st.stored, st.quarantined) == (12, 11, 1)


def test_an_empty_account_reads_as_zero(tmp_path, db_url):
    ent = enterprise_with(tmp_path, {})
    engine = sa.create_engine(db_url)
    try:
        statuses = collector_status(ent, engine)
    finally:
        engine.dispose()
    assert all((s.received, s.stored, s.quarantined, s.alerts) == (0, 0, 0, []) for s in statuses)




def test_a_live_records_quarantine_position_is_its_stream_offset():
    """Without a raw dump, a bad live record is quarantined at its offset in the stream, not in the chunk
    it was parsed in: two chunks of one stream with a bad record at the same place in each are two
    records, not one the idempotent quarantine would keep once."""
    from datetime import UTC, datetime

    from collector.connectors.base import PbxContext, connector_for
    from collector.parsing import parse_group
    from collector.parts import Part

    connector = connector_for("canonical-csv", PbxContext(pbx_id="lon-csv", site="LON", timezone="Europe/London"))
    chunk = csv_records(3) + BAD[:BAD.index(b"\n") + 1]

    def part(first: int) -> Part:
        return Part(pbx="lon-csv", transport="tcp", stream="tcp:peer#1", connector=connector, data=chunk,
                    preamble=HEADER, first_offset=first, range_start=first, range_end=first + len(chunk),
                    sha256="-", received_at=datetime.now(UTC))

    a, b = parse_group([part(len(HEADER))]), parse_group([part(len(HEADER) + len(chunk))])
    [qa], [qb] = a.quarantined, b.quarantined
    bad_at = len(csv_records(3))
    assert (qa.source, qa.offset) == ("tcp:peer#1", len(HEADER) + bad_at)
    assert (qb.source, qb.offset) == ("tcp:peer#1", len(HEADER) + len(chunk) + bad_at)
