"""Every record of a field file is stored, already stored or quarantined with a reason (issue 15).

``callcost import`` over each file set of ``tests/data``: its summary says how many records the files
held and where each went (stored + already stored + quarantined = records), and ingest accounting
agrees file by file (received = parsed + quarantined; the parsed ones are the stored and the already
stored).  Run through the real command, a real SQLite database and lake.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from callcost.cli import app
from fieldkit import DATA, field_enterprise

CASES = {
    "nyc-cucm": (["cucm/headerless_118", "cucm/headerless_129", "cucm/headerless_133", "cucm/headerless_123"],
                 (11, 3, 6, 2)),
    "lon-ipo": (["ipo/r8_30_fields.csv", "ipo/r9_34_fields.csv", "ipo/r11_35_fields.csv", "ipo/r12_37_fields.csv",
                 "ipo/logger_with_header.csv", "ipo/avaya_smdr_examples.txt"], (21, 8, 12, 1)),
    "lon-ast": (["asterisk/ivr_legs.csv"], (9, 9, 0, 0)),
    "lon-fs": (["freeswitch/repeated_uuid.csv"], (5, 3, 1, 1)),
}
SUMMARY = re.compile(r"(\d+) file\(s\), (\d+) records: (\d+) stored, (\d+) already stored, (\d+) quarantined")


@pytest.mark.parametrize("pbx", sorted(CASES))
def test_import_summary_and_ingest_accounting_add_up(pbx, tmp_path):
    ent = field_enterprise(tmp_path)
    names, (records, stored, already, quarantined) = CASES[pbx]
    files = [str(DATA / n) for n in names]
    run = CliRunner().invoke(app, ["import", "--pbx", pbx, "--config", str(ent.path), *files])
    assert run.exit_code == 0, run.output
    summary = SUMMARY.search(run.output)
    assert summary, run.output
    assert tuple(int(g) for g in summary.groups()) == (len(files), records, stored, already, quarantined)
    assert stored + already + quarantined == records
    assert run.output.count("quarantined:") == quarantined  # each with its reason, file and line

    engine = sa.create_engine(ent.storage.database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select source, received, parsed, quarantined from ingest_batches")).all()
            reasons = conn.execute(sa.text("select source, line, reason from quarantine")).all()
            count = conn.execute(sa.text("select count(*) from calls")).scalar_one()
    finally:
        engine.dispose()
    assert sorted(r.source for r in rows) == sorted(files)
    assert all(r.received == r.parsed + r.quarantined for r in rows)
    assert sum(r.received for r in rows) == records
    assert sum(r.parsed for r in rows) == stored + already and count == stored
    assert len(reasons) == quarantined and all(r.reason and r.line for r in reasons)
