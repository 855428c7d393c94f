"""The many-file fast path gives exactly what parsing file by file gives: calls, counts, quarantine.

``CucmConnector.parse_many`` joins files of one layout into one buffer and reads them with one Arrow
call; these tests feed it a mix of real sample files, damaged variants (malformed records, a missing
final newline, a spreadsheet re-save, a CMR file, a quoted newline, a BOM, cp1252 bytes) and generated
traffic, and compare with :meth:`CucmConnector.parse` per file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pytest

from collector.connectors.base import PbxContext
from collector.connectors.cucm import CucmConnector
from collector.simulate.cucm_and_canonical_csv import write_cucm_files
from test_connector_conformance import known_calls
from warehouse.errors import ParseError

PBX = PbxContext(pbx_id="var", site="MSK", timezone="Europe/Moscow")


def _samples(shared_dir: Path) -> list[Path]:
    return sorted(p for p in (shared_dir / "samples" / "cucm").iterdir() if p.name != "SOURCES.md")


def _damaged(path: Path) -> bytes:
    lines = path.read_bytes().split(b"\n")
    fields = lines[2].split(b",")
    bad_epoch = b",".join(fields[:4] + [b"16394O4382"] + fields[5:])
    short = b",".join(fields[:60])
    empty_disconnect = b",".join(fields[:48] + [b""] + fields[49:])
    return b"\n".join(lines[:4] + [bad_epoch, short, b""] + lines[4:6] + [empty_disconnect] + lines[6:])


def _resaved(path: Path, delimiter: str = ",", newline: str = "\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(csv.reader(io.StringIO(path.read_text())))
    return buf.getvalue().encode()


def _units(shared_dir: Path, tmp_path: Path) -> list[tuple[bytes, str]]:
    samples = _samples(shared_dir)
    units = [(p.read_bytes(), str(p)) for p in samples]
    a = next(p for p in samples if p.name.endswith("515358"))
    b = next(p for p in samples if p.name.endswith("515359") and p.name.startswith("cdr"))
    units += [
        (_damaged(b), str(tmp_path / "damaged")),
        (b.read_bytes().rstrip(b"\n"), str(tmp_path / "no-final-newline")),
        (_resaved(a, newline="\r\n"), str(tmp_path / "crlf")),
        (_resaved(a, delimiter=";"), str(tmp_path / "semicolons")),
        (b"\xef\xbb\xbf" + a.read_bytes(), str(tmp_path / "bom")),
        (a.read_bytes().replace(b'"SEP', b'"S\xe9P', 1), str(tmp_path / "cp1252")),
        (a.read_bytes().replace(b'"SEP', b'"S\nEP', 1), str(tmp_path / "quoted-newline")),
        (b"", str(tmp_path / "empty")),
        (b"\n".join(a.read_bytes().split(b"\n")[:2]) + b"\n", str(tmp_path / "header-only")),
        (_damaged(b), str(tmp_path / "damaged-again")),
    ]
    generated = write_cucm_files(known_calls(), tmp_path / "gen", minutes_per_file=1)
    units += [(p.read_bytes(), str(p)) for p in generated]
    return units


def _one_by_one(units):
    return [CucmConnector(PBX).parse(data, source) for data, source in units]


def test_parse_many_equals_parse_file_by_file(shared_dir, tmp_path):
    units = _units(shared_dir, tmp_path)
    single = _one_by_one(units)
    batch = CucmConnector(PBX).parse_many(units)
    assert [t.source for t in batch.files] == [s for _, s in units]
    for one, tally in zip(single, batch.files):
        assert (tally.records_seen, tally.parsed) == (one.records_seen, one.calls.num_rows), tally.source
        assert tally.quarantined == one.quarantined, tally.source
    expected = pa.concat_tables([r.calls for r in single]).sort_by([("call_id", "ascending"), ("raw_ref", "ascending")])
    assert batch.calls.sort_by([("call_id", "ascending"), ("raw_ref", "ascending")]).equals(expected)
    assert sum(len(t.quarantined) for t in batch.files) == 6  # 3 per damaged copy, each naming its own file


def test_quarantine_names_the_file_line_and_offset(shared_dir, tmp_path):
    units = _units(shared_dir, tmp_path)
    batch = CucmConnector(PBX).parse_many(units)
    damaged = next(t for t in batch.files if t.source.endswith("damaged-again"))
    data = dict((s, d) for d, s in units)[damaged.source]
    assert [(q.line, q.field) for q in damaged.quarantined] == [(5, "dateTimeOrigination"), (6, None),
                                                                 (10, "dateTimeDisconnect")]
    for q in damaged.quarantined:
        assert data[q.offset:].startswith(q.raw)
        assert data.split(b"\n")[q.line - 1] == q.raw


def test_a_broken_file_in_a_batch_raises_naming_it(shared_dir, tmp_path):
    a = next(p for p in _samples(shared_dir) if p.name.endswith("515358"))
    rows = list(csv.reader(io.StringIO(a.read_text())))
    k = rows[0].index("dateTimeOrigination")
    broken = io.StringIO()
    csv.writer(broken).writerows([r[:k] + r[k + 1:] for r in rows])
    with pytest.raises(ParseError) as err:
        CucmConnector(PBX).parse_many([(a.read_bytes(), str(a)), (broken.getvalue().encode(), "broken")])
    assert (err.value.file, err.value.field) == ("broken", "dateTimeOrigination")


def test_an_error_in_the_parse_stage_reaches_the_caller_and_stops_the_pipeline(shared_dir, tmp_path):
    import threading

    from callcost.demo import build_sample
    from collector.importer import import_files
    from warehouse.config import load_config
    from warehouse.store import Store

    ent = load_config(build_sample(tmp_path / "ent"))
    a = next(p for p in _samples(shared_dir) if p.name.endswith("515358"))
    rows = list(csv.reader(io.StringIO(a.read_text())))
    k = rows[0].index("dateTimeOrigination")
    broken = io.StringIO()
    csv.writer(broken).writerows([r[:k] + r[k + 1:] for r in rows])
    bad = tmp_path / "cdr_broken"
    bad.write_text(broken.getvalue())
    before = threading.active_count()
    # a file the connector refuses is quarantined whole and the import goes on (issue 16, item 4) …
    report = import_files(ent, "nyc-cucm", [a, bad], store=Store(ent), bundle_bytes=1)
    [whole] = report.files_quarantined
    assert whole.source == str(bad) and "dateTimeOrigination" in whole.reason and report.stored > 0
    # … any other error in the parse stage (here a file gone before it is read) still stops the pipeline
    with pytest.raises(FileNotFoundError):
        import_files(ent, "nyc-cucm", [a, tmp_path / "gone", a], store=Store(ent), bundle_bytes=1)
    assert threading.active_count() == before
