"""The CUCM connector against real CDR/CMR flat files (118, 129 and 133 columns) and their damaged forms.

The real files are read from ``../shared/samples/cucm`` (never copied into the repository); the
damaged variants are made from them in ``tmp_path``: malformed records between good ones, the
spreadsheet-resaved form, reordered columns, a header-less export.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from collector.connectors.base import PbxContext, connector_for
from collector.connectors.cucm import (
    IP_COLUMNS, CucmConnector, decode_ip, decode_ip_column, parse_file_name, read_flat_file, with_dotted_ips,
)
from collector.simulate.cucm_and_canonical_csv import write_cucm_files
from test_connector_conformance import known_calls
from warehouse.errors import ParseError
from warehouse.schema import PARSED_SCHEMA

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "cucm"
CDR_2021_A = SAMPLES / "cdr_StandAloneCluster_02_202112131407_515358"
CDR_2021_B = SAMPLES / "cdr_StandAloneCluster_02_202112131408_515359"
CDR_2015 = SAMPLES / "cdr_StandAloneCluster_02_201510091036_254831"
CDR_2025 = SAMPLES / "cdr.txt"
CMR_2021 = SAMPLES / "cmr_StandAloneCluster_02_202112131408_515359"
ALL_FILES = sorted(p for p in SAMPLES.iterdir() if p.name != "SOURCES.md")
PBX = PbxContext(pbx_id="var", site="MSK", timezone="Europe/Moscow")


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def _parse(path: Path, data: bytes | None = None, source: str | None = None):
    return CucmConnector(PBX).parse(path.read_bytes() if data is None else data, source or str(path))


def _row(calls: pa.Table, pkid: str) -> dict:
    hit = calls.filter(pc.equal(calls["call_id"], f"{PBX.pbx_id}:{pkid}"))
    assert hit.num_rows == 1, pkid
    return hit.to_pylist()[0]


def _data_lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip()) - 2


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def _write_rows(rows: list[list[str]], quote: bool = True, delimiter: str = ",", newline: str = "\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL, delimiter=delimiter,
               lineterminator=newline).writerows(rows)
    return buf.getvalue().encode()


def _key_columns(calls: pa.Table) -> list[dict]:
    cols = ["call_id", "start_utc", "answer_utc", "end_utc", "duration_s", "ring_s", "calling_number",
            "called_number", "original_called_number", "direction", "trunk", "disposition", "cause_code",
            "chain_id"]
    return calls.select(cols).to_pylist()


# --- every real file -------------------------------------------------------------------------------------

def test_the_samples_are_there():
    assert len(ALL_FILES) == 5, "the shared CUCM samples are missing (../shared/samples/cucm)"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_real_file_parses_without_loss(path: Path):
    result = _parse(path)
    assert result.records_seen == _data_lines(path)
    assert result.quarantined == []
    assert result.calls.schema == PARSED_SCHEMA
    if path.name.startswith("cmr_"):
        assert result.calls.num_rows == 0  # quality records are counted, never calls
    else:
        assert result.calls.num_rows == result.records_seen
        calls = result.calls
        assert pc.all(pc.starts_with(calls["call_id"], "var:")).as_py()
        assert len(set(calls["call_id"].to_pylist())) == calls.num_rows
        assert set(calls["source_format"].to_pylist()) == {"cucm"}
        assert calls["raw_ref"].to_pylist() == [f"{path}:{n}" for n in range(3, 3 + calls.num_rows)]


def test_column_counts_of_the_three_releases():
    widths = {p.name: len(read_flat_file(p.read_bytes(), str(p)).table.column_names)
              for p in (CDR_2015, CDR_2021_A, CDR_2025)}
    assert widths == {CDR_2015.name: 118, CDR_2021_A.name: 129, CDR_2025.name: 133}


def test_outbound_call_through_the_gateway_hand_checked():
    row = _row(_parse(CDR_2021_B).calls, "4fb3abe1-5350-4b2b-ab4c-1aa24ee5c932")
    assert row["start_utc"] == _utc(1639404338) == datetime(2021, 12, 13, 14, 5, 38, tzinfo=timezone.utc)
    assert row["answer_utc"] == _utc(1639404360)
    assert row["end_utc"] == _utc(1639404430)
    assert (row["duration_s"], row["ring_s"]) == (70, 22)
    assert (row["calling_number"], row["called_number"]) == ("5619", "0079153656669")
    assert (row["direction"], row["trunk"]) == ("outbound", "vardc-gw-02")
    assert (row["disposition"], row["cause_code"]) == ("answered", "16")
    assert row["chain_id"] == "var:StandAloneCluster:2:2663296"
    assert row["raw_ref"] == f"{CDR_2021_B}:4"
    assert row["site"] is None and row["extension"] is None


def test_inbound_and_internal_calls_hand_checked():
    calls = _parse(CDR_2021_A).calls
    inbound = _row(calls, "77b88507-28df-4e43-8f7d-72ca286fc1b5")
    assert (inbound["calling_number"], inbound["called_number"]) == ("989670929107", "5203")
    assert (inbound["direction"], inbound["trunk"]) == ("inbound", "vardc-gw-02")
    assert (inbound["duration_s"], inbound["ring_s"]) == (112, 10)
    internal = _row(calls, "4738c30c-d380-4e5d-bd01-99e519821e7b")
    assert (internal["calling_number"], internal["called_number"], internal["direction"]) == ("2427", "5212", "internal")
    assert internal["trunk"] is None and internal["duration_s"] == 65
    # caller hung up before answer (cause 16 on the originating side): unanswered, ring time until then
    abandoned = _row(calls, "be95c85d-5875-4a4a-865c-03405c12cb0b")
    assert abandoned["answer_utc"] is None and abandoned["duration_s"] == 0
    assert (abandoned["disposition"], abandoned["ring_s"]) == ("no_answer", 14)


def test_busy_and_no_answer_dispositions():
    calls = _parse(CDR_2021_B).calls
    busy = _row(calls, "47a3bec9-b806-465f-81e0-fa22c96f5f03")
    assert (busy["disposition"], busy["cause_code"], busy["duration_s"]) == ("busy", "17", 0)
    assert busy["answer_utc"] is None
    assert busy["direction"] is None  # the called phone never appeared: unsure, left to the classifier
    no_answer = _row(calls, "45c38b83-dd15-4a7e-9502-07d18a18f298")
    assert (no_answer["disposition"], no_answer["cause_code"]) == ("no_answer", "19")


def test_forward_to_pstn_keeps_original_and_final_called_numbers():
    row = _row(_parse(CDR_2021_B).calls, "d28bf53b-e456-4588-b8e1-a854224116f1")
    assert (row["original_called_number"], row["called_number"]) == ("1411", "0079039668727")
    assert (row["direction"], row["trunk"]) == ("outbound", "vardc-gw-02")


def test_transfer_segments_share_a_chain_across_files():
    calls = pa.concat_tables([_parse(CDR_2021_A).calls, _parse(CDR_2021_B).calls])
    chain = calls.filter(pc.equal(calls["chain_id"], "var:StandAloneCluster:2:2663303"))
    assert chain.num_rows == 4
    assert set(chain["calling_number"].to_pylist()) == {"989913402077"}
    assert sorted(chain["cause_code"].to_pylist(), key=str) == sorted(["393216", None, "393216", "19"], key=str)


def test_cti_port_leg_is_inbound_through_the_gateway():
    row = _row(_parse(CDR_2021_A).calls, "e75cf078-5a25-47e3-8bc5-086e6758d871")
    assert (row["direction"], row["trunk"], row["called_number"]) == ("inbound", "vardc-gw-02", "7153")


def test_133_column_file_without_final_newline():
    assert not CDR_2025.read_bytes().endswith(b"\n")
    row = _row(_parse(CDR_2025).calls, "ed56fecd-bd2d-48d4-ae03-7ee3766d6048")
    assert (row["calling_number"], row["called_number"], row["direction"]) == ("5033466594", "5033466593", "internal")
    assert (row["duration_s"], row["ring_s"]) == (11, 2)
    assert row["chain_id"] == "var:cucmOHSUtest:2:25447"


def test_118_column_unquoted_file():
    calls = _parse(CDR_2015).calls
    assert sorted(calls["duration_s"].to_pylist()) == [20, 26, 3974]
    assert set(calls["direction"].to_pylist()) == {"internal"}


def test_cmr_file_yields_records_not_calls():
    result = _parse(CMR_2021)
    assert (result.records_seen, result.calls.num_rows) == (9, 0)
    cmr = CucmConnector(PBX).parse_cmr(CMR_2021.read_bytes(), str(CMR_2021))
    assert cmr.num_rows == 9 and "varVQMetrics" in cmr.column_names


def test_cmr_content_recognised_without_its_file_name(tmp_path):
    result = _parse(CMR_2021, source=str(tmp_path / "quality.csv"))
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (9, 0, [])


def test_connector_is_registered_under_its_type():
    assert isinstance(connector_for("cucm", PBX), CucmConnector)


# --- decode_ip ----------------------------------------------------------------------------------------------

def test_decode_ip_little_endian_signed():
    assert decode_ip(-1139627840) == "192.168.18.188"
    assert decode_ip("1835247808") == "192.168.99.109"
    assert decode_ip(0) is None and decode_ip("") is None and decode_ip(None) is None


def test_decode_ip_matches_the_text_address_in_real_records():
    checked, differ = 0, []
    for path in (CDR_2021_A, CDR_2021_B, CDR_2025):
        t = read_flat_file(path.read_bytes(), str(path)).table
        for side in ("orig", "dest"):
            for packed, text in zip(t[f"{side}IpAddr"].to_pylist(), t[f"{side}Ipv4v6Addr"].to_pylist()):
                if packed not in ("", "0") and text:
                    checked += 1
                    if decode_ip(packed) != text:
                        differ.append((decode_ip(packed), text))
    assert checked == 39
    # one gateway record names its other interface in the text field; a big-endian decode would differ everywhere
    assert differ == [("192.168.96.10", "192.168.96.9")]


def test_ip_columns_decoded_column_wise_as_the_scalar_decoder_does():
    assert {"origIpAddr", "destIpAddr", "origMediaTransportAddress_IP", "destMediaTransportAddress_IP"} <= set(IP_COLUMNS)
    values = pa.array(["-1139627840", "1835247808", "0", "", " 16777343 ", "x"])
    assert decode_ip_column(values).to_pylist() == ["192.168.18.188", "192.168.99.109", None, None, "127.0.0.1", None]
    for path in (CDR_2021_A, CDR_2021_B, CDR_2015, CDR_2025):
        table = with_dotted_ips(read_flat_file(path.read_bytes(), str(path)).table)
        for name in IP_COLUMNS:
            if name in table.column_names:
                expected = [decode_ip(v) if v.strip().lstrip("-").isdigit() else None for v in table[name].to_pylist()]
                assert table[f"{name}_text"].to_pylist() == expected, (path.name, name)


# --- damaged and variant files -----------------------------------------------------------------------------

def test_malformed_records_between_good_ones_are_quarantined():
    lines = CDR_2021_B.read_bytes().split(b"\n")
    good = lines[2]
    fields = good.split(b",")
    bad_epoch = b",".join(fields[:4] + [b"16394O4382"] + fields[5:])  # letter O in the epoch
    short = b",".join(fields[:60])  # truncated record
    empty_disconnect = b",".join(fields[:48] + [b""] + fields[49:])
    damaged = b"\n".join(lines[:4] + [bad_epoch, short] + lines[4:6] + [empty_disconnect] + lines[6:])
    result = _parse(CDR_2021_B, damaged)
    assert result.calls.num_rows == 13  # every good record kept
    assert result.records_seen == 16
    got = [(q.line, q.field) for q in result.quarantined]
    assert got == [(5, "dateTimeOrigination"), (6, None), (9, "dateTimeDisconnect")]
    assert "16394O4382" in result.quarantined[0].reason
    assert "60 fields, expected 129" in result.quarantined[1].reason
    assert result.quarantined[1].raw == short
    assert all(q.source == str(CDR_2021_B) for q in result.quarantined)
    # good records keep their own physical lines
    assert _row(result.calls, "7bd9a057-ccb5-441f-a9ef-d6d406746e06")["raw_ref"] == f"{CDR_2021_B}:3"
    assert _row(result.calls, "47a3bec9-b806-465f-81e0-fa22c96f5f03")["raw_ref"] == f"{CDR_2021_B}:7"


def test_spreadsheet_resaved_form_reads_the_same():
    rows = _rows(CDR_2021_B)
    resaved = _write_rows(rows, quote=False, newline="\r\n").rstrip(b"\r\n")
    assert b'"' not in resaved
    assert _key_columns(_parse(CDR_2021_B, resaved).calls) == _key_columns(_parse(CDR_2021_B).calls)
    semicolons = _write_rows(rows, quote=False, delimiter=";")
    assert _key_columns(_parse(CDR_2021_B, semicolons).calls) == _key_columns(_parse(CDR_2021_B).calls)


def test_columns_are_mapped_by_name_not_position():
    rows = _rows(CDR_2021_A)
    reordered = [list(reversed(r)) for r in rows]
    reordered[0] = [n.upper() if n.startswith("date") else n for n in reordered[0]]  # case-insensitive
    reordered[0] = ["destLegCallIdentifier" if n == "destLegIdentifier" else n for n in reordered[0]]
    assert _key_columns(_parse(CDR_2021_A, _write_rows(reordered)).calls) == _key_columns(_parse(CDR_2021_A).calls)


def test_header_less_export_is_read_in_the_documented_order():
    data_only = _write_rows(_rows(CDR_2021_A)[2:])
    result = _parse(CDR_2021_A, data_only)
    expected = _key_columns(_parse(CDR_2021_A).calls)
    assert _key_columns(result.calls) == expected
    assert result.calls["raw_ref"][0].as_py() == f"{CDR_2021_A}:1"


def test_non_cdr_record_types_are_counted_not_parsed():
    rows = _rows(CDR_2021_A)
    rows[3][0] = "2"  # a stray CMR row
    rows[4][0] = "0"  # a start record
    result = _parse(CDR_2021_A, _write_rows(rows))
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (11, 9, [])


def test_missing_key_column_is_a_parse_error_naming_file_and_field():
    rows = _rows(CDR_2021_A)
    k = rows[0].index("dateTimeOrigination")
    broken = [r[:k] + r[k + 1:] for r in rows]
    with pytest.raises(ParseError) as err:
        _parse(CDR_2021_A, _write_rows(broken))
    assert (err.value.file, err.value.line, err.value.field) == (str(CDR_2021_A), 1, "dateTimeOrigination")


def test_empty_and_header_only_files():
    assert _parse(CDR_2021_A, b"").records_seen == 0
    header_only = b"\n".join(CDR_2021_A.read_bytes().split(b"\n")[:2]) + b"\n"
    result = _parse(CDR_2021_A, header_only)
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (0, 0, [])


def test_file_name_convention():
    name = parse_file_name(CDR_2021_B)
    assert (name.tag, name.cluster, name.node, name.stamp, name.seq) == ("cdr", "StandAloneCluster", 2, "202112131408", 515359)
    assert parse_file_name("cdr_My_Cluster-1_01_202610051300_7").cluster == "My_Cluster-1"
    assert parse_file_name("calls.csv") is None


# --- device names and configured trunks --------------------------------------------------------------------

def test_device_kind_rules_and_pbx_options(tmp_path):
    calls = known_calls()
    # a trunk name with no gateway-like hint is still a trunk when the other side is a phone
    calls = calls.set_column(calls.schema.get_field_index("trunk"), "trunk",
                             pc.replace_substring(calls["trunk"], "NYC-PSTN-GW", "ACME"))
    files = write_cucm_files(calls, tmp_path, minutes_per_file=1440)
    parsed = pa.concat_tables([CucmConnector(PBX).parse(p.read_bytes(), str(p)).calls for p in files])
    out = dict(zip(parsed["start_utc"].to_pylist(), zip(parsed["direction"].to_pylist(), parsed["trunk"].to_pylist())))
    assert out[datetime(2026, 10, 5, 13, 0, tzinfo=timezone.utc)] == ("outbound", "ACME1")
    assert out[datetime(2026, 10, 5, 13, 0, 30, tzinfo=timezone.utc)] == ("inbound", "ACME2")
    # a site whose phones are named unusually declares them as endpoints
    odd = PbxContext("var", "MSK", "Europe/Moscow", options={"endpoint_devices": ["main_"]})
    row = CucmConnector(odd).parse(CDR_2021_A.read_bytes(), str(CDR_2021_A)).calls
    assert _row(row, "e75cf078-5a25-47e3-8bc5-086e6758d871")["direction"] == "inbound"
    # and a configured trunk glob wins over the phone naming rule
    forced = PbxContext("var", "MSK", "Europe/Moscow", options={"trunk_devices": ["SEP6886A743E5A4"]})
    row = _row(CucmConnector(forced).parse(CDR_2021_A.read_bytes(), str(CDR_2021_A)).calls,
               "4738c30c-d380-4e5d-bd01-99e519821e7b")
    assert (row["direction"], row["trunk"]) == ("outbound", "SEP6886A743E5A4")


# --- round trip through the writer ---------------------------------------------------------------------------

def test_round_trip_through_the_cucm_writer(tmp_path):
    source = known_calls()
    files = write_cucm_files(source, tmp_path, cluster="NYC-CL", node=3, minutes_per_file=1)
    parsed = pa.concat_tables([CucmConnector(PBX).parse(p.read_bytes(), str(p)).calls for p in files])
    parsed, source = parsed.sort_by("start_utc"), source.sort_by("start_utc")
    for col in ("start_utc", "answer_utc", "end_utc", "duration_s", "ring_s", "calling_number", "called_number",
                "trunk", "disposition", "cause_code", "account_code"):
        assert parsed[col].to_pylist() == source[col].to_pylist(), col
    expected_original = [o or c for o, c in zip(source["original_called_number"].to_pylist(),
                                                source["called_number"].to_pylist())]
    assert parsed["original_called_number"].to_pylist() == expected_original
    # an on-net call leaves through a SIP trunk: CUCM sees it as outbound, the classifier makes it on-net
    expected_direction = ["outbound" if (d == "internal" and t) else d
                          for d, t in zip(source["direction"].to_pylist(), source["trunk"].to_pylist())]
    assert parsed["direction"].to_pylist() == expected_direction
    assert all(c.startswith("var:NYC-CL:3:") for c in parsed["chain_id"].to_pylist())


def test_writer_file_names_and_layout(tmp_path):
    files = write_cucm_files(known_calls(), tmp_path, cluster="NYC-CL", node=3, minutes_per_file=1, start_seq=41)
    # one file per disconnect minute that has records, stamped with the interval's end, seq counting files
    assert [p.name for p in files] == [
        "cdr_NYC-CL_03_202610051302_41", "cdr_NYC-CL_03_202610051304_42", "cdr_NYC-CL_03_202610051305_43",
        "cdr_NYC-CL_03_202610051401_44", "cdr_NYC-CL_03_202610051422_45", "cdr_NYC-CL_03_202610051431_46",
    ]
    rows = _rows(files[0])
    assert len(rows[0]) == len(rows[1]) == len(rows[2]) == 129
    assert rows[1][0] == "INTEGER" and rows[1][rows[0].index("pkid")] == "UNIQUEIDENTIFIER"
    raw = files[0].read_text().splitlines()[2]
    assert raw.startswith("1,3,") and ',"+442079460000",' in raw  # integers bare, strings quoted, as CUCM writes
    hourly = write_cucm_files(known_calls(), tmp_path / "hourly", minutes_per_file=60)
    assert [p.name.split("_")[3] for p in hourly] == ["202610051400", "202610051500"]
    again = write_cucm_files(known_calls(), tmp_path / "again", minutes_per_file=60)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in hourly]  # deterministic pkids


def test_writer_output_does_not_depend_on_its_chunking(tmp_path, monkeypatch):
    import collector.simulate.cucm_and_canonical_csv as writers

    whole = write_cucm_files(known_calls(), tmp_path / "whole", minutes_per_file=60)
    monkeypatch.setattr(writers, "_CHUNK_ROWS", 2)  # files now span several chunks and are appended to
    chunked = write_cucm_files(known_calls(), tmp_path / "chunked", minutes_per_file=60)
    assert [p.name for p in chunked] == [p.name for p in whole]
    assert [p.read_bytes() for p in chunked] == [p.read_bytes() for p in whole]
