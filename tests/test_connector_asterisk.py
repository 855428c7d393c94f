"""The Asterisk connector on the real cdr_csv (21 columns, GMT) and cdr_custom (legacy 19 columns) files.

Both samples carry their own clock check: ``uniqueid`` starts with the epoch second the channel was
created, so a start time read in the right zone equals it — GMT for the cdr_csv sample
(``usegmtime=yes``), UTC+3 (Madagascar, where the cdr_custom sample comes from) for cdr_custom.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from collector.connectors.asterisk import AsteriskConnector, cdr_csv_columns
from collector.connectors.base import PbxContext, connector_for
from collector.simulate.traffic import generate_traffic
from collector.simulate.record_formats import write_asterisk
from warehouse.config import load_config
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

SAMPLE_ENT = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"
STADION = {"usegmtime": True, "trunk_channels": ["SIP/211474", "SIP/211553"], "inbound_contexts": ["*-pstn"]}


@pytest.fixture(scope="module")
def cdr_csv(shared_dir) -> Path:
    return shared_dir / "samples" / "asterisk-cdr_csv" / "Master.csv"


@pytest.fixture(scope="module")
def cdr_custom(shared_dir) -> Path:
    return shared_dir / "samples" / "asterisk-cdr_custom" / "Master.csv"


def _parse(path: Path, data: bytes | None = None, tz: str = "Europe/Moscow", **options):
    connector = AsteriskConnector(PbxContext("ast", "MSK", tz, options=options))
    return connector.parse(path.read_bytes() if data is None else data, str(path))


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _uniqueid_epoch(calls: pa.Table) -> list[int]:
    return [int(c.split(":", 1)[1].split(".")[0]) for c in calls["call_id"].to_pylist()]


def test_cdr_csv_sample_21_columns_in_gmt(cdr_csv):
    result = _parse(cdr_csv, **STADION)
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (30, 30, [])
    calls = result.calls
    assert calls.schema == PARSED_SCHEMA
    first = calls.to_pylist()[0]
    assert first["call_id"] == "ast:1706368044.0|0"
    assert (first["start_utc"], first["answer_utc"], first["end_utc"]) == (
        _utc(2024, 1, 27, 15, 7, 24), _utc(2024, 1, 27, 15, 7, 24), _utc(2024, 1, 27, 15, 7, 51))
    assert (first["duration_s"], first["ring_s"], first["disposition"]) == (27, 0, "answered")
    assert (first["calling_number"], first["called_number"], first["extension"]) == ("89245555937", "211474", "211474")
    assert (first["direction"], first["trunk"], first["chain_id"]) == ("inbound", "SIP/211474", "1706368044.0")
    # the GMT clock agrees with the channel-creation second in uniqueid (later Dial attempts start later)
    start = pc.cast(calls["start_utc"], pa.int64()).to_pylist()
    created = _uniqueid_epoch(calls)
    assert all(s >= c for s, c in zip(start, created)) and sum(s == c for s, c in zip(start, created)) >= 25
    # row 7: a forked Dial leg that rang out — empty *unquoted* answer field, talk 0, ring = whole leg
    leg = calls.to_pylist()[6]
    assert (leg["answer_utc"], leg["duration_s"], leg["ring_s"], leg["disposition"]) == (None, 0, 15, "no_answer")
    assert (leg["chain_id"], leg["direction"]) == ("1706372196.12", "internal")  # Local/ channel, TimeDelay context
    # a NO ANSWER Dial on an already answered channel: billsec 60, but no talk on this leg
    assert calls.to_pylist()[3]["duration_s"] == 0
    assert len(set(calls["call_id"].to_pylist())) == 30
    assert calls["raw_ref"][29].as_py() == f"{cdr_csv}:30"


def test_cdr_custom_sample_legacy_mapping_local_time(cdr_custom):
    result = _parse(cdr_custom, tz="Indian/Antananarivo", columns="cdr_custom")
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (14, 14, [])
    calls = result.calls
    # local UTC+3: every start equals its uniqueid's epoch second
    assert pc.cast(calls["start_utc"], pa.int64()).to_pylist() == _uniqueid_epoch(calls)
    first, second = calls.to_pylist()[:2]
    assert (first["calling_number"], first["called_number"], first["duration_s"], first["ring_s"]) == (
        "client1", "6789", 13, 18)
    assert first["start_utc"] == _utc(2023, 7, 25, 22, 51, 32) and first["end_utc"] == _utc(2023, 7, 25, 22, 52, 4)
    assert (second["answer_utc"], second["disposition"]) == (None, "no_answer")  # "" answer: quoted empty
    assert first["direction"] is None and first["trunk"] is None  # no trunk_channels configured: left open


@pytest.mark.parametrize("width", [16, 17, 18, 19, 21])
def test_column_count_selects_the_documented_cdr_csv_layout(cdr_csv, width, tmp_path):
    rows = list(csv.reader(io.StringIO(cdr_csv.read_text())))
    full = cdr_csv_columns(True, True, True)
    flags = {16: (0, 0, 0), 17: (1, 0, 0), 18: (1, 1, 0), 19: (0, 0, 1), 21: (1, 1, 1)}[width]
    cols = cdr_csv_columns(*map(bool, flags))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[full.index(c)] for c in cols] for r in rows])
    result = _parse(cdr_csv, out.getvalue().encode(), **STADION)
    assert result.quarantined == [] and result.calls.num_rows == 30
    reference = _parse(cdr_csv, **STADION).calls
    for name in ("start_utc", "answer_utc", "end_utc", "duration_s", "calling_number", "called_number", "direction"):
        assert result.calls[name].equals(reference[name]), name
    # the flags, when configured, override the count
    explicit = _parse(cdr_csv, out.getvalue().encode(), loguniqueid=bool(flags[0]), loguserfield=bool(flags[1]),
                      newcdrcolumns=bool(flags[2]), **STADION)
    assert explicit.calls["start_utc"].equals(reference["start_utc"])


def test_malformed_rows_between_good_ones(cdr_csv):
    lines = cdr_csv.read_bytes().split(b"\n")
    bad_time = lines[1].replace(b"2024-01-27 15:27:58", b"2024-13-27 15:27:58", 1)
    bad_billsec = lines[2].replace(b",10,10,", b",10,x,", 1)
    damaged = b"\n".join([lines[0], bad_time, b'"short","row"', bad_billsec, lines[3],
                          lines[4].replace(b"2024-01-27 15:33:50", b"yesterday")] + lines[5:])
    result = _parse(cdr_csv, damaged, **STADION)
    assert result.records_seen == 31 and result.calls.num_rows == 27
    got = [(q.line, q.field) for q in result.quarantined]
    assert got == [(2, "start"), (3, None), (4, "billsec"), (6, "end")]
    assert "2024-13-27" in result.quarantined[0].reason and "'x'" in result.quarantined[2].reason
    assert result.quarantined[1].raw == b'"short","row"'
    assert result.calls["raw_ref"][:2].to_pylist() == [f"{cdr_csv}:1", f"{cdr_csv}:5"]


def test_bytes_that_are_not_utf8_are_read_leniently(cdr_csv):
    data = cdr_csv.read_bytes().replace(b'"""89245555937"" <89245555937>"', b'"Jos\xe9 <89245555937>"', 1)
    result = _parse(cdr_csv, data, **STADION)
    assert result.quarantined == [] and result.calls.num_rows == 30


def test_configuration_errors():
    with pytest.raises(ConfigError) as err:
        AsteriskConnector(PbxContext("a", "X", "UTC", options={"columns": ["src", "dst", "answer"]}))
    assert err.value.field == "columns" and "start" in str(err.value)
    with pytest.raises(ConfigError):
        AsteriskConnector(PbxContext("a", "X", "UTC", options={"columns": "cdr_json"}))


@pytest.mark.parametrize("usegmtime", [False, True])
def test_round_trip_of_generated_traffic(usegmtime, tmp_path):
    traffic = generate_traffic(load_config(SAMPLE_ENT), calls=2_000, seed=8)
    tz = "Europe/London"
    path = write_asterisk(traffic, tmp_path / "Master.csv", timezone=tz, usegmtime=usegmtime)
    result = AsteriskConnector(PbxContext("ast", "LON", tz, options={
        "usegmtime": usegmtime, "trunk_channels": ["SIP/*-PSTN-*", "SIP/SIP-ONNET-*"]})).parse(path.read_bytes(), str(path))
    assert result.quarantined == [] and result.calls.num_rows == traffic.num_rows
    start = pc.cast(traffic["start_utc"], pa.int64()).to_numpy()
    end = pc.cast(traffic["end_utc"], pa.int64()).to_numpy()
    src = traffic.take(pa.array(np.lexsort((start, end))))
    got = result.calls
    for name in ("start_utc", "answer_utc", "end_utc", "duration_s", "ring_s", "calling_number", "called_number",
                 "disposition", "account_code", "trunk"):
        expected = src[name] if name != "trunk" else pc.binary_join_element_wise("SIP/", src["trunk"], "")
        assert got[name].to_pylist() == expected.to_pylist(), name
    assert got["direction"].to_pylist() == ["outbound" if d == "internal" and t else d for d, t in
                                            zip(src["direction"].to_pylist(), src["trunk"].to_pylist())]


def test_connector_is_registered_under_its_type():
    assert isinstance(connector_for("asterisk", PbxContext("a", "X", "UTC")), AsteriskConnector)
