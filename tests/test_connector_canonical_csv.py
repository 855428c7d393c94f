"""The canonical-csv connector (SPEC §6): required columns, derived times, row-level quarantine."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pytest

from collector.connectors.base import PbxContext, connector_for
from collector.connectors.canonical_csv import CanonicalCsvConnector
from collector.simulate.cucm_and_canonical_csv import write_canonical_csv
from test_connector_conformance import known_calls
from warehouse.errors import ParseError
from warehouse.schema import PARSED_SCHEMA

PBX = PbxContext(pbx_id="lon-csv", site="LON", timezone="Europe/London")
HEADER = b"call_id,start_utc,duration_s,calling_number,called_number"


def _parse(data: bytes, source: str = "calls.csv"):
    return CanonicalCsvConnector(PBX).parse(data, source)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_minimal_file_derives_the_rest():
    result = _parse(HEADER + b"\nc1,2026-10-05T09:00:00Z,95,2001,900442071234567\nc2,2026-10-05T09:05:00Z,0,2001,2002\n")
    assert result.records_seen == 2 and result.quarantined == []
    c1, c2 = result.calls.to_pylist()
    assert c1["call_id"] == "lon-csv:c1" and c1["pbx"] == "lon-csv" and c1["site"] == "LON"
    assert c1["source_format"] == "canonical-csv" and c1["raw_ref"] == "calls.csv:2"
    # talk time but no answer time: answer = start; end = answer + duration
    assert (c1["answer_utc"], c1["end_utc"]) == (_utc(2026, 10, 5, 9, 0), _utc(2026, 10, 5, 9, 1, 35))
    assert (c1["duration_s"], c1["disposition"]) == (95, "answered")
    # duration 0: unanswered, no answer time, ends at start
    assert (c2["answer_utc"], c2["end_utc"], c2["disposition"]) == (None, _utc(2026, 10, 5, 9, 5), "no_answer")
    assert c1["direction"] is None and c1["trunk"] is None and c1["ring_s"] is None


def test_offsets_fractions_and_explicit_columns():
    data = (b"call_id,start_utc,answer_utc,end_utc,duration_s,calling_number,called_number,site,direction,trunk,"
            b"disposition,account_code,carrier,actual_cost\n"
            b"x,2026-03-29T01:30:00+01:00,2026-03-29T00:30:06.900Z,,60,2001,2002,MAN,internal,,answered,ACC9,acme,0.12\n")
    row = _parse(data).calls.to_pylist()[0]
    assert row["start_utc"] == _utc(2026, 3, 29, 0, 30)
    assert row["answer_utc"] == _utc(2026, 3, 29, 0, 30, 6)  # fractions truncated to the second
    assert row["ring_s"] == 6  # known answer time: ring time follows
    assert row["end_utc"] == _utc(2026, 3, 29, 0, 31, 6)
    assert (row["site"], row["direction"], row["account_code"]) == ("MAN", "internal", "ACC9")


def test_missing_required_column_names_file_and_column():
    with pytest.raises(ParseError) as err:
        _parse(b"call_id,start_utc,calling_number,called_number\nc1,2026-10-05T09:00:00Z,1,2\n", "/in/x.csv")
    assert (err.value.file, err.value.field) == ("/in/x.csv", "duration_s")
    assert "duration_s" in str(err.value) and "/in/x.csv" in str(err.value)
    empty = _parse(b"")  # an empty file holds no calls, as in every format (tests/test_empty_files.py)
    assert empty.calls.num_rows == 0 and empty.quarantined == []


def test_bad_rows_are_quarantined_with_line_and_field_and_the_rest_kept():
    data = b"\n".join([
        HEADER + b",direction",
        b"ok1,2026-10-05T09:00:00Z,10,2001,2002,internal",
        b"naive,2026-10-05T09:00:00,10,2001,2002,internal",
        b"month13,2026-13-05T09:00:00Z,10,2001,2002,internal",
        b"neg,2026-10-05T09:00:00Z,-5,2001,2002,internal",
        b"",
        b"dir,2026-10-05T09:00:00Z,5,2001,2002,sideways",
        b",2026-10-05T09:00:00Z,5,2001,2002,internal",
        b"short,2026-10-05T09:00:00Z,5",
        b"ok2,2026-10-05T09:10:00+02:00,0,,2002,",
    ])
    result = _parse(data, "feed.csv")
    assert result.calls["call_id"].to_pylist() == ["lon-csv:ok1", "lon-csv:ok2"]
    assert result.calls["raw_ref"].to_pylist() == ["feed.csv:2", "feed.csv:10"]
    assert result.records_seen == 8  # the blank line is not a record
    got = [(q.line, q.field) for q in result.quarantined]
    assert got == [(3, "start_utc"), (4, "start_utc"), (5, "duration_s"), (7, "direction"), (8, "call_id"),
                   (9, None)]
    assert "Z or a UTC offset" in result.quarantined[0].reason
    assert result.quarantined[5].raw == b"short,2026-10-05T09:00:00Z,5"
    assert str(result.quarantined[1]).startswith("feed.csv:4: field 'start_utc'")
    assert result.calls.to_pylist()[1]["calling_number"] is None  # a withheld caller id is not an error


def test_bom_crlf_no_final_newline_and_quoted_newline():
    data = ("\ufeff" + HEADER.decode() + ",account_code\r\nc1,2026-10-05T09:00:00Z,10,2001,2002,\"two\r\nlines\"\r\n"
            "c2,2026-10-05T09:00:00Z,oops,2001,2002,\r\nc3,2026-10-05T09:01:00Z,7,2001,2002,x").encode()
    result = _parse(data)
    assert result.calls["call_id"].to_pylist() == ["lon-csv:c1", "lon-csv:c3"]
    assert result.calls["raw_ref"].to_pylist() == ["calls.csv:2", "calls.csv:5"]
    assert [(q.line, q.field) for q in result.quarantined] == [(4, "duration_s")]


def test_round_trip_through_the_canonical_writer(tmp_path):
    source = known_calls()
    path = write_canonical_csv(source, tmp_path / "out" / "calls.csv")
    result = _parse(path.read_bytes(), str(path))
    assert result.quarantined == [] and result.calls.schema == PARSED_SCHEMA
    parsed = result.calls
    assert parsed["call_id"].to_pylist() == [f"lon-csv:{c}" for c in source["call_id"].to_pylist()]
    for col in ("start_utc", "answer_utc", "end_utc", "duration_s", "ring_s", "calling_number", "called_number",
                "original_called_number", "extension", "direction", "trunk", "account_code", "disposition",
                "cause_code"):
        assert parsed[col].to_pylist() == source[col].to_pylist(), col
    assert set(parsed["site"].to_pylist()) == {"LON"}  # the fixture had no site: the PBX's


def test_large_file_is_parsed_column_wise(tmp_path):
    n = 50_000
    base = known_calls()
    calls = pa.concat_tables([base] * (n // base.num_rows + 1)).slice(0, n)
    ids = pa.array([f"bulk-{i}" for i in range(n)])
    calls = calls.set_column(0, "call_id", ids)
    path = write_canonical_csv(calls, tmp_path / "bulk.csv")
    result = _parse(path.read_bytes(), str(path))
    assert result.calls.num_rows == n and result.records_seen == n
    assert result.calls["raw_ref"][-1].as_py() == f"{path}:{n + 1}"


def test_connector_is_registered_under_its_type():
    assert isinstance(connector_for("canonical-csv", PBX), CanonicalCsvConnector)
