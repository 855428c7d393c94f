"""``callcost status`` alerts: a hole between stored segments, a file partly imported, a silent source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from collectorkit import enterprise_with
from typer.testing import CliRunner

from callcost.cli import app
from collector import accounting
from collector.status import collector_status

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
EARLY = NOW - timedelta(minutes=70)


def seg(stream: str, first: int, last: int, *, final: bool = False, at: datetime = NOW, records: int = 10):
    return accounting.SegmentRow(pbx="lon-csv", transport=stream.split(":")[0], stream=stream, first_offset=first,
                                 last_offset=last, bytes=last - first, sha256="-", received=records,
                                 parsed=records, quarantined=0, rated=records, unrated=0, final=final,
                                 received_at=at)


def test_gaps_partial_files_and_silence_raise_alerts(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    engine = sa.create_engine(ent.storage.database)
    accounting.create_tables(engine)
    batch = {"records": 0, "inserted": 0, "duplicates": 0, "rated": 0, "unrated": 0, "quarantined": 0,
             "rate_s": 0.0, "store_s": 0.0}
    # a source that delivered every minute for an hour, then nothing for 20 minutes
    for k in range(60):
        accounting.record_batch(engine, batch, [seg("tcp:a#1", 100 * k, 100 * (k + 1),
                                                    at=NOW - timedelta(minutes=80 - k))])
    accounting.record_batch(engine, batch, [seg("tcp:b#2", 0, 100, at=EARLY), seg("tcp:b#2", 250, 300, at=EARLY)])  # bytes 100-250 lost
    accounting.record_batch(engine, batch, [seg("/in/cdr_1.csv", 0, 500, final=False, at=EARLY)])  # never finished
    [st] = [s for s in collector_status(ent, engine, now=NOW) if s.pbx == "lon-csv"]
    text = "\n".join(st.alerts)
    assert "tcp:b#2: gap, bytes 100-250 never stored" in text
    assert "/in/cdr_1.csv: file partly imported" in text
    assert "silent for" in text
    assert st.received == 630
    with engine.connect() as conn:
        position = conn.execute(sa.select(accounting.checkpoints.c.position)
                                .where(accounting.checkpoints.c.stream == "tcp:a#1")).scalar_one()
    assert position == 6000  # the checkpoint follows the stored segments
    engine.dispose()
    result = CliRunner().invoke(app, ["status", "--config", str(ent.path)])
    assert result.exit_code == 2
    assert "gap" in result.output
