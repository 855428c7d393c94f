"""Every canonical field has a declared domain; a record outside it is quarantined, never stored (issue 16, 2).

For each registered connector the conformance fixture (its own writer, the same hand-made calls) gets
two bad calling numbers written into it byte for byte: a 1,000,000-digit one and ``12\\xff\\xfe34``.  Both
records are quarantined naming the field and the reason, the other calls are kept, and nothing outside
the domains reaches the calls — through ``parse``, ``parse_many`` and, for the sample enterprise's
types, ``callcost import`` into a real database.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from collector.connectors.base import ParseResult, PbxContext, registered_connectors
from collector.domains import MAX_NUMBER, violations
from warehouse import ingest
from test_connector_conformance import FIXTURES, PBX, known_calls

HUGE = b"9" * 1_000_000
UNDECODABLE = b"12\xff\xfe34"
#: placeholders written by the fixture writers, then replaced by the bad bytes (same width for the second)
HUGE_AT, UNDECODABLE_AT = "7770001", "120034"


def _calls_with_placeholders() -> pa.Table:
    calls = known_calls()
    numbers = calls.column("calling_number").to_pylist()
    numbers[0], numbers[1] = HUGE_AT, UNDECODABLE_AT
    return calls.set_column(calls.schema.get_field_index("calling_number"), "calling_number",
                            pa.array(numbers, pa.string()))


def _bad_files(type_name: str, directory: Path) -> list[Path]:
    files = FIXTURES[type_name].write(_calls_with_placeholders(), directory)
    hits = {HUGE_AT: 0, UNDECODABLE_AT: 0}
    for path in files:
        data = path.read_bytes()
        for placeholder in hits:
            hits[placeholder] += data.count(placeholder.encode())
        path.write_bytes(data.replace(HUGE_AT.encode(), HUGE).replace(UNDECODABLE_AT.encode(), UNDECODABLE))
    assert min(hits.values()) >= 1, f"the {type_name} writer did not write the placeholders: {hits}"
    return files


def _connector(type_name: str):
    return registered_connectors()[type_name](PbxContext(PBX.pbx_id, PBX.site, PBX.timezone,
                                                         options=dict(FIXTURES[type_name].options)))


def _assert_bad_ones_quarantined(calls: pa.Table, quarantined: list, type_name: str) -> None:
    assert calls.num_rows == known_calls().num_rows - 2, type_name
    assert violations(calls) == []
    numbers = [n for n in calls.column("calling_number").to_pylist() if n]
    assert all(len(n) <= MAX_NUMBER and n.isascii() for n in numbers), type_name
    raws = [q.raw for q in quarantined]
    assert any(HUGE in r for r in raws) and any(UNDECODABLE in r for r in raws), type_name
    for q in quarantined:
        assert q.reason and q.source and (q.line is not None or q.offset is not None), q
    # fixed columns (Avaya CM): the run-on record is refused by the format itself, for its length
    fields = {q.field for q in quarantined if not q.reason.startswith("record is ")}
    assert fields == {"calling_number"}, [str(q)[:200] for q in quarantined]


@pytest.mark.parametrize("type_name", sorted(registered_connectors()))
def test_a_huge_and_an_undecodable_calling_number_are_quarantined(type_name, tmp_path):
    files = _bad_files(type_name, tmp_path)
    connector = _connector(type_name)
    results = [connector.parse(p.read_bytes(), str(p)) for p in files]
    _assert_bad_ones_quarantined(pa.concat_tables([r.calls for r in results]),
                                 [q for r in results for q in r.quarantined], type_name)
    # the many-file path (the importer's) says the same, and its tallies add up
    batch = connector.parse_many([(p.read_bytes(), str(p)) for p in files])
    _assert_bad_ones_quarantined(batch.calls, [q for t in batch.files for q in t.quarantined], type_name)
    assert sum(t.parsed for t in batch.files) == batch.calls.num_rows
    assert [t.records_seen for t in batch.files] == [r.records_seen for r in results]


def test_the_reason_names_the_field_and_shows_the_value_short(tmp_path):
    result = _connector("canonical-csv").parse(_bad_files("canonical-csv", tmp_path)[0].read_bytes(), "calls.csv")
    huge, odd = sorted(result.quarantined, key=lambda q: -len(q.raw))
    assert "longer than 64 characters" in huge.reason and len(str(huge)) < 200
    assert "not a number" in odd.reason and "ÿþ" in odd.reason
    assert str(odd).startswith("calls.csv:") and "field 'calling_number'" in str(odd)


def test_good_values_at_the_limits_are_kept():
    """The domains do not refuse what PBXs write: 64 digits, + * #, a SIP address, a tab, a ring of a day."""
    calls = known_calls()
    n = calls.num_rows
    calls = calls.set_column(calls.schema.get_field_index("calling_number"), "calling_number",
                             pa.array(["9" * MAX_NUMBER, "+442079460000", "*67#1001", "alice@example.com", "s",
                                       "ch1", "2001"][:n], pa.string()))
    assert violations(calls) == []


def _without_domains(connector, data: bytes, source: str) -> ParseResult:
    return type(connector).decode(connector, data, source)


def test_without_the_domains_the_bad_values_would_be_stored(tmp_path):
    """The check is what stops them: the format's own decoding keeps both (so this test can fail)."""
    for type_name in ("cucm", "canonical-csv", "asterisk", "freeswitch", "smdr"):
        directory = tmp_path / type_name
        directory.mkdir()
        connector = _connector(type_name)
        calls = pa.concat_tables([_without_domains(connector, p.read_bytes(), str(p)).calls
                                  for p in _bad_files(type_name, directory)])
        assert len(violations(calls)) == 2, type_name


@pytest.mark.parametrize("type_name,pbx_id", [("cucm", "nyc-cucm"), ("canonical-csv", "lon-csv")])
def test_import_quarantines_them_in_the_database_and_stores_the_rest(type_name, pbx_id, tmp_path):
    from callcost.demo import build_sample
    from collector.importer import import_files
    from warehouse.config import load_config
    from warehouse.store import Store

    ent = load_config(build_sample(tmp_path / "ent"))
    files = _bad_files(type_name, tmp_path / "in")
    store = Store(ent)
    report = import_files(ent, pbx_id, files, store=store)
    assert report.quarantined == 2
    numbers = store.db.read_calls()["calling_number"].tolist()
    assert len(numbers) == known_calls().num_rows - 2
    assert all(len(n or "") <= MAX_NUMBER and (n or "").isascii() for n in numbers)
    with store.db.engine.connect() as conn:
        rows = conn.execute(ingest.quarantine.select()).mappings().all()
    assert sorted(r["field"] for r in rows) == ["calling_number", "calling_number"]
    assert any(HUGE in r["raw"] for r in rows) and any(UNDECODABLE in r["raw"] for r in rows)


def test_a_live_stream_quarantines_them_at_their_dump_bytes(tmp_path):
    """The live path (several sessions' parts parsed together): the bad records are quarantined and
    accounted to their own part, pointing at their bytes in the raw dump; the good ones are kept."""
    from datetime import UTC, datetime

    from collectorkit import HEADER, csv_records, enterprise_with

    from collector.connectors.base import connector_for
    from collector.importer import pbx_context
    from collector.parsing import parse_group
    from collector.parts import Part

    ent = enterprise_with(tmp_path, {})
    conn = connector_for(ent.pbxs["lon-csv"].type, pbx_context(ent, "lon-csv"))
    good = csv_records(20, prefix="g")
    bad = csv_records(3, prefix="b").replace(b",2001,", b"," + HUGE + b",", 1)
    bad = bad.replace(b",2001,", b"," + UNDECODABLE + b",", 1)
    dump = tmp_path / "b.raw"
    dump.write_bytes(b"z" * 100 + bad)
    parts = [Part(pbx="lon-csv", transport="tcp", stream=stream, connector=conn, data=data, preamble=HEADER,
                  first_offset=0, range_start=0, range_end=len(data), sha256="", received_at=datetime.now(UTC),
                  blocks=blocks)
             for stream, data, blocks in (("tcp-g", good, ()), ("tcp-b", bad, ((0, str(dump), 100),)))]
    group = parse_group(parts)
    assert group.parsed.tolist() == [20, 1] and group.n_quarantined.tolist() == [0, 2]
    assert group.received.tolist() == [20, 3]
    assert violations(group.calls) == []
    quarantined = sorted(group.quarantined, key=lambda q: q.offset)
    assert [(q.source, q.field) for q in quarantined] == [(str(dump), "calling_number")] * 2
    data = dump.read_bytes()
    for q in quarantined:
        assert data[q.offset:].startswith(q.raw) and (HUGE in q.raw or UNDECODABLE in q.raw)
