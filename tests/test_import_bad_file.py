"""A file that cannot be parsed at all is quarantined whole and the import goes on (issue 16, item 4).

Through the real ``callcost import`` on a real SQLite database and lake: a garbage file between good
canonical-CSV files, in one bundle (one ``parse_many`` call) and in bundles of one file each.
"""

from __future__ import annotations


import json

import pytest
import sqlalchemy as sa
from collectorkit import HEADER, csv_records, enterprise_with
from typer.testing import CliRunner

from callcost.cli import app
from callcost.cli_common import EXIT_QUARANTINED
from collector.importer import import_files
from warehouse.errors import ConfigError
from warehouse.store import Store

GARBAGE = bytes(range(256)) * 2 + b" not a CDR file at all"


def _files(tmp_path):
    good_a, bad, good_b = tmp_path / "a.csv", tmp_path / "garbage.bin", tmp_path / "b.csv"
    good_a.write_bytes(HEADER + csv_records(100, "a"))
    bad.write_bytes(GARBAGE)
    good_b.write_bytes(HEADER + csv_records(75, "b"))
    return [good_a, bad, good_b]


def test_a_garbage_file_is_quarantined_whole_and_the_good_files_are_stored(tmp_path):
    ent = enterprise_with(tmp_path / "ent", {})
    files = _files(tmp_path)
    run = CliRunner().invoke(app, ["import", "--pbx", "lon-csv", "--config", str(ent.path), *map(str, files)])
    assert run.exit_code == EXIT_QUARANTINED == 4, run.output
    assert "3 file(s), 176 records: 175 stored, 0 already stored, 1 quarantined" in run.output
    assert f"file quarantined whole: {files[1]}: file not read:" in run.output
    assert "call_id" in run.output.split("file quarantined whole:")[1]  # the connector's reason

    engine = sa.create_engine(ent.storage.database)
    try:
        with engine.connect() as conn:
            calls = conn.execute(sa.text("select count(*) from calls")).scalar_one()
            [q] = conn.execute(sa.text("select source, line, reason, raw from quarantine")).all()
    finally:
        engine.dispose()
    assert calls == 175
    assert q.source == str(files[1]) and q.line is None and q.reason.startswith("file not read:")
    assert q.raw == GARBAGE  # kept whole: ``callcost quarantine retry`` can read it again

    again = CliRunner().invoke(app, ["import", "--pbx", "lon-csv", "--config", str(ent.path), *map(str, files)])
    assert again.exit_code == EXIT_QUARANTINED, again.output
    status = CliRunner().invoke(app, ["status", "--json", "--config", str(ent.path)])
    [st] = [s for s in json.loads(status.stdout) if s["pbx"] == "lon-csv"]
    assert not st["alerts"], st["alerts"]
    assert (st["received"], st["stored"], st["already_stored"]) == (352, 175, 175)
    assert (st["quarantined"], st["already_quarantined"]) == (1, 1)


@pytest.mark.parametrize("bundle_bytes", [1, 1 << 20])
def test_import_files_goes_on_after_a_file_it_cannot_read(tmp_path, bundle_bytes):
    ent = enterprise_with(tmp_path / "ent", {})
    report = import_files(ent, "lon-csv", _files(tmp_path), store=Store(ent), bundle_bytes=bundle_bytes)
    assert (report.files, report.records, report.stored, report.quarantined) == (3, 176, 175, 1)
    assert [q.source for q in report.files_quarantined] == [str(tmp_path / "garbage.bin")]


def test_import_files_with_an_unknown_pbx_is_a_config_error(tmp_path):
    ent = enterprise_with(tmp_path / "ent", {})
    with pytest.raises(ConfigError, match="unknown PBX 'nosuch'"):
        import_files(ent, "nosuch", [], store=Store(ent))
