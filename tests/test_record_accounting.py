"""Every record of a field file is stored, already stored or quarantined with a reason (issue 15).

``callcost import`` over each file set of ``tests/data``: its summary says how many records the files
held and where each went (stored + already stored + quarantined = records), and ingest accounting
agrees file by file (received = parsed + quarantined; the parsed ones are the stored and the already
stored).  Run through the real command, a real SQLite database and lake.
"""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from callcost.cli import app
from callcost.cli_common import EXIT_QUARANTINED
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
    assert run.exit_code == (EXIT_QUARANTINED if quarantined else 0), run.output
    summary = SUMMARY.search(run.output)
    assert summary, run.output
    assert tuple(int(g) for g in summary.groups()) == (len(files), records, stored, already, quarantined)
    assert stored + already + quarantined == records
    assert run.output.count("quarantined:") == quarantined  # each with its reason, file and line

    engine = sa.create_engine(ent.storage.database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select stream as source, received, parsed, quarantined from ingest_segments "
                                        "where transport = 'import'")).all()
            reasons = conn.execute(sa.text("select source, line, reason from quarantine")).all()
            count = conn.execute(sa.text("select count(*) from calls")).scalar_one()
    finally:
        engine.dispose()
    assert sorted(r.source for r in rows) == sorted(files)
    assert all(r.received == r.parsed + r.quarantined for r in rows)
    assert sum(r.received for r in rows) == records
    assert sum(r.parsed for r in rows) == stored + already and count == stored
    assert len(reasons) == quarantined and all(r.reason and r.line for r in reasons)


@pytest.mark.parametrize("pbx", ["nyc-cucm", "lon-fs"])
def test_reimport_quarantines_nothing_again_and_status_counts_both_imports(pbx, tmp_path):
    """Issue 16, items 3 and 5: importing the same files twice keeps their quarantined records once, and
    ``callcost status`` counts the imports: received = stored + already stored + quarantined, and its
    quarantined total is the quarantine table's."""
    ent = field_enterprise(tmp_path)
    names, (records, stored, already, quarantined) = CASES[pbx]
    files = [str(DATA / n) for n in names]
    for _ in range(2):
        run = CliRunner().invoke(app, ["import", "--pbx", pbx, "--config", str(ent.path), *files])
        assert run.exit_code == EXIT_QUARANTINED, run.output
    summary = SUMMARY.search(run.output)
    assert tuple(int(g) for g in summary.groups()) == (len(files), records, 0, stored + already, quarantined)
    assert f"({quarantined} of them already before)" in run.output

    engine = sa.create_engine(ent.storage.database)
    try:
        with engine.connect() as conn:
            in_db = conn.execute(sa.text("select count(*) from quarantine where pbx = :p"), {"p": pbx}).scalar_one()
            calls = conn.execute(sa.text("select count(*) from calls where pbx = :p"), {"p": pbx}).scalar_one()
    finally:
        engine.dispose()
    assert in_db == quarantined and calls == stored

    status = CliRunner().invoke(app, ["status", "--json", "--config", str(ent.path)])
    [st] = [s for s in json.loads(status.stdout) if s["pbx"] == pbx]
    assert not st["alerts"], st["alerts"]
    assert st["received"] == st["imported"] == 2 * records
    assert (st["stored"], st["already_stored"]) == (stored, stored + 2 * already)
    assert (st["quarantined"], st["already_quarantined"]) == (quarantined, quarantined)
    assert st["received"] == st["stored"] + st["already_stored"] + st["quarantined"] + st["already_quarantined"]
    assert st["last_record_at"] is not None
