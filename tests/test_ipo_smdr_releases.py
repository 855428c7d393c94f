"""Avaya IP Office SMDR of every release (issue 15, defects 2, 3 and 5), from ``tests/data/ipo``.

``avaya_smdr_examples.txt`` holds the records of Avaya's "SMDR Examples" page verbatim; the ``rN_*``
files the same three calls in the 30, 34, 35 and 37 fields of the R8, R9, R11 and R12 field lists; a
logging tool's header line heads ``logger_with_header.csv`` (sources: ``tests/data/README.md``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.connectors.base import PbxContext
from collector.connectors.smdr import SmdrConnector

DATA = Path(__file__).parent / "data" / "ipo"
TZ = "Europe/London"
RELEASES = {"r8_30_fields.csv": 30, "r9_34_fields.csv": 34, "r11_35_fields.csv": 35, "r12_37_fields.csv": 37}


def _ipo(**ctx) -> SmdrConnector:
    return SmdrConnector(PbxContext("ipo", "LON", TZ, options={"layout": "ipo"}, **ctx))


def _parse(name: str, **ctx):
    path = DATA / name
    return _ipo(**ctx).parse(path.read_bytes(), str(path))


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(TZ)).astimezone(timezone.utc)


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_every_released_field_count_is_read(name):
    """R9+ records (34 fields and more) were all quarantined as "34 fields, expected 30"."""
    result = _parse(name)
    assert result.quarantined == [] and result.records_seen == 3 and result.calls.num_rows == 3
    assert result.calls["raw_ref"].to_pylist() == [f"{DATA / name}:{n}" for n in (1, 2, 3)]


def test_the_releases_give_the_same_calls():
    got = [_parse(name).calls.drop(["raw_ref"]) for name in sorted(RELEASES)]
    assert all(g.equals(got[0]) for g in got[1:])


def test_a_count_no_release_writes_is_quarantined_naming_the_counts():
    lines = (DATA / "r9_34_fields.csv").read_bytes().splitlines()
    odd = lines[0][: lines[0].rindex(b",")]  # 33 fields: a record cut short
    result = _ipo().parse(b"\r\n".join([odd, lines[1], lines[2]]) + b"\r\n", "tcp:ipo")
    assert [(q.line, q.field) for q in result.quarantined] == [(1, None)]
    assert result.quarantined[0].reason == "33 fields; ipo records have 17, 30, 34, 35 or 37"
    assert result.records_seen == 3 and result.calls.num_rows == 2


def test_a_logging_tools_header_line_is_a_header_not_a_bad_record():
    result = _parse("logger_with_header.csv")
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (3, 3, [])
    assert result.calls["raw_ref"].to_pylist() == [f"{DATA / 'logger_with_header.csv'}:{n}" for n in (2, 3, 4)]


def test_hold_and_park_time_are_billed():
    """Connected Time excludes hold and park; the trunk is held all along, so the carrier bills it."""
    out = _parse("r9_34_fields.csv").calls.to_pylist()[0]
    start = _local(2026, 10, 5, 10, 15, 2)
    assert out["duration_s"] == 133 + 20 + 15
    assert out["answer_utc"] == start + timedelta(seconds=5)
    assert out["end_utc"] == start + timedelta(seconds=5 + 133 + 20 + 15)  # Avaya: connected + ring + hold + park


def test_avaya_documented_records():
    result = _parse("avaya_smdr_examples.txt")
    # "External Call" on Avaya's page has 31 fields (17 and 14 commas), a count no release writes
    assert [(q.line, q.reason) for q in result.quarantined] == [(5, "31 fields; ipo records have 17, 30, 34, 35 or 37")]
    lost, vm, transferred, to_vm, internal = result.calls.to_pylist()
    assert (lost["direction"], lost["disposition"], lost["trunk"]) == ("inbound", "no_answer", "T9161")
    # "Call Answered by Voicemail": extension 15 reaches VM Channel 1, no trunk party
    assert (vm["direction"], vm["trunk"], vm["extension"], vm["duration_s"]) == ("internal", None, "15", 10)
    # "Call Transferred to Voicemail": 13 s connected + 11 s held, then voicemail answers the trunk call
    assert (transferred["direction"], transferred["trunk"], transferred["duration_s"]) == ("inbound", "T9002", 24)
    assert transferred["end_utc"] - transferred["start_utc"] == timedelta(seconds=7 + 13 + 11)
    assert (to_vm["direction"], to_vm["trunk"], to_vm["duration_s"]) == ("inbound", "T9002", 21)
    assert (internal["direction"], internal["trunk"]) == ("internal", None)


def test_voicemail_channels_are_internal_never_a_trunk_call():
    vm = _parse("r12_37_fields.csv").calls.to_pylist()[2]
    assert (vm["direction"], vm["trunk"], vm["extension"], vm["called_number"]) == ("internal", None, "2205", "17")


def test_a_sites_own_voicemail_devices_are_recognised_too():
    line = b"2026/10/05 11:00:00,00:00:30,2,206,O,18,18,,0,1000110,0,E206,Extn206,U700,AutoAttend Main,0,0,0,n/a,,,,,,,,,,,\r\n"
    assert _ipo().parse(line, "x").calls["direction"].to_pylist() == ["outbound"]
    row = _ipo(voicemail_devices=("AutoAttend*",)).parse(line, "x").calls.to_pylist()[0]
    assert (row["direction"], row["trunk"]) == ("internal", None)
