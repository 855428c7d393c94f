"""One conformance suite for every installed connector (STYLE.md habit 4, after Ibis' backend tests).

Each registered connector type gets a fixture file written by the project's own writers from the same
hand-made calls, then the same checks run against all of them: it parses, ``call_id`` is stable and
unique, a corrupted line is quarantined while the rest is kept, and the declared ``fields`` are real
columns that come back filled (and the undeclared ones empty: capabilities are data, not folklore).

A new connector registers a fixture writer and a corrupter in ``FIXTURES``; until it does, the
``test_every_connector_has_a_fixture`` check fails, so no plugin ships untested.  A fixture also carries
the ``[[pbx]]`` options its format needs (a layout, a column list) and, for a format that cannot carry a
fact exactly, the ``expected`` form of the calls (Avaya CM records only the end minute).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from collector.connectors.base import PbxContext, registered_connectors
from collector.simulate.record_formats import (
    FS_GATEWAY_TEMPLATE, write_asterisk, write_avaya, write_freeswitch, write_smdr,
)
from collector.simulate.cucm_and_canonical_csv import write_canonical_csv, write_cucm_files
from warehouse.schema import PARSED_SCHEMA, TS, conform

PBX = PbxContext(pbx_id="nyc-pbx", site="NYC", timezone="America/New_York")


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def known_calls() -> pa.Table:
    """Hand-made calls covering each direction and disposition (PARSED_SCHEMA, numbers as dialled)."""
    rows = [
        dict(call_id="k1", start_utc="2026-10-05T13:00:00", answer_utc="2026-10-05T13:00:07",
             end_utc="2026-10-05T13:04:07", duration_s=240, ring_s=7, calling_number="1001",
             called_number="912125550123", extension="1001", direction="outbound", trunk="NYC-PSTN-GW1",
             disposition="answered", cause_code="16", account_code="CLIENT-42"),
        dict(call_id="k2", start_utc="2026-10-05T13:00:30", answer_utc="2026-10-05T13:00:35",
             end_utc="2026-10-05T13:01:05", duration_s=30, ring_s=5, calling_number="+442079460000",
             called_number="2125551002", original_called_number="2125551002", extension="1002",
             direction="inbound", trunk="NYC-PSTN-GW2", disposition="answered", cause_code="16"),
        dict(call_id="k3", start_utc="2026-10-05T13:02:00", answer_utc="2026-10-05T13:02:04",
             end_utc="2026-10-05T13:03:10", duration_s=66, ring_s=4, calling_number="1001",
             called_number="1003", extension="1001", direction="internal", disposition="answered",
             cause_code="16"),
        dict(call_id="k4", start_utc="2026-10-05T13:03:00", end_utc="2026-10-05T13:03:25", duration_s=0,
             ring_s=25, calling_number="1004", called_number="9011442079460000", extension="1004",
             direction="outbound", trunk="NYC-PSTN-GW1", disposition="no_answer", cause_code="19"),
        dict(call_id="k5", start_utc="2026-10-05T13:59:58", end_utc="2026-10-05T14:00:00", duration_s=0,
             ring_s=2, calling_number="1005", called_number="1001", extension="1005", direction="internal",
             disposition="busy", cause_code="17"),
        dict(call_id="k6", start_utc="2026-10-05T14:10:00", answer_utc="2026-10-05T14:10:03",
             end_utc="2026-10-05T14:30:03", duration_s=1200, ring_s=3, calling_number="1006",
             called_number="4001", extension="1006", direction="internal", trunk="SIP-ONNET-LON",
             disposition="answered", cause_code="16"),
        dict(call_id="k7", start_utc="2026-10-05T14:20:00", answer_utc="2026-10-05T14:20:09",
             end_utc="2026-10-05T14:21:09", duration_s=60, ring_s=9, calling_number="7185550199",
             called_number="8005550100", original_called_number="2125551007", extension="1007",
             direction="inbound", trunk="NYC-PSTN-GW1", disposition="answered", cause_code="16"),
    ]
    for r in rows:
        for k in ("start_utc", "answer_utc", "end_utc"):
            if r.get(k):
                r[k] = _ts(r[k])
        r.setdefault("pbx", PBX.pbx_id)
        r.setdefault("source_format", "generated")
    return conform(pa.Table.from_pylist(rows), PARSED_SCHEMA)


def corrupt_csv_line(data: bytes, line: int) -> bytes:
    """Replace 1-based *line* of a CSV-shaped file with a record of the wrong shape."""
    lines = data.split(b"\n")
    lines[line - 1] = b'"corrupted",record'
    return b"\n".join(lines)


def end_minute_start(calls: pa.Table) -> pa.Table:
    """What a format that records only the end minute and the talk time says: start = end minute − talk."""
    end = pc.floor_temporal(calls["end_utc"], unit="minute")
    start = pc.subtract(end, pc.cast(pc.cast(calls["duration_s"], pa.int64()), pa.duration("s")))
    return calls.set_column(calls.schema.get_field_index("start_utc"), "start_utc", pc.cast(start, TS))


@dataclass(frozen=True)
class Fixture:
    write: Callable[[pa.Table, Path], list[Path]]  # calls → files, as the PBX would deliver them
    first_data_line: int  # where records start in each file (to pick a line to corrupt)
    corrupt: Callable[[bytes, int], bytes] = corrupt_csv_line
    options: dict = field(default_factory=dict)  # the [[pbx]] options the format needs (layout, columns …)
    expected: Callable[[pa.Table], pa.Table] = lambda calls: calls  # the facts the format can carry


FIXTURES: dict[str, Fixture] = {
    "cucm": Fixture(lambda calls, d: write_cucm_files(calls, d, minutes_per_file=1440), first_data_line=3),
    "canonical-csv": Fixture(lambda calls, d: [write_canonical_csv(calls, d / "calls.csv")], first_data_line=2),
    "avaya": Fixture(lambda calls, d: [write_avaya(calls, d / "cdr1.txt", timezone=PBX.timezone, fields="sszokoly")],
                     first_data_line=1, options={"fields": "sszokoly"}, expected=end_minute_start),
    "asterisk": Fixture(lambda calls, d: [write_asterisk(calls, d / "Master.csv", timezone=PBX.timezone)],
                        first_data_line=1, options={"trunk_channels": ["SIP/*-PSTN-*", "SIP/SIP-ONNET-*"]}),
    "freeswitch": Fixture(lambda calls, d: [write_freeswitch(calls, d / "Master.csv", timezone=PBX.timezone)],
                          first_data_line=1, options={"template": list(FS_GATEWAY_TEMPLATE)}),
    "smdr": Fixture(lambda calls, d: [write_smdr(calls, d / "smdr.csv", layout="ipo", timezone=PBX.timezone)],
                    first_data_line=1, options={"layout": "ipo"}),
}

CONNECTORS = sorted(registered_connectors())


def _connector(type_name: str):
    """The connector as configured for its fixture (capabilities may depend on the options, e.g. a layout)."""
    pbx = PbxContext(PBX.pbx_id, PBX.site, PBX.timezone, options=dict(FIXTURES[type_name].options))
    return registered_connectors()[type_name](pbx)


def _parse_all(type_name: str, files: list[Path]):
    connector = _connector(type_name)
    results = [connector.parse(p.read_bytes(), str(p)) for p in files]
    return results, pa.concat_tables([r.calls for r in results])


@pytest.fixture(params=CONNECTORS)
def written(request, tmp_path) -> tuple[str, list[Path]]:
    type_name = request.param
    files = FIXTURES[type_name].write(known_calls(), tmp_path)
    assert files, f"the {type_name} fixture writer wrote nothing"
    return type_name, files


def test_every_connector_has_a_fixture():
    assert set(CONNECTORS) <= set(FIXTURES), f"connectors without a conformance fixture: {set(CONNECTORS) - set(FIXTURES)}"
    assert {"cucm", "canonical-csv"} <= set(CONNECTORS)


def test_parses_every_record(written):
    type_name, files = written
    results, calls = _parse_all(type_name, files)
    assert calls.schema == PARSED_SCHEMA
    assert calls.num_rows == known_calls().num_rows
    assert sum(r.records_seen for r in results) == known_calls().num_rows
    assert not [q for r in results for q in r.quarantined]
    assert set(calls["pbx"].to_pylist()) == {PBX.pbx_id}
    assert calls["source_format"].null_count == 0


def test_call_id_stable_and_unique(written):
    type_name, files = written
    _, first = _parse_all(type_name, files)
    _, second = _parse_all(type_name, files)
    ids = first["call_id"].to_pylist()
    assert ids == second["call_id"].to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(f"{PBX.pbx_id}:") for i in ids)


def test_corrupted_line_is_quarantined_and_the_rest_kept(written, tmp_path):
    type_name, files = written
    fixture = FIXTURES[type_name]
    target = files[0]
    line = fixture.first_data_line + 1  # the second record: good ones on both sides
    target.write_bytes(fixture.corrupt(target.read_bytes(), line))
    results, calls = _parse_all(type_name, files)
    bad = [q for r in results for q in r.quarantined]
    assert len(bad) == 1
    assert bad[0].source == str(target) and bad[0].line == line
    assert b"corrupted" in bad[0].raw
    assert calls.num_rows == known_calls().num_rows - 1
    assert sum(r.records_seen for r in results) == known_calls().num_rows


def test_declared_fields_are_filled_and_undeclared_left_empty(written):
    type_name, files = written
    cls = registered_connectors()[type_name]
    assert cls.type == type_name
    assert cls.fields <= set(PARSED_SCHEMA.names)
    fields = _connector(type_name).fields
    assert fields <= cls.fields  # an instance may narrow (a layout without some column), never widen
    _, calls = _parse_all(type_name, files)
    calls = calls.sort_by("start_utc")  # the fixture's start times are distinct: align rows by them
    source = FIXTURES[type_name].expected(known_calls()).sort_by("start_utc")
    assert calls["start_utc"].equals(source["start_utc"])
    for name in PARSED_SCHEMA.names:
        out = calls[name]
        if name not in fields:
            assert out.null_count == calls.num_rows, f"{type_name} fills '{name}' but does not declare it"
        elif name in ("call_id", "pbx", "source_format", "raw_ref"):
            assert out.null_count == 0, f"{type_name}: '{name}' has nulls"
        else:
            missing = pc.and_(pc.is_valid(source[name]), pc.is_null(out))
            assert not pc.any(missing).as_py(), f"{type_name}: '{name}' lost values the fixture had"
