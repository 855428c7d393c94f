"""An empty CDR file holds no calls, in every format: imported with 0 records and exit 0, nothing quarantined.

PBXs write files on a timer (CUCM every minute, whether or not there were calls), so an empty file is
normal. Before, an empty canonical CSV was an error (exit 1) while an empty CUCM file was fine.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from callcost.cli import app
from callcost.demo import run_demo
from collector.connectors.base import PbxContext, connector_for, registered_connectors

#: the options a connector needs before it can read anything (the layout of a configurable format)
OPTIONS = {"smdr": {"layout": "nec"}, "avaya": {"layout": "unformatted"}}


@pytest.mark.parametrize("type_name", sorted(registered_connectors()))
@pytest.mark.parametrize("data", [b"", b"\n\n", b"\r\n\r\n"], ids=["zero-bytes", "blank-lines", "crlf-blank-lines"])
def test_every_connector_reads_an_empty_file_as_no_calls(type_name, data):
    pbx = PbxContext(pbx_id="p", site="NYC", timezone="America/New_York", options=OPTIONS.get(type_name, {}))
    result = connector_for(type_name, pbx).parse(data, "empty.cdr")
    assert result.calls.num_rows == 0 and result.quarantined == [] and result.records_seen == 0


@pytest.fixture(scope="module")
def ent(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("empty") / "demo", calls=1_000).ent


@pytest.mark.parametrize("pbx", ["lon-csv", "nyc-cucm"])
def test_importing_an_empty_file_exits_0_with_0_records(pbx, ent, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    run = CliRunner().invoke(app, ["import", "--pbx", pbx, str(empty), "--config", str(ent.path)])
    assert run.exit_code == 0, run.output
    assert "1 file(s), 0 records: 0 stored" in " ".join(run.output.split())
