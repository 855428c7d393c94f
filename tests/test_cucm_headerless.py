"""Header-less CUCM files (issue 15, defect 1): read by the layout of their column count, in bulk as alone.

The files in ``tests/data/cucm`` hold the same three CDRs written in the 118-, 129- and 133-column
layouts of real CUCM header lines (``tests/data/README.md``), and in 123 columns, a width no confirmed
layout has.  The layouts themselves are checked against the real header lines in ``../shared``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from collector.connectors import cucm_fields as F
from collector.connectors.base import PbxContext
from collector.connectors.cucm import CucmConnector, canonical_header, read_flat_file
from warehouse.errors import ParseError

DATA = Path(__file__).parent / "data" / "cucm"
PBX = PbxContext(pbx_id="nyc-cucm", site="NYC", timezone="America/New_York")
WIDTHS = (118, 129, 133)
KEY = ["call_id", "start_utc", "answer_utc", "end_utc", "duration_s", "ring_s", "calling_number", "called_number",
       "original_called_number", "disposition", "cause_code", "chain_id"]


def _file(width: int) -> Path:
    return DATA / f"headerless_{width}"


def test_each_confirmed_layout_is_the_order_of_a_real_header_line(shared_dir):
    """The table's column orders are read from real files: names and line-2 types, column by column."""
    samples = {118: "cdr_StandAloneCluster_02_201510091036_254831", 129: "cdr_StandAloneCluster_02_202112131407_515358",
               133: "cdr.txt"}
    assert sorted(F.HEADERLESS_LAYOUTS) == sorted(samples)
    for width, name in samples.items():
        rows = list(csv.reader(io.StringIO((shared_dir / "samples" / "cucm" / name).read_text())))
        assert tuple(canonical_header(n) for n in rows[0]) == F.HEADERLESS_LAYOUTS[width].names
        assert rows[1] == [t for _, t in F.CDR_FIELDS[:width]]
    assert not set(F.UNCONFIRMED_WIDTHS) & set(F.HEADERLESS_LAYOUTS)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_headerless_file_is_read_by_the_layout_of_its_width(width):
    result = CucmConnector(PBX).parse(_file(width).read_bytes(), str(_file(width)))
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (3, 3, [])
    assert result.calls["raw_ref"].to_pylist() == [f"{_file(width)}:{n}" for n in (1, 2, 3)]
    rows = result.calls.select(KEY).to_pylist()
    assert rows[0]["call_id"] == "nyc-cucm:0b4c33c1-0d6e-4c52-9a57-1a2b3c4d5e01"
    assert (rows[0]["duration_s"], rows[0]["ring_s"], rows[0]["called_number"]) == (120, 9, "912125550123")
    assert rows[1]["original_called_number"] == "1310" and rows[1]["called_number"] == "8000"
    assert read_flat_file(_file(width).read_bytes(), "x").table.num_columns == width


def test_the_three_widths_give_the_same_calls():
    got = [CucmConnector(PBX).parse(_file(w).read_bytes(), "same").calls.select(KEY + ["direction", "trunk"])
           for w in WIDTHS]
    assert got[0].equals(got[1]) and got[1].equals(got[2])


def test_parse_many_keeps_the_first_two_records_and_their_lines():
    """The bulk path read header-less files from line 3, losing two records and shifting every line by two."""
    units = [(_file(w).read_bytes(), str(_file(w))) for w in WIDTHS]
    batch = CucmConnector(PBX).parse_many(units)
    assert [(t.source, t.records_seen, t.parsed, t.quarantined) for t in batch.files] == [
        (s, 3, 3, []) for _, s in units]
    refs = sorted(batch.calls["raw_ref"].to_pylist())
    assert refs == sorted(f"{s}:{n}" for _, s in units for n in (1, 2, 3))


def test_a_width_no_confirmed_layout_has_is_quarantined_whole_with_the_reason():
    path = DATA / "headerless_123"
    data = path.read_bytes()
    for parse in (lambda: CucmConnector(PBX).parse(data, str(path)),
                  lambda: _as_result(CucmConnector(PBX).parse_many([(data, str(path))]))):
        result = parse()
        assert result.calls.num_rows == 0 and result.records_seen == 2
        assert [(q.line, q.field) for q in result.quarantined] == [(1, None), (2, None)]
        reason = result.quarantined[0].reason
        assert "123 fields" in reason and "118 (10.0)" in reason and "133" in reason
        assert "header" in reason and "quarantined" in reason
        assert [q.raw for q in result.quarantined] == data.splitlines()
        assert data[result.quarantined[1].offset:].startswith(result.quarantined[1].raw)
    with pytest.raises(ParseError) as err:
        read_flat_file(data, str(path))
    assert err.value.file == str(path)


def _as_result(batch):
    [tally] = batch.files

    class _R:
        calls = batch.calls
        records_seen = tally.records_seen
        quarantined = tally.quarantined
    return _R


def test_import_stores_every_record_of_a_headerless_file(tmp_path):
    """Through ``callcost import``'s path: all three records stored, none lost, lines as in the file."""
    from callcost.demo import build_sample
    from collector.importer import import_files
    from warehouse import lake
    from warehouse.config import load_config
    from warehouse.store import Store

    ent = load_config(build_sample(tmp_path / "ent"))
    paths = [_file(w) for w in WIDTHS] + [DATA / "headerless_123"]
    store = Store(ent)
    report = import_files(ent, "nyc-cucm", paths, store=store)
    # the same three CDRs in three widths: stored once, twice "already stored"; the 123-column file quarantined
    assert (report.records, report.stored, report.duplicates, report.quarantined) == (11, 3, 6, 2)
    calls = store.db.read_calls()
    assert sorted(calls["raw_ref"]) == [f"{_file(118)}:{n}" for n in (1, 2, 3)]
