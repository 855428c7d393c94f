"""``callcost quarantine``: list quarantined records, and retry them after a config fix (issue 16, item 6).

Real files, a real SQLite database and lake: an IP Office SMDR file imported under the wrong layout is
quarantined record by record; with the layout fixed, ``quarantine retry`` moves every record into the
database and the lake exactly once and out of the quarantine, and ``callcost status`` still adds up.
"""

from __future__ import annotations

import json

import duckdb
import sqlalchemy as sa
from fieldkit import DATA, field_enterprise
from typer.testing import CliRunner

from callcost.cli import app
from callcost.cli_common import EXIT_QUARANTINED
from warehouse import lake

FILE = DATA / "ipo" / "r9_34_fields.csv"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def count(ent, sql: str) -> int:
    engine = sa.create_engine(ent.storage.database)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_list_and_retry_after_a_layout_fix(tmp_path):
    ent = field_enterprise(tmp_path)
    cfg = str(ent.path)
    good = field_enterprise(tmp_path / "reference")  # the same file imported with the right layout
    assert run("import", "--pbx", "lon-ipo", "--config", str(good.path), str(FILE)).exit_code == 0
    expected = count(good, "select count(*) from calls")
    assert expected >= 3

    ent.path.write_text(ent.path.read_text().replace('layout = "ipo"', 'layout = "panasonic"'))
    first = run("import", "--pbx", "lon-ipo", "--config", cfg, str(FILE))
    assert first.exit_code == EXIT_QUARANTINED, first.output
    held = count(ent, "select count(*) from quarantine")
    assert held >= expected and count(ent, "select count(*) from calls") == 0

    listed = run("quarantine", "--pbx", "lon-ipo", "--config", cfg)
    assert listed.exit_code == 0, listed.output
    assert f"{held} quarantined record(s)" in listed.output and f"{FILE}:1" in listed.output
    as_json = json.loads(run("quarantine", "--json", "--config", cfg).stdout)
    assert len(as_json) == held and {r["pbx"] for r in as_json} == {"lon-ipo"}
    reason = as_json[0]["reason"].split()[0]
    assert len(json.loads(run("quarantine", "--json", "--reason", reason.upper(), "--config", cfg).stdout)) >= 1
    assert json.loads(run("quarantine", "--json", "--since", "2999-01-01", "--config", cfg).stdout) == []
    assert json.loads(run("quarantine", "--json", "--pbx", "nyc-cucm", "--config", cfg).stdout) == []

    ent.path.write_text(ent.path.read_text().replace('layout = "panasonic"', 'layout = "ipo"'))
    retried = run("quarantine", "retry", "--pbx", "lon-ipo", "--config", cfg)
    assert f"{held} quarantined records tried: {held - (held - expected)} now parse" in retried.output, retried.output
    assert count(ent, "select count(*) from calls") == expected
    assert count(ent, "select count(*) from quarantine") == held - expected
    assert count(ent, "select count(distinct raw_ref) from calls") == expected  # each points at its own line
    in_lake = duckdb.connect().execute(f"select count(*), count(distinct call_id) from {lake.calls_glob(ent.storage.lake)}").fetchone()
    assert in_lake == (expected, expected)

    again = run("quarantine", "retry", "--pbx", "lon-ipo", "--config", cfg)  # nothing moves twice
    assert count(ent, "select count(*) from calls") == expected, again.output
    reimport = run("import", "--pbx", "lon-ipo", "--config", cfg, str(FILE))
    assert f"0 stored, {expected} already stored" in reimport.output, reimport.output

    [st] = [s for s in json.loads(run("status", "--json", "--config", cfg).stdout) if s["pbx"] == "lon-ipo"]
    assert not st["alerts"], st["alerts"]
    assert st["quarantined"] == count(ent, "select count(*) from quarantine where pbx = 'lon-ipo'")
    assert st["stored"] == expected
    assert st["received"] == st["stored"] + st["already_stored"] + st["quarantined"] + st["already_quarantined"]


def test_retry_of_a_file_quarantined_whole_after_a_type_fix(tmp_path):
    """An Asterisk Master.csv imported for a PBX configured as canonical CSV is refused whole (no call_id
    column); with ``type = "asterisk"`` the whole-file row parses, leaves the quarantine, and its calls are
    stored once.  A file still refused stays, its reason brought up to date."""
    ent = field_enterprise(tmp_path)
    cfg = str(ent.path)
    reference = field_enterprise(tmp_path / "reference")
    source = DATA / "asterisk" / "ivr_legs.csv"
    assert run("import", "--pbx", "lon-ast", "--config", str(reference.path), str(source)).exit_code == 0
    expected = count(reference, "select count(*) from calls")

    block = 'id = "lon-ast"\ntype = "asterisk"'
    ent.path.write_text(ent.path.read_text().replace(block, 'id = "lon-ast"\ntype = "canonical-csv"'))
    first = run("import", "--pbx", "lon-ast", "--config", cfg, str(source))
    assert first.exit_code == EXIT_QUARANTINED and "file quarantined whole" in first.output, first.output
    assert count(ent, "select count(*) from quarantine where line is null and \"offset\" is null") == 1

    still = run("quarantine", "retry", "--config", cfg)  # not fixed yet
    assert still.exit_code == EXIT_QUARANTINED and "1 still quarantined" in still.output, still.output

    ent.path.write_text(ent.path.read_text().replace('id = "lon-ast"\ntype = "canonical-csv"', block))
    fixed = run("quarantine", "retry", "--pbx", "lon-ast", "--config", cfg)
    assert fixed.exit_code == 0 and "1 now parse" in fixed.output, fixed.output
    assert count(ent, "select count(*) from calls") == expected
    assert count(ent, "select count(*) from quarantine") == 0
    [st] = [s for s in json.loads(run("status", "--json", "--config", cfg).stdout) if s["pbx"] == "lon-ast"]
    assert not st["alerts"], st["alerts"]
    assert (st["stored"], st["quarantined"]) == (expected, 0)
    assert st["received"] == st["stored"] + st["already_stored"] + st["quarantined"] + st["already_quarantined"]
