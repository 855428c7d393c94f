"""Property: the import's bulk parse of a set of files equals parsing them one by one (issue 15).

For every layout of the field files — CUCM with header lines and header-less in each known width (and
an unknown one), IP Office records of every released field count with or without a logger's header
line — random sets of files, with damaged records, blank lines, CR LF and missing final newlines, give
the same calls, line references, counts and quarantine through ``collector.importer``'s bulk path
(``parse_many`` where the connector has one) as through ``parse`` with a fresh connector per file.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.connectors.base import PbxContext
from collector.connectors.cucm import CucmConnector
from collector.connectors.smdr import SmdrConnector
from collector.importer import _parse

DATA = Path(__file__).parent / "data"
CUCM_RECORDS = {w: (DATA / "cucm" / f"headerless_{w}").read_bytes().splitlines() for w in (118, 129, 133)}
CUCM_RECORDS[123] = (DATA / "cucm" / "headerless_123").read_bytes().splitlines()
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "cucm"
HEADERED = [SAMPLES / n for n in ("cdr_StandAloneCluster_02_201510091036_254831",
                                  "cdr_StandAloneCluster_02_202112131407_515358", "cdr.txt")]
IPO_RECORDS = {int(p.name.split("_")[1]): p.read_bytes().splitlines() for p in (DATA / "ipo").glob("r*_fields.csv")}
IPO_RECORDS[17] = [line for line in (DATA / "ipo" / "avaya_smdr_examples.txt").read_bytes().splitlines()
                   if line.count(b",") == 16]
IPO_HEADER = (DATA / "ipo" / "logger_with_header.csv").read_bytes().splitlines()[0]


@st.composite
def _file(draw, lines: list[bytes], header: list[bytes]) -> bytes:
    """*lines* in a random order and number, maybe behind *header*, with damage, blanks and line-end variants."""
    body = draw(st.lists(st.sampled_from(lines), min_size=0, max_size=6))
    body = [line for line in body]
    for _ in range(draw(st.integers(0, 2))):  # a damaged record: cut short
        victim = draw(st.sampled_from(lines))
        body.insert(draw(st.integers(0, len(body))), victim[: draw(st.integers(1, max(1, len(victim) - 1)))])
    if draw(st.booleans()) and body:
        body.insert(draw(st.integers(1, len(body))), b"")  # a blank line
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    text = eol.join(header + body)
    return text + (eol if draw(st.booleans()) else b"")


def _cucm_file():
    headerless = st.sampled_from(sorted(CUCM_RECORDS)).flatmap(lambda w: _file(CUCM_RECORDS[w], []))
    headered = st.sampled_from(HEADERED).flatmap(
        lambda p: _file(p.read_bytes().splitlines()[2:], p.read_bytes().splitlines()[:2]))
    return st.one_of(headerless, headered)


def _ipo_file():
    counts = st.lists(st.sampled_from(sorted(IPO_RECORDS)), min_size=1, max_size=3)
    return st.tuples(counts, st.booleans()).flatmap(
        lambda c: _file([line for k in c[0] for line in IPO_RECORDS[k]], [IPO_HEADER] if c[1] else []))


def _same(make, files: list[bytes]) -> None:
    units = [(data, f"file-{k}") for k, data in enumerate(files)]
    calls, tallies = _parse(make(), units)
    singles = [make().parse(data, source) for data, source in units]
    assert [t.source for t in tallies] == [s for _, s in units]
    for one, tally in zip(singles, tallies):
        assert (tally.records_seen, tally.parsed, tally.quarantined) == (
            one.records_seen, one.calls.num_rows, one.quarantined), tally.source
    order = [("raw_ref", "ascending"), ("call_id", "ascending")]
    expected = pa.concat_tables([r.calls for r in singles]) if singles else calls.slice(0, 0)
    assert calls.sort_by(order).equals(expected.sort_by(order))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_cucm_file(), min_size=1, max_size=6))
def test_cucm_files_with_and_without_header_lines(files):
    _same(lambda: CucmConnector(PbxContext("nyc-cucm", "NYC", "America/New_York")), files)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ipo_file(), min_size=1, max_size=6))
def test_ip_office_files_of_every_field_count(files):
    _same(lambda: SmdrConnector(PbxContext("lon-ipo", "LON", "Europe/London", options={"layout": "ipo"})), files)
