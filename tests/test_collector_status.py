"""``callcost status`` alerts: a hole between stored segments, a file partly imported, a silent source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from collectorkit import enterprise_with
from typer.testing import CliRunner

from callcost.cli import app
from collector import checkpoints
from warehouse import ingest
from collector.status import collector_status
from warehouse.store import SaveResult

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
EARLY = NOW - timedelta(minutes=70)


def seg(stream: str, first: int, last: int, *, final: bool = False, at: datetime = NOW, records: int = 10):
    return ingest.SegmentRow(pbx="lon-csv", transport=stream.split(":")[0], stream=stream, first_offset=first,
                                 last_offset=last, bytes=last - first, sha256="-", received=records,
                                 parsed=records, quarantined=0, rated=records, unrated=0, final=final,
                                 received_at=at)


def record(engine, segments):
    """A stored live batch: every parsed record of *segments* stored."""
    saved = {"lon-csv": SaveResult(sum(s.parsed for s in segments), 0, 0)}
    checkpoints.record_batch(engine, ingest.LIVE, segments, [], saved)


def test_gaps_partial_files_and_silence_raise_alerts(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "tcp:127.0.0.1:0"})
    engine = sa.create_engine(ent.storage.database)
    checkpoints.create_tables(engine)
    # a source that delivered every minute for an hour, then nothing for 20 minutes
    for k in range(60):
        record(engine, [seg("tcp:a#1", 100 * k, 100 * (k + 1),
                                                    at=NOW - timedelta(minutes=80 - k))])
    record(engine, [seg("tcp:b#2", 0, 100, at=EARLY), seg("tcp:b#2", 250, 300, at=EARLY)])  # bytes 100-250 lost
    record(engine, [seg("/in/cdr_1.csv", 0, 500, final=False, at=EARLY)])  # never finished
    [st] = [s for s in collector_status(ent, engine, now=NOW) if s.pbx == "lon-csv"]
    text = "\n".join(st.alerts)
    assert "tcp:b#2: gap, bytes 100-250 never stored" in text
    assert "/in/cdr_1.csv: file partly imported" in text
    assert "silent for" in text
    assert st.received == 630
    with engine.connect() as conn:
        position = conn.execute(sa.select(checkpoints.checkpoints.c.position)
                                .where(checkpoints.checkpoints.c.stream == "tcp:a#1")).scalar_one()
    assert position == 6000  # the checkpoint follows the stored segments
    engine.dispose()
    result = CliRunner().invoke(app, ["status", "--config", str(ent.path)])
    assert result.exit_code == 2
    assert "gap" in result.output
