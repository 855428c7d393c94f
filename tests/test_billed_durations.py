"""What each connector bills: which vendor duration field, and whether ring, hold and park are inside it.

One test per row of the table in ``docs/connectors.md`` ("Billed time, connector by connector"), each on a
real record (``../shared/samples``) or a documented one (``tests/data``, the reference's tables).  The
billed time is ``duration_s``; the carrier bills from answer to release, so whatever held the line in
between (hold, park) is billed and ringing before answer is not.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from collector.connectors.asterisk import AsteriskConnector
from collector.connectors.avaya import AvayaConnector
from collector.connectors.base import PbxContext
from collector.connectors.cucm import CucmConnector
from collector.connectors.freeswitch import FreeswitchConnector
from collector.connectors.smdr import SmdrConnector

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def samples(shared_dir) -> Path:
    return shared_dir / "samples"


def _ctx(**options) -> PbxContext:
    return PbxContext("p", "NYC", "America/New_York", options=options)


def test_cucm_bills_duration_connect_to_disconnect_not_the_ring(samples):
    """``duration`` = dateTimeDisconnect − dateTimeConnect (Cisco's field definition; a held call stays
    connected inside its CDR); connect − origination is ring time, not billed."""
    path = samples / "cucm" / "cdr_StandAloneCluster_02_202112131408_515359"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))[1:]  # line 2 is the type line
    calls = {c["call_id"]: c for c in CucmConnector(_ctx()).parse(path.read_bytes(), str(path)).calls.to_pylist()}
    answered = [r for r in rows if int(r["dateTimeConnect"])]
    assert answered
    for r in answered:
        call = calls[f"p:{r['pkid']}"]
        assert int(r["duration"]) == int(r["dateTimeDisconnect"]) - int(r["dateTimeConnect"])
        assert call["duration_s"] == int(r["duration"])
        assert call["ring_s"] == int(r["dateTimeConnect"]) - int(r["dateTimeOrigination"])


def test_asterisk_bills_billsec_answer_to_end_and_duration_includes_the_ring(samples):
    path = samples / "asterisk-cdr_csv" / "Master.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(errors="replace"))))
    calls = AsteriskConnector(_ctx(usegmtime=True)).parse(path.read_bytes(), str(path)).calls.to_pylist()
    stamp = "%Y-%m-%d %H:%M:%S"
    for row, call in zip(rows, calls):
        start, answer, end = (datetime.strptime(row[k], stamp) if row[k] else None for k in (9, 10, 11))
        duration, billsec = int(row[12]), int(row[13])
        # Asterisk subtracts microsecond times and prints whole seconds: within a second of the stamps
        assert abs(duration - (end - start).total_seconds()) <= 1  # start → end: ring included
        if answer is not None:
            assert abs(billsec - (end - answer).total_seconds()) <= 1  # answer → end
        assert call["duration_s"] == (billsec if row[14] == "ANSWERED" else 0)


def test_freeswitch_bills_billsec_hangup_minus_answer(samples):
    path = samples / "freeswitch-cdr_csv" / "Master.csv"
    rows = list(csv.reader(io.StringIO(path.read_text())))
    calls = FreeswitchConnector(_ctx()).parse(path.read_bytes(), str(path)).calls.to_pylist()
    stamp = "%Y-%m-%d %H:%M:%S"
    checked = 0
    for row, call in zip(rows, calls):
        if row[5]:  # answered
            assert int(row[8]) == (datetime.strptime(row[6], stamp) - datetime.strptime(row[5], stamp)).total_seconds()
            assert int(row[7]) == (datetime.strptime(row[6], stamp) - datetime.strptime(row[4], stamp)).total_seconds()
            checked += 1
        assert call["duration_s"] == int(row[8])
    assert checked


def test_ip_office_bills_connected_plus_hold_plus_park_never_the_ring():
    """Avaya's "Call Transferred to Voicemail" record: 7 s ring, 13 s connected, 11 s held."""
    path = DATA / "ipo" / "avaya_smdr_examples.txt"
    ipo = SmdrConnector(PbxContext("p", "LON", "Europe/London", options={"layout": "ipo"}))
    held = ipo.parse(path.read_bytes(), str(path)).calls.to_pylist()[2]
    assert (held["duration_s"], held["ring_s"]) == (13 + 11, 7)


def test_avaya_cm_bills_the_record_duration_except_a_call_abandoned_while_ringing():
    """Condition H: "ringing call abandoned, duration = ring time until abandon" (reference §1.5): not billed."""
    def teleseer(hhmm: str, hmmt: str, cond: str, dialed: str, calling: str, used: str = "") -> str:
        return f"   {hhmm}{hmmt}{cond}   {used:>3}{dialed:<15}{calling:>5}".ljust(76)

    data = "\r\n".join(["1005", teleseer("1304", "0023", "7", "912125550123", "1001", "701"),
                        teleseer("1305", "0006", "H", "1002", "55501", "702")]) + "\r\n"
    cm = AvayaConnector(PbxContext("p", "NYC", "America/New_York",
                                   options={"layout": "teleseer", "reference_date": "2026-10-05"}))
    out, abandoned = cm.parse(data.encode(), "cdr1").calls.to_pylist()
    assert out["duration_s"] == 2 * 60 + 3 * 6  # H MM T: 0 h 02 min 3 tenths
    assert (abandoned["duration_s"], abandoned["disposition"]) == (0, "no_answer")


def test_nec_bills_talk_start_to_end(samples):
    """Section 06 holds the talk start and end (ms cut); NEC has no ring field."""
    path = samples / "nec-smdr" / "KKrecord.smdr"
    kk = SmdrConnector(_ctx(layout="nec")).parse(path.read_bytes(), str(path)).calls.to_pylist()[0]
    assert kk["duration_s"] == 3661 and kk["duration_s"] == (kk["end_utc"] - kk["start_utc"]).total_seconds()


def test_panasonic_bills_duration_not_the_ring_column():
    """The reference's pattern-A example line: Ring 0'05, Duration 00:02'13."""
    line = b"01/15/24 10:15AM   101 01 <I>0123456789             0'05 00:02'13          AN\r\n"
    row = SmdrConnector(_ctx(layout="panasonic")).parse(line, "com1").calls.to_pylist()[0]
    assert (row["duration_s"], row["ring_s"]) == (133, 5)


def test_hipath_bills_the_duration_seconds_column():
    """GetAccount positions 29–33 (seconds) and 34–41 (hh:mm:ss) are the same duration; the first is billed."""
    rec = f"15.01.2410:15:30{'1':>3}{'1':>3}{'201':<6}{133:>5}00:02:13{'004930123456':<25}{'0':>11}2{'':<11}{'':<11}{'':<9}"
    assert len(rec) == 109
    row = SmdrConnector(_ctx(layout="hipath")).parse(rec.encode() + b"\r\n", "v24").calls.to_pylist()[0]
    assert row["duration_s"] == 133
    assert (row["end_utc"] - row["start_utc"]).total_seconds() == 133  # the record time is the end


def test_canonical_csv_bills_duration_s_as_given_even_when_answer_and_end_say_more():
    """SPEC §6: ``duration_s`` is the talk seconds; the times around it are not used to recompute it."""
    from collector.connectors.canonical_csv import CanonicalCsvConnector

    data = (b"call_id,start_utc,answer_utc,end_utc,duration_s,calling_number,called_number\n"
            b"c1,2026-10-05T09:00:00Z,2026-10-05T09:00:10Z,2026-10-05T09:02:10Z,95,2001,900442071234567\n")
    row = CanonicalCsvConnector(PbxContext("lon-csv", "LON", "Europe/London")).parse(data, "x").calls.to_pylist()[0]
    assert row["duration_s"] == 95
