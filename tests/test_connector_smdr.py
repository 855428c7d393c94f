"""The SMDR connector: NEC flexible records (real samples), Panasonic, HiPath and IP Office layouts as data.

The three NEC records are the only public SMDR capture (``shared/samples/nec-smdr``); the other layouts
are checked on records written by hand from the reference's column tables (§4) and on generated traffic.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from collector.connectors.base import PbxContext, connector_for
from collector.connectors.smdr import SmdrConnector, _walk_sections
from collector.connectors.smdr_layouts import NEC
from collector.simulate.traffic import generate_traffic
from collector.simulate.record_formats import trunk_access_codes, write_smdr
from warehouse.config import load_config
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

SAMPLE_ENT = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"
TZ = "America/New_York"


def _smdr(layout, **options) -> SmdrConnector:
    return SmdrConnector(PbxContext("pbx", "NYC", TZ, options={"layout": layout, **options}))


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def nec_dir(shared_dir) -> Path:
    return shared_dir / "samples" / "nec-smdr"


# --- NEC flexible format: the real records ------------------------------------------------------------------

def test_every_nec_sample_parses_hand_checked(nec_dir):
    files = sorted(nec_dir.glob("*.smdr"))
    assert [p.name for p in files] == ["KKrecord.smdr", "KLrecord.smdr", "KMrecord.smdr"]
    rows = {}
    for path in files:
        result = _smdr("nec").parse(path.read_bytes(), str(path))
        assert (result.records_seen, result.calls.num_rows, result.quarantined) == (1, 1, [])
        assert result.calls.schema == PARSED_SCHEMA
        rows[path.name[:2]] = result.calls.to_pylist()[0]
    kk, kl, km = rows["KK"], rows["KL"], rows["KM"]
    # KK outgoing: station 20001 dialled 17325551212 on route 010, 12:00:00 → 13:01:01 local (EDT)
    assert (kk["direction"], kk["extension"], kk["calling_number"], kk["called_number"], kk["trunk"]) == (
        "outbound", "20001", "20001", "17325551212", "010")
    assert (kk["start_utc"], kk["end_utc"], kk["duration_s"]) == (_utc(2018, 7, 7, 16), _utc(2018, 7, 7, 17, 1, 1), 3661)
    assert (kk["account_code"], kk["cause_code"], kk["raw_ref"]) == ("7325551212", "012", f"{files[0]}@1")
    # KL incoming on route 001 to station 20000 from 17325551212; milliseconds cut (41.398 → 48.738: 7 s)
    assert (kl["direction"], kl["extension"], kl["calling_number"], kl["trunk"]) == (
        "inbound", "20000", "17325551212", "001")
    assert (kl["start_utc"], kl["duration_s"]) == (_utc(2019, 9, 9, 1, 57, 41), 7)
    # KM station to station: 20000 → 20001, no trunk
    assert (km["direction"], km["extension"], km["trunk"], km["duration_s"]) == ("internal", "20000", None, 7)


def test_nec_section_lengths_that_disagree_with_their_data(nec_dir):
    """KK declares section 03 as 8 characters but carries 11; KM's account is one shorter than declared;
    KL's last section declares 34 and carries 17.  The walk finds the one consistent reading of each."""
    body = (nec_dir / "KKrecord.smdr").read_bytes().decode()[5:-1]
    row: dict[str, str] = {}
    assert _walk_sections(body, NEC["sections"], row)
    assert (row["03.number"], row["06.start"], row["16.number"], row["18.route_maid"]) == (
        "20001", "20180707120000001", "17325551212", "09875")
    km: dict[str, str] = {}
    assert _walk_sections((nec_dir / "KMrecord.smdr").read_bytes().decode()[5:-1], NEC["sections"], km)
    assert (km["07.account"], km["10.dialled"]) == ("735551212", "7325551212")
    kl: dict[str, str] = {}
    assert _walk_sections((nec_dir / "KLrecord.smdr").read_bytes().decode()[5:-1], NEC["sections"], kl)
    assert kl["19.received"] == "20170101000000001"


def test_nec_tcp_stream_frames_partial_frame_and_a_bad_frame_between_good_ones(nec_dir):
    kk, kl, km = (p.read_bytes() for p in sorted(nec_dir.glob("*.smdr")))
    bad = b"\x020!KK99garbage\x03"
    stream = kk + bad + kl + km
    nec = _smdr("nec")
    # a live read that ends inside the last frame keeps it for the next read
    cut = len(stream) - 10
    assert nec.complete_prefix(stream[:cut]) == len(kk + bad + kl)
    result = nec.parse(stream, "tcp:pbx")
    assert result.records_seen == 4 and result.calls.num_rows == 3
    [q] = result.quarantined
    assert (q.line, q.offset, q.raw) == (2, len(kk) + 1, bad[1:-1])  # frame 2, after its STX
    assert "sections" in q.reason
    # framed records have no lines: raw_ref is the byte offset of each record (after its STX)
    assert result.calls["raw_ref"].to_pylist() == [
        "tcp:pbx@1", f"tcp:pbx@{len(kk + bad) + 1}", f"tcp:pbx@{len(kk + bad + kl) + 1}"]
    again = _smdr("nec").parse(stream, "tcp:pbx")
    assert again.calls["call_id"].equals(result.calls["call_id"])  # replay gives the same ids


# --- Panasonic, HiPath, IP Office: hand-made records from the reference's tables -----------------------------

PANASONIC_LINES = [
    "  Date     Time    Ext CO        Dial Number        Ring Duration  Acc code  CD",
    "--------------------------------------------------------------------------------",
    "01/15/24 10:15AM   101 01 <I>0123456789             0'05 00:02'13          AN",
    "01/15/24 10:20AM   102 02 90442079460000            0'07 00:10'00 4711      AN",
    "01/15/24 10:2XAM   102 02 90442079460000            0'07 00:10'00           AN",
    "01/15/24 11:02PM   103    EXT104                    0'03 00:00'40          AN",
]


def test_panasonic_pattern_a_hand_made_lines():
    data = ("\r\n".join(PANASONIC_LINES) + "\r\n").encode()
    result = _smdr("panasonic").parse(data, "com1")
    assert result.records_seen == 4  # header and separator lines are not records
    assert [(q.line, q.field) for q in result.quarantined] == [(5, None)]
    inc, out, ext = result.calls.to_pylist()
    assert (inc["direction"], inc["calling_number"], inc["called_number"], inc["extension"], inc["trunk"]) == (
        "inbound", "0123456789", "101", "101", "01")
    # the time is the call's end (10:15 EST = 15:15 UTC); 2'13 of talk; ring 0'05
    assert (inc["end_utc"], inc["start_utc"], inc["duration_s"], inc["ring_s"]) == (
        _utc(2024, 1, 15, 15, 15), _utc(2024, 1, 15, 15, 12, 47), 133, 5)
    assert (out["direction"], out["called_number"], out["account_code"], out["cause_code"]) == (
        "outbound", "90442079460000", "4711", "AN")
    assert (ext["direction"], ext["called_number"], ext["trunk"], ext["end_utc"]) == (
        "internal", "104", None, _utc(2024, 1, 16, 4, 2))
    assert "ring_s" in _smdr("panasonic").fields and "answer_utc" not in _smdr("panasonic").fields


def test_panasonic_day_first_dates_per_site():
    line = PANASONIC_LINES[2].replace("01/15/24", "15/01/24")
    row = _smdr("panasonic", date_format="%d/%m/%y").parse(line.encode(), "x").calls.to_pylist()[0]
    assert row["end_utc"] == _utc(2024, 1, 15, 15, 15)


def test_hipath_fixed_columns_hand_made():
    def rec(date, time, trunk, ext, secs, number, call_type, account=""):
        hms = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        return (f"{date}{time}{trunk:>3}{'1':>3}{ext:<6}{secs:>5}{hms}{number:<25}{'0':>11}{call_type}"
                f"{account:<11}{'':<11}{'':<5}{'':<4}")

    lines = [rec("15.01.24", "10:15:30", "1", "201", 133, "004930123456", "2", "77"),
             rec("15.01.24", "10:16:00", "2", "202", 20, "01701234567", "1"),
             rec("15.01.24", "10:17:00", "2", "202", 20, "01701234567", "1")[:50]]
    assert len(lines[0]) == 109
    result = _smdr("hipath").parse(("\r\n".join(lines) + "\r\n").encode(), "v24")
    out, inc = result.calls.to_pylist()
    assert [(q.line, q.field) for q in result.quarantined] == [(3, None)]
    assert (out["end_utc"], out["start_utc"], out["duration_s"]) == (
        _utc(2024, 1, 15, 15, 15, 30), _utc(2024, 1, 15, 15, 13, 17), 133)
    assert (out["direction"], out["called_number"], out["calling_number"], out["trunk"], out["account_code"]) == (
        "outbound", "004930123456", "201", "1", "77")
    assert (inc["direction"], inc["calling_number"], inc["called_number"]) == ("inbound", "01701234567", "202")


IPO_LINES = [
    "2024/01/15 10:15:02,00:02:13,5,201,O,0123456789,0123456789,ACC1,0,1000017,0,E201,Extn201,T9001,Line 1.1,"
    "0,0,n/a,,,,,,,,,,,,",
    "2024/01/15 10:20:00,00:00:00,12,07700900123,I,203,203,,0,1000018,0,T9002,Line 2.1,E203,Extn203,0,0,n/a,,,,,,,,,,,,",
    "2024/01/15 10:21:00,00:01:00,2,201,O,202,202,,1,1000019,0,E201,Extn201,E202,Extn202,0,0,n/a,,,,,,,,,,,,",
    "2024/01/15 10:22:00,01:00,2,201,O,202,202,,1,1000020,0,E201,Extn201,E202,Extn202,0,0,n/a,,,,,,,,,,,,",
]


def test_ip_office_csv_hand_made():
    result = _smdr("ipo").parse(("\r\n".join(IPO_LINES) + "\r\n").encode(), "tcp:ipo")
    assert [(q.line, q.field) for q in result.quarantined] == [(4, "duration")]
    out, inc, internal = result.calls.to_pylist()
    assert (out["start_utc"], out["answer_utc"], out["end_utc"], out["duration_s"], out["ring_s"]) == (
        _utc(2024, 1, 15, 15, 15, 2), _utc(2024, 1, 15, 15, 15, 7), _utc(2024, 1, 15, 15, 17, 20), 133, 5)
    assert (out["direction"], out["extension"], out["trunk"], out["account_code"], out["chain_id"]) == (
        "outbound", "201", "T9001", "ACC1", "1000017")
    assert (inc["direction"], inc["extension"], inc["trunk"], inc["disposition"], inc["answer_utc"]) == (
        "inbound", "203", "T9002", "no_answer", None)
    assert (internal["direction"], internal["trunk"], internal["called_number"]) == ("internal", None, "202")
    assert out["call_id"] == "pbx:1000017|2024/01/15 10:15:02|E201|T9001|0"


def test_inline_layout_from_the_configuration():
    """A site's own printer format is a [[pbx]] table with the same keys as the shipped layouts."""
    layout = {"kind": "regex", "framing": "line", "name": "mitel-lite",
              "pattern": r"^(?P<d>\d\d/\d\d) (?P<t>\d\d:\d\d) (?P<dur>\d\d:\d\d:\d\d) (?P<ext>\d+) (?P<num>\S+)$",
              "roles": {"start_date": ["d"], "start_time": ["t"], "duration": ["dur"], "extension": ["ext"],
                        "number": ["num"]},
              "date_format": "%m/%d", "time_format": "%H:%M", "duration_format": "hh:mm:ss",
              "default_direction": "outbound"}
    row = _smdr(layout).parse(b"01/15 10:15 00:01:05 201 912125550123\n", "x").calls.to_pylist()[0]
    assert (row["duration_s"], row["called_number"], row["calling_number"]) == (65, "912125550123", "201")


def test_configuration_errors_name_the_key():
    with pytest.raises(ConfigError) as err:
        _smdr("mitel")
    assert err.value.field == "layout" and "panasonic" in str(err.value)
    with pytest.raises(ConfigError):
        SmdrConnector(PbxContext("p", "X", "UTC"))
    with pytest.raises(ConfigError) as err:
        _smdr({"kind": "regex", "pattern": "(", "roles": {"start": ["x"]}})
    assert err.value.field == "layout.pattern"
    with pytest.raises(ConfigError):
        _smdr({"kind": "fixed", "roles": {"duration": ["x"]}})  # no time at all


# --- generated traffic through every layout ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def traffic() -> pa.Table:
    calls = generate_traffic(load_config(SAMPLE_ENT), calls=1_500, seed=12)
    start = pc.cast(calls["start_utc"], pa.int64()).to_numpy()
    end = pc.cast(calls["end_utc"], pa.int64()).to_numpy()
    return calls.take(pa.array(np.lexsort((start, end))))  # the order SMDR prints calls in


@pytest.mark.parametrize("layout", ["ipo", "hipath", "panasonic", "nec"])
def test_round_trip_of_generated_traffic(layout, traffic, tmp_path):
    path = write_smdr(traffic, tmp_path / f"{layout}.smdr", layout=layout, timezone=TZ)
    result = _smdr(layout).parse(path.read_bytes(), str(path))
    assert result.quarantined == [] and result.records_seen == traffic.num_rows
    got, src = result.calls, traffic
    answered = np.array(src["disposition"].to_pylist()) == "answered"
    talk = np.where(answered, src["duration_s"].to_numpy(), 0)
    assert got["duration_s"].to_numpy().tolist() == talk.tolist()
    end = pc.cast(src["end_utc"], pa.int64()).to_numpy()
    start_expected = {
        "ipo": pc.cast(src["start_utc"], pa.int64()).to_numpy(),  # IP Office prints the start
        "hipath": end - talk,  # end to the second, duration
        "panasonic": end // 60 * 60 - talk,  # end to the minute
        "nec": np.where(answered, end - talk, end),  # talk time only
    }[layout]
    assert pc.cast(got["start_utc"], pa.int64()).to_numpy().tolist() == start_expected.tolist()
    assert got["extension"].to_pylist() == src["extension"].to_pylist()
    numbers = trunk_access_codes(traffic, first=1)
    trunks = [None if not t else f"T{t}" if layout == "ipo" else numbers[t].rjust(3 if layout == "nec" else 2, "0")
              if layout != "hipath" else numbers[t] for t in src["trunk"].to_pylist()]
    if layout == "panasonic":
        trunks = [t if t else None for t in trunks]
    assert got["trunk"].to_pylist() == trunks
    assert len(set(got["call_id"].to_pylist())) == got.num_rows


@pytest.mark.parametrize("layout", ["hipath", "panasonic"])
def test_redials_read_in_pieces_keep_the_ids_of_one_parse(layout, traffic, tmp_path):
    """A serial/TCP stream arrives in pieces: identical lines (a redial printed twice) are numbered along
    the stream's own connector instance, so a pair cut apart keeps the ids one parse of the stream gives.
    (IP Office records carry a call id: theirs are not counted along the stream.)"""
    lines = write_smdr(traffic.slice(0, 300), tmp_path / "s.smdr", layout=layout, timezone=TZ).read_bytes()
    lines = lines.splitlines(keepends=True)
    data = b"".join(line for k, line in enumerate(lines) for _ in range(2 if k % 7 == 3 else 1))
    whole = _smdr(layout).parse(data, "serial")
    assert whole.quarantined == [] and len(set(whole.calls["call_id"].to_pylist())) == whole.calls.num_rows
    stream = _smdr(layout).for_stream()
    rng = np.random.default_rng(7)
    buffer, got, pos = b"", [], 0
    while pos < len(data):
        step = int(rng.integers(1, 400))
        buffer, pos = buffer + data[pos:pos + step], pos + step
        n = stream.complete_prefix(buffer)
        if n:
            got.append(stream.parse(buffer[:n], "serial").calls)
            buffer = buffer[n:]
    assert not buffer
    assert pa.concat_tables(got)["call_id"].equals(whole.calls["call_id"])


def test_connector_is_registered_under_its_type():
    assert isinstance(connector_for("smdr", PbxContext("p", "X", "UTC", options={"layout": "nec"})), SmdrConnector)


@pytest.mark.parametrize("kind,options", [
    ("avaya", {"fields": "yaacc"}), ("avaya", {"layout": "teleseer", "reference_date": "2026-10-15"}),
    ("asterisk", {"columns": "cdr_custom", "trunk_channels": ["SIP/*-PSTN-*"]}),
    ("asterisk", {"usegmtime": True, "loguniqueid": True, "loguserfield": False, "newcdrcolumns": False}),
    ("freeswitch", {"template": "asterisk"}), ("smdr", {"layout": "hipath"}), ("smdr", {"layout": "nec"}),
])
def test_demo_writers_follow_the_pbx_options(kind, options, traffic, tmp_path):
    """The demo hook writes what the configured connector reads, whatever layout the PBX is set to."""
    from collector.connectors.base import registered_connectors
    from collector.simulate.demo_files import WRITERS
    from warehouse.config import Pbx

    ent = load_config(SAMPLE_ENT)
    pbx = Pbx(id="demo", type=kind, site="NYC", source="folder:x", options=options)
    [path] = WRITERS[kind](traffic, tmp_path, pbx, ent)
    tz = ent.sites["NYC"].timezone
    result = registered_connectors()[kind](PbxContext("demo", "NYC", tz, options=options)).parse(
        path.read_bytes(), str(path))
    assert result.quarantined == [] and result.calls.num_rows == traffic.num_rows
