"""The Avaya CM connector: layouts as data, end-time semantics, date records, NUL padding, quarantine.

No genuine CM capture is public (``shared/samples/SOURCES.md``, "Looked for but not copied"), so the
records here are built from the layouts of the reference (§1.3–1.4) by hand — each hand-made record is
checked field by field — and by the project's writer from generated traffic (round trip).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from collector.connectors.avaya import AvayaConnector, parse_sat_screen, resolve_layout
from collector.connectors.avaya_layouts import CUSTOMIZED_PRESETS, STANDARD_LAYOUTS, layout_width
from collector.connectors.base import PbxContext, RepeatCounts, connector_for
from collector.connectors.records import infer_year, occurrence
from collector.simulate.traffic import generate_traffic
from collector.simulate.record_formats import trunk_access_codes, write_avaya
from warehouse.config import load_config
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

TZ = "America/New_York"
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"
#: The sszokoly customized record (reference §1.4 B), 95 characters before CR LF.
SSZOKOLY = [
    ["date", 6], ["space", 1], ["time", 4], ["space", 1], ["sec-dur", 5], ["space", 1], ["cond-code", 1],
    ["space", 1], ["code-dial", 4], ["space", 1], ["code-used", 4], ["space", 1], ["in-trk-code", 4], ["space", 1],
    ["dialed-num", 18], ["space", 1], ["calling-num", 11], ["space", 1], ["auth-code", 8], ["space", 1],
    ["acct-code", 4], ["space", 1], ["in-crt-id", 3], ["space", 1], ["out-crt-id", 3], ["space", 1], ["vdn", 5],
    ["space", 1], ["frl", 1], ["return", 1], ["line-feed", 1],
]


def _pbx(**options) -> PbxContext:
    return PbxContext("cm1", "NYC", TZ, options=options)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _record(date_: str, time_: str, secs: int, cond: str, dialed: str, calling: str, *, used: str = "",
            in_trk: str = "", acct: str = "", vdn: str = "") -> str:
    """One sszokoly record, laid out column by column as CM pads it (right-adjusted, space filled)."""
    return (f"{date_} {time_} {secs:>5} {cond} {'':>4} {used:>4} {in_trk:>4} {dialed:<18} {calling:>11} "
            f"{'':>8} {acct:>4} {'':>3} {'':>3} {vdn:>5} 0")


def test_layout_tables_have_the_documented_widths():
    assert {k: layout_width(v[0]) for k, v in CUSTOMIZED_PRESETS.items()} == {
        "avayacdrparce": 95, "sszokoly": 95, "yaacc": 114}
    assert STANDARD_LAYOUTS["teleseer"].width == 76
    # the SAT screen list above and the positions of the reference are the same record
    assert tuple((i, n) for i, n in SSZOKOLY if i not in ("return", "line-feed")) == CUSTOMIZED_PRESETS["sszokoly"][0]
    assert len(_record("100526", "1304", 240, "7", "912125550123", "1001")) == 95


def test_hand_made_records_field_by_field():
    data = "\r\n\x00\x00\x00".join([
        _record("100526", "1304", 240, "7", "912125550123", "1001", used="701", acct="42"),
        _record("100526", "1305", 35, "9", "1002", "2125550199", used="702", in_trk="702"),
        _record("100526", "1306", 66, "0", "1003", "1001"),
        _record("100526", "1307", 0, "I", "1001", "1005"),
        _record("100526", "1308", 0, "H", "9011442079460000", "1004", used="701"),
        _record("100526", "1309", 12, "Q", "1003", "1001"),  # a condition code no manual lists
    ]) + "\r\n\x00\x00\x00"
    result = AvayaConnector(_pbx(fields=SSZOKOLY)).parse(data.encode(), "cdr1")
    assert result.quarantined == [] and result.records_seen == 6
    rows = result.calls.to_pylist()
    out, inc, internal, busy, abandoned, unknown = rows
    # the record time is the END (13:04 EDT = 17:04 UTC); start = end - duration
    assert (out["end_utc"], out["start_utc"], out["duration_s"]) == (_utc(2026, 10, 5, 17, 4), _utc(2026, 10, 5, 17, 0), 240)
    assert (out["direction"], out["trunk"], out["calling_number"], out["called_number"], out["extension"]) == (
        "outbound", "701", "1001", "912125550123", "1001")
    assert (out["account_code"], out["cause_code"], out["disposition"], out["raw_ref"]) == ("42", "7", "answered", "cdr1:1")
    assert (inc["direction"], inc["trunk"], inc["calling_number"], inc["extension"]) == (
        "inbound", "702", "2125550199", "1002")
    assert (internal["direction"], internal["trunk"], internal["disposition"]) == ("internal", None, "answered")
    assert (busy["disposition"], busy["duration_s"], busy["cause_code"]) == ("busy", 0, "I")
    assert (abandoned["disposition"], abandoned["direction"]) == ("no_answer", "outbound")
    assert (unknown["cause_code"], unknown["disposition"]) == ("Q", "answered")  # kept, not an error
    assert result.calls.schema == PARSED_SCHEMA
    # lines are counted through the NUL padding: the NULs belong to the previous record
    assert [r["raw_ref"] for r in rows] == [f"cdr1:{k}" for k in range(1, 7)]


def test_malformed_records_between_good_ones_are_quarantined():
    good = [_record("100526", f"13{m:02d}", 60, "7", "912125550123", "1001", used="701") for m in range(4)]
    lines = [good[0], good[1][:40], good[1].replace(" 1301 ", " 1371 "), good[2].replace("   60 ", "   6x "),
             "100526 1303 garbage " + "x" * 60, good[3]]
    result = AvayaConnector(_pbx(fields="sszokoly")).parse(("\r\n\x00".join(lines) + "\r\n").encode(), "tcp:cm1")
    assert result.records_seen == 6 and result.calls.num_rows == 2
    got = [(q.line, q.field) for q in result.quarantined]
    assert got == [(2, None), (3, "time"), (4, "sec-dur"), (5, None)]
    assert "record is 40 characters" in result.quarantined[0].reason
    assert "'1371'" in result.quarantined[1].reason and "'6x'" in result.quarantined[2].reason
    assert result.quarantined[0].raw == good[1][:40].encode()
    offset = len(good[0]) + 3  # CR LF NUL
    assert result.quarantined[0].offset == offset
    assert result.calls["raw_ref"].to_pylist() == ["tcp:cm1:1", "tcp:cm1:6"]


def test_teleseer_with_date_records_year_inference_and_midnight_rollover():
    def teleseer(hhmm: str, hmmt: str, cond: str, dialed: str, calling: str, used: str = "") -> str:
        rec = f"   {hhmm}{hmmt}{cond}   {used:>3}{dialed:<15}{calling:>5}"
        return rec.ljust(76)

    stream = "\r\n\x00\x00\x00".join([
        "1231",  # date record: December 31 (no year)
        teleseer("2358", "0023", "7", "912125550123", "1001", "701"),  # 2 min 18 s (23 tenths)
        teleseer("0002", "1000", "7", "912125550123", "1002", "701"),  # 1 hour: after midnight, no date record
        "0101",
        teleseer("0005", "0010", "9", "1003", "55501", "702"),
    ]) + "\r\n\x00\x00\x00"
    cm = AvayaConnector(_pbx(layout="teleseer", reference_date="2027-01-02"))
    result = cm.parse(stream.encode(), "cdr1")
    assert result.records_seen == 3 and result.quarantined == []  # date records are not call records
    rows = result.calls.to_pylist()
    assert rows[0]["end_utc"] == _utc(2027, 1, 1, 4, 58) and rows[0]["duration_s"] == 138  # Dec 31 2026 EST
    assert rows[0]["start_utc"] == _utc(2027, 1, 1, 4, 55, 42)
    assert rows[1]["end_utc"] == _utc(2027, 1, 1, 5, 2) and rows[1]["duration_s"] == 3600  # rolled over
    assert rows[2]["end_utc"] == _utc(2027, 1, 1, 5, 5) and rows[2]["direction"] == "inbound"
    # the stream goes on in the next read: the connector remembers the date
    more = cm.parse((teleseer("0010", "0001", "7", "912125550123", "1001", "701") + "\r\n").encode(), "cdr1")
    assert more.calls["end_utc"].to_pylist() == [_utc(2027, 1, 1, 5, 10)]


def test_duration_9999_clock_change_is_quarantined_not_guessed():
    rec = ("   1200" + "9999" + "7" + "   701" + "912125550123".ljust(15) + " 1001").ljust(76)
    result = AvayaConnector(_pbx(layout="teleseer", reference_date="2026-10-05")).parse((rec + "\r\n").encode(), "x")
    assert [(q.field, q.line) for q in result.quarantined] == [("duration", 1)]
    assert "clock changed" in result.quarantined[0].reason


def test_ddmm_date_format_and_sat_screen_layout():
    screen = """display system-parameters cdr                       Page   2 of   2
                            CDR SYSTEM PARAMETERS
     Data Item - Length         Data Item - Length         Data Item - Length
 1: date             - 6    5: sec-dur          - 5    9: calling-num      - 10
 2: space            - 1    6: space            - 1   10: return           - 1
 3: time             - 4    7: dialed-num       - 12  11: line-feed        - 1
 4: space            - 1    8: space            - 1   12:                  -
"""
    items = parse_sat_screen(screen)
    assert items[:3] == (("date", 6), ("space", 1), ("time", 4)) and items[-1] == ("line-feed", 1)
    cm = AvayaConnector(_pbx(sat_screen=screen, date_format="ddmm"))
    rec = "051026 0930    45 912125550123       1001"
    row = cm.parse((rec + "\r\n").encode(), "x").calls.to_pylist()[0]
    assert row["end_utc"] == _utc(2026, 10, 5, 13, 30) and row["calling_number"] == "1001"
    assert row["direction"] == "internal"  # no condition code, no trunk codes in this layout


def test_configuration_errors_name_the_key():
    with pytest.raises(ConfigError) as err:
        resolve_layout({"layout": "lsu"})
    assert err.value.field == "layout" and "teleseer" in str(err.value)
    with pytest.raises(ConfigError) as err:
        resolve_layout({"fields": [["date", 6], ["sec-dur", 5]]})
    assert "time" in str(err.value)
    with pytest.raises(ConfigError) as err:
        resolve_layout({"fields": [["time", "4"]]})
    assert err.value.field == "fields"
    with pytest.raises(ConfigError):
        resolve_layout({"fields": "nosuchpreset"})
    with pytest.raises(ConfigError):
        resolve_layout({"fields": "yaacc", "date_format": "yymmdd"})
    assert resolve_layout({"fields": "yaacc"})[1] == "ddmm"  # the preset's own date order


def test_year_inference_picks_the_nearest_year():
    years = infer_year(np.array([12, 1, 6]), np.array([31, 2, 15]), date(2027, 1, 1))
    assert years.tolist() == [2026, 2027, 2027]


# --- a generated stream: writer → bytes as CM sends them → connector -----------------------------------------

@pytest.fixture(scope="module")
def traffic() -> pa.Table:
    return generate_traffic(load_config(SAMPLE), calls=3_000, seed=5)


def _end_order(calls: pa.Table) -> pa.Table:
    start = pc.cast(calls["start_utc"], pa.int64()).to_numpy()
    end = pc.cast(calls["end_utc"], pa.int64()).to_numpy()
    return calls.take(pa.array(np.lexsort((start, end))))


def test_generated_stream_round_trip_same_facts(traffic, tmp_path):
    path = write_avaya(traffic, tmp_path / "cdr1.bin", timezone=TZ, fields="yaacc", date_format="ddmm")
    data = path.read_bytes()
    assert data.count(b"\r\n\x00\x00\x00") == traffic.num_rows
    result = AvayaConnector(_pbx(fields="yaacc")).parse(data, str(path))
    assert result.quarantined == [] and result.records_seen == traffic.num_rows
    got, src = result.calls, _end_order(traffic)
    end_minute = pc.floor_temporal(src["end_utc"], unit="minute")
    assert got["end_utc"].to_pylist() == end_minute.to_pylist()
    talk = [d if disp == "answered" else 0 for d, disp in zip(src["duration_s"].to_pylist(), src["disposition"].to_pylist())]
    assert got["duration_s"].to_pylist() == talk
    assert got["calling_number"].to_pylist() == src["calling_number"].to_pylist()
    assert got["called_number"].to_pylist() == src["called_number"].to_pylist()
    assert got["disposition"].to_pylist() == src["disposition"].to_pylist()
    codes = trunk_access_codes(traffic)  # trunk names become the trunk access codes CM reports
    assert got["trunk"].to_pylist() == [codes[t] if t else None for t in src["trunk"].to_pylist()]
    # an on-net call leaves by a tie trunk: CM reports it as outbound (the classifier makes it on-net)
    assert got["direction"].to_pylist() == ["outbound" if d == "internal" and t else d for d, t in
                                            zip(src["direction"].to_pylist(), src["trunk"].to_pylist())]
    assert len(set(got["call_id"].to_pylist())) == got.num_rows


def _with_redials(data: bytes, every: int) -> tuple[bytes, int]:
    """*data* with every *every*-th record sent twice in a row (a busy redial in the same minute gives an
    identical record); returns the stream and how many records it has."""
    records = [r for r in data.split(b"\r\n") if r.strip(b"\0")]
    out = [r for k, r in enumerate(records) for _ in range(2 if k % every == 0 else 1)]
    return b"".join(r + b"\r\n" for r in out), len(out)


def test_stream_read_in_arbitrary_chunks_gives_the_same_calls(traffic, tmp_path):
    """TCP delivers bytes in pieces: complete_prefix keeps a half record (and its NULs) for the next read,
    and identical records (redials) are numbered along the stream, not per piece: a pair cut apart is
    still ``id`` and ``id#1`` — numbered per piece, both would be ``id`` and the second dropped as stored."""
    data = write_avaya(traffic.slice(0, 400), tmp_path / "s.bin", timezone=TZ, fields="sszokoly").read_bytes()
    data, n = _with_redials(data, every=5)
    whole = AvayaConnector(_pbx(fields="sszokoly")).parse(data, "tcp")
    assert whole.calls.num_rows == n and len(set(whole.calls["call_id"].to_pylist())) == n
    cm = AvayaConnector(_pbx(fields="sszokoly")).for_stream()
    rng = np.random.default_rng(1)
    buffer, parts, pos = b"", [], 0
    while pos < len(data):
        step = int(rng.integers(1, 700))
        buffer += data[pos:pos + step]
        pos += step
        n = cm.complete_prefix(buffer)
        if n:
            parts.append(cm.parse(buffer[:n], "tcp"))
            buffer = buffer[n:]
    if buffer:
        parts.append(cm.parse(buffer, "tcp"))
    chunked = pa.concat_tables([p.calls for p in parts])
    assert not [q for p in parts for q in p.quarantined]
    assert chunked["call_id"].to_pylist() == whole.calls["call_id"].to_pylist()  # stable ids: replay-safe
    assert chunked["end_utc"].equals(whole.calls["end_utc"])
    cut_pairs = sum(p.calls["call_id"][0].as_py().endswith("#1") for p in parts if p.calls.num_rows)
    assert cut_pairs >= 3  # the random reads did cut redial pairs apart (what the numbering is tested on)


def test_each_stream_numbers_its_own_repeats_and_files_number_theirs_per_input(tmp_path, traffic):
    """A CM's primary and secondary links send the same records: each stream's instance numbers them the
    same way, so the second copy has the first's ids (stored once).  The shared instance (files, probes)
    keeps no repeat counts: a file's ids do not depend on which files were read before it (with this
    layout, which dates every record; a dateless layout's last date record does carry over)."""
    data = write_avaya(traffic.slice(0, 60), tmp_path / "s.bin", timezone=TZ, fields="sszokoly").read_bytes()
    data, _ = _with_redials(data, every=3)
    shared = AvayaConnector(_pbx(fields="sszokoly"))
    primary, secondary = shared.for_stream(), shared.for_stream()
    assert primary is not shared and secondary is not primary
    ids = primary.parse(data, "cdr1").calls["call_id"]
    assert secondary.parse(data, "cdr2").calls["call_id"].equals(ids)
    assert shared.parse(data, "a.bin").calls["call_id"].equals(ids)
    assert shared.parse(data, "b.bin").calls["call_id"].equals(ids)  # a second file: numbered afresh
    again = primary.parse(data, "cdr1").calls["call_id"].to_pylist()  # the same records again on the stream
    assert all(a != b for a, b in zip(again, ids.to_pylist()))  # … are later repeats, not the same calls
    cucm = connector_for("cucm", _pbx())
    assert cucm.for_stream() is cucm  # stateless formats share one instance: the parse stage joins their streams


def test_standard_layout_stream_with_date_records_round_trip(traffic, tmp_path):
    calls = traffic.slice(0, 500)
    path = write_avaya(calls, tmp_path / "t.bin", timezone=TZ, layout="teleseer")
    result = AvayaConnector(_pbx(layout="teleseer", reference_date="2026-10-15")).parse(path.read_bytes(), str(path))
    assert result.quarantined == [] and result.records_seen == calls.num_rows
    src = _end_order(calls)
    assert result.calls["end_utc"].to_pylist() == pc.floor_temporal(src["end_utc"], unit="minute").to_pylist()
    # H MM T: durations come back in whole tenths of a minute
    talk = np.where(np.array(src["disposition"].to_pylist()) == "answered", src["duration_s"].to_numpy(), 0)
    assert result.calls["duration_s"].to_numpy().tolist() == (talk // 6 * 6).tolist()


def test_connector_is_registered_under_its_type():
    assert isinstance(connector_for("avaya", _pbx(fields="yaacc")), AvayaConnector)


# --- through the collector: a real TCP client playing a CM ------------------------------------------------------

def _cm_enterprise(tmp_path: Path, options: str = 'fields = "sszokoly"'):
    """The sample enterprise with its NYC PBX turned into a CM streaming records over TCP (sszokoly's by default)."""
    from collectorkit import enterprise_with

    enterprise_with(tmp_path, {"nyc-cucm": "tcp:127.0.0.1:0"}, pbx_options={"nyc-cucm": options})
    config = tmp_path / "callcost.toml"
    config.write_text(config.read_text().replace('id = "nyc-cucm"\ntype = "cucm"', 'id = "nyc-cucm"\ntype = "avaya"', 1))
    return load_config(config)


def test_repeat_counts_continue_across_inputs_and_forget_the_least_recent_beyond_the_limit():
    repeats = RepeatCounts(limit=3)

    def number(*keys: str) -> list[int]:
        arr = pa.array(keys, pa.string())
        return repeats.number(arr, occurrence(arr)).tolist()

    assert number("a", "b", "a") == [0, 0, 1]
    assert number("a", "c") == [2, 0]  # a third "a" on the same stream
    assert number("d") == [0] and repeats.keys.to_pylist() == ["a", "c", "d"]  # "b", seen least recently, went
    assert number("b", "a", "b") == [0, 3, 1]


def test_cm_over_real_tcp_split_reads_bad_record_and_dropped_link(tmp_path):
    """CM connects to the collector and streams; reads split records anywhere, NULs included; a garbage
    record is quarantined between good ones; the link drops mid-record and CM resends it after reconnecting."""
    import socket

    from collectorkit import count, running, wait_for

    ent = _cm_enterprise(tmp_path)
    calls = generate_traffic(ent, calls=300, seed=3)
    records = write_avaya(calls, tmp_path / "cm.bin", timezone=ent.sites["NYC"].timezone, fields="sszokoly").read_bytes()
    lines = records.split(b"\r\n")
    stream = b"\r\n".join(lines[:150] + [b"\x00\x000101 not a CDR record"] + lines[150:])
    cut = stream.rfind(b"\r\n", 0, len(stream) - 200) + 50  # inside the last-but-one record
    db = f"sqlite:///{tmp_path / 'cm.db'}"
    with running(ent, db, pbx_ids=["nyc-cucm"]) as svc:
        host, port = svc.transports["nyc-cucm"].address
        with socket.create_connection((host, port)) as s:
            for k in range(0, cut, 97):
                s.sendall(stream[k:min(k + 97, cut)])
        with socket.create_connection((host, port)) as s:  # reconnect: CM resends from the cut record on
            s.sendall(stream[stream.rfind(b"\r\n", 0, cut) + 2:])
        metrics = svc.pipeline.metrics["nyc-cucm"]
        wait_for(lambda: metrics.records_received >= 302 and metrics.sessions_open == 0, what="all records",
                 state=lambda: metrics)
    assert count(db, "select count(*) from calls") == 300
    assert count(db, "select count(*) from quarantine") == 2  # the garbage record and the cut one


def test_redials_cut_apart_and_a_secondary_link_copy_are_stored_exactly_once_each(tmp_path):
    """Identical records (redials) are separate calls, and a secondary link's copy of the stream is not:
    the pair is cut across two batches of the primary link (the first stored before the second arrives),
    then the secondary link sends the whole stream again, while the primary is still open."""
    import socket

    from collectorkit import count, running, wait_for

    ent = _cm_enterprise(tmp_path)
    calls = generate_traffic(ent, calls=120, seed=4)
    data = write_avaya(calls, tmp_path / "cm.bin", timezone=ent.sites["NYC"].timezone, fields="sszokoly").read_bytes()
    stream, n = _with_redials(data, every=10)
    records = stream.split(b"\r\n")[:-1]
    pair = next(k for k in range(40, n) if records[k] == records[k - 1])
    cut = sum(len(r) + 2 for r in records[:pair])  # between the two copies
    db = f"sqlite:///{tmp_path / 'cm.db'}"
    with running(ent, db, pbx_ids=["nyc-cucm"]) as svc:
        host, port = svc.transports["nyc-cucm"].address
        metrics = svc.pipeline.metrics["nyc-cucm"]
        with socket.create_connection((host, port)) as primary:
            primary.sendall(stream[:cut])
            wait_for(lambda: metrics.records_received >= pair, what="the first batch stored", state=lambda: metrics)
            primary.sendall(stream[cut:])
            wait_for(lambda: metrics.records_received >= n, what="the primary stream stored", state=lambda: metrics)
            assert count(db, "select count(*) from calls") == n
            with socket.create_connection((host, port)) as secondary:
                secondary.sendall(stream)
                wait_for(lambda: metrics.records_received >= 2 * n, what="the secondary copy", state=lambda: metrics)
    assert count(db, "select count(*) from calls") == n
    redials = sum(records[k] == records[k - 1] for k in range(1, n))
    assert count(db, "select count(*) from calls where call_id like '%#1'") == redials >= 10

    # the raw dump replayed (both sessions) into an empty database gives the same calls, ids included
    from collectorkit import column

    from collector.replay import replay
    from warehouse.store import Store

    copy = f"sqlite:///{tmp_path / 'replayed.db'}"
    store = Store(ent, database_url=copy)
    try:
        report = replay(ent, [ent.storage.raw_dump], store=store)
    finally:
        store.db.close()
    assert (report.sessions, report.received, report.stored_new) == (2, 2 * n, n)
    every_id = "select call_id from calls order by call_id"
    assert column(copy, every_id) == column(db, every_id)


class _SlowFirstParse(AvayaConnector):
    """Avaya, but the first parse of a stream's instance takes a second (a big part, a busy core)."""

    started = None  # threading.Event set when a slow parse has begun
    _warmed = False  # this instance's first parse is done

    def parse(self, data: bytes, source: str):
        if self.repeats is not None and not self._warmed:
            self._warmed = True
            type(self).started.set()
            time.sleep(1.0)
        return super().parse(data, source)


def test_two_parse_workers_keep_a_streams_order(tmp_path):
    """With ``parse_workers = 2`` the second part of a stream, taken by the idle worker while the first is
    still being parsed, waits for it.  Parsed first, its records would be dated without the date record
    the first part ends on (standard layouts carry no date: CM sends one at link start and midnight), and
    the stream's final checkpoint would be overwritten by the first part's."""
    import threading

    from collectorkit import column, count

    from collector.importer import pbx_context
    from collector.pipeline import Pipeline, PipelineConfig
    from collector.streams import Intake
    from analytics.rating.stage import RatingStage
    from warehouse.store import Store

    ent = _cm_enterprise(tmp_path, 'layout = "teleseer"\nreference_date = "2026-10-15"')
    calls = generate_traffic(ent, calls=80, seed=6)
    stream = write_avaya(calls, tmp_path / "cm.bin", timezone=ent.sites["NYC"].timezone, layout="teleseer").read_bytes()
    whole = AvayaConnector(pbx_context(ent, "nyc-cucm")).parse(stream, "whole")
    assert whole.quarantined == [] and whole.calls.num_rows == 80
    cut = stream.index(b"\r\n", len(stream) // 2) + 2  # a record boundary halfway
    db = f"sqlite:///{tmp_path / 'cm.db'}"
    store = Store(ent, database_url=db)
    pipeline = Pipeline(store, RatingStage(ent), PipelineConfig(batch_ms=50, parse_workers=2)).start()
    _SlowFirstParse.started = threading.Event()
    try:
        session = Intake(pipeline, "nyc-cucm", _SlowFirstParse(pbx_context(ent, "nyc-cucm")), None).open_session(
            "tcp", "cm")
        session.feed_blocking(stream[:cut])
        assert _SlowFirstParse.started.wait(10)  # worker 1 is inside the first part's parse …
        session.feed_blocking(stream[cut:])  # … so worker 2 takes this one
        session.close_blocking("end of test")
        pipeline.drain(timeout=60)
    finally:
        store.db.close()
    assert column(db, "select call_id from calls order by call_id") == sorted(whole.calls["call_id"].to_pylist())
    assert count(db, "select position from collector_checkpoints where final") == len(stream)


def test_condition_codes_name_the_feature_that_made_a_record():
    """C and L (a conference, or a trunk-to-trunk transfer: one record per trunk) are ``conference`` legs, 1
    (attendant-handled) a ``transferred`` one; any other code names no feature (issue 17)."""
    data = "\r\n".join([
        _record("100526", "1310", 300, "C", "912125550123", "1001", used="701"),
        _record("100526", "1310", 280, "L", "912125550177", "1001", used="701"),
        _record("100526", "1311", 90, "1", "1002", "2125550199", used="702", in_trk="702"),
        _record("100526", "1312", 60, "7", "912125550100", "1003", used="701"),
    ]) + "\r\n"
    rows = AvayaConnector(_pbx(fields=SSZOKOLY)).parse(data.encode(), "cdr1").calls.to_pylist()
    assert [r["leg_feature"] for r in rows] == ["conference", "conference", "transferred", None]
    assert [r["cause_code"] for r in rows] == ["C", "L", "1", "7"]  # the raw code is kept
