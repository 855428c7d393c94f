"""The raw dump (frames, rotation, retention, torn tail) and ``callcost replay`` (idempotent on call_id)."""

from __future__ import annotations

import socket

from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for
from typer.testing import CliRunner

from callcost.cli import app
from collector.rawdump import DumpPolicy, RawDumpWriter, dump_files, read_frames
from collector.replay import replay
from warehouse.store import Store


def test_frames_rotate_expire_and_survive_a_torn_tail(tmp_path):
    old_day = tmp_path / "pbx1" / "2001-01-01"
    old_day.mkdir(parents=True)
    (old_day / "pbx1-20010101T000000000000-1-1.raw").write_bytes(b"")
    w = RawDumpWriter(tmp_path, "pbx1", DumpPolicy(rotate_bytes=100, rotate_seconds=3600, retention_days=30))
    refs = [w.append("D", "s1", b"x" * 150 + b"%d" % i) for i in range(4)]
    w.sync()
    w.close()
    assert not old_day.exists()  # retention applied on rotation
    files = dump_files([tmp_path])
    assert len(files) == 4 and [str(f) for f in files] == [r.path for r in refs]
    for ref, f in zip(refs, files):
        [frame] = list(read_frames(f))
        assert frame.payload.endswith(b"%d" % refs.index(ref)) and frame.ref == ref
    with open(files[-1], "ab") as f:  # a crash in the middle of a frame
        f.write(b"\x1eD s1 1 100\npartial")
    assert len(list(read_frames(files[-1]))) == 1


def test_retention_keeps_the_dump_of_a_session_still_open(tmp_path):
    """A link up for longer than the retention: its first files stay until it closes (recovery and replay
    count stream offsets from the session's first frame)."""
    from datetime import UTC, datetime

    class Clocked(RawDumpWriter):
        now = datetime(2001, 1, 1, tzinfo=UTC)

        def _now(self) -> datetime:
            return self.now

    w = Clocked(tmp_path, "pbx1", DumpPolicy(rotate_bytes=100, rotate_seconds=3600, retention_days=30))
    w.append("O", "long", b"{}")
    w.append("D", "long", b"x" * 150)
    w.append("O", "short", b"{}")  # a rotation: each file holds one frame of over 100 bytes
    w.append("C", "short", b"closed")
    first_day = tmp_path / "pbx1" / "2001-01-01"
    w.now = datetime.now(UTC)
    w.append("D", "long", b"y" * 150)  # rotation into today: 2001 is past the retention, "long" still open
    w.append("D", "long", b"z" * 150)
    assert first_day.exists()
    w.append("C", "long", b"closed")
    w.append("D", "other", b"w" * 150)  # the next rotation, with "long" closed
    w.append("D", "other", b"v" * 150)
    w.close()
    assert not first_day.exists()


def test_replay_of_the_raw_dump_is_idempotent(tmp_path, db_url):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + csv_records(120) + b"oops\n" + csv_records(30, start=120))
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: m.records_received >= 151 and m.sessions_open == 0, state=lambda: m)
    assert count(db_url, "select count(*) from calls") == 150
    store = Store(ent, database_url=db_url)
    try:
        report = replay(ent, [ent.storage.raw_dump], store=store)
    finally:
        store.db.close()
    assert (report.sessions, report.received, report.stored_new) == (1, 151, 0)
    assert count(db_url, "select count(*) from calls") == 150


def test_replay_verb_restores_calls_into_an_empty_database(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    with running(ent, f"sqlite:///{tmp_path}/first.db", pbx_ids=["lon-csv"]) as svc:
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + csv_records(25))
        wait_for(lambda: svc.pipeline.metrics["lon-csv"].stored >= 25)
    # the config's own database (empty): replay is how a broken layout or a lost DB is recovered
    result = CliRunner().invoke(app, ["replay", str(ent.storage.raw_dump), "--config", str(ent.path)])
    assert result.exit_code == 0, result.output
    assert "25 new calls stored" in result.output
    status = CliRunner().invoke(app, ["status", "--config", str(ent.path), "--json"])
    assert status.exit_code == 0, status.output
    assert '"stored": 25' in status.output
