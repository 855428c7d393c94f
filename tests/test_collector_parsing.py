"""The parse stage maps every row of a combined parse back to its part and to its first byte in the raw
dump, also when a part's bytes sit in several dump files (rotation mid-part), when a part has no dump
(a file) and when parts of many sessions are parsed together."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collectorkit import HEADER, csv_records, enterprise_with

from collector.connectors.base import connector_for
from collector.importer import pbx_context
from collector.parsing import parse_group
from collector.parts import Part


def _part(conn, stream: str, data: bytes, first_offset: int, blocks: tuple) -> Part:
    return Part(pbx="lon-csv", transport="tcp", stream=stream, connector=conn, data=data, preamble=HEADER,
                first_offset=first_offset, range_start=first_offset, range_end=first_offset + len(data),
                sha256="", received_at=datetime.now(UTC), blocks=blocks)


def _dump(tmp: Path, name: str, pad: bytes, data: bytes) -> tuple[str, int]:
    """A dump file holding *data* after *pad* bytes of other traffic: (path, offset of data)."""
    path = tmp / name
    path.write_bytes(pad + data)
    return str(path), len(pad)


def test_every_row_points_at_its_first_byte_in_the_right_dump_file(tmp_path):
    ent = enterprise_with(tmp_path, {})
    conn = connector_for(ent.pbxs["lon-csv"].type, pbx_context(ent, "lon-csv"))
    parts = []
    # session a: stream offsets 5000.., its bytes rotated over three dump files mid-part
    a = csv_records(90, prefix="a")
    cut1, cut2 = a.index(b"a30,"), a.index(b"a61,") + 7  # the second cut falls inside a record
    pa1 = _dump(tmp_path, "a1.raw", b"x" * 11, a[:cut1])
    pa2 = _dump(tmp_path, "a2.raw", b"", a[cut1:cut2])
    pa3 = _dump(tmp_path, "a3.raw", b"y" * 3, a[cut2:])
    parts.append(_part(conn, "tcp-a", a, 5000, ((5000, *pa1), (5000 + cut1, *pa2), (5000 + cut2, *pa3))))
    # session b: one block, at a dump offset unlike its stream offset
    b = csv_records(40, prefix="b")
    parts.append(_part(conn, "tcp-b", b, 77, ((77, *_dump(tmp_path, "b.raw", b"z" * 500, b)),)))
    # session c: no dump (e.g. already durable elsewhere): refs are the stream and its offsets
    c = csv_records(25, prefix="c")
    parts.append(_part(conn, "tcp-c", c, 1_000_000, ()))

    group = parse_group(parts)

    assert group.calls.num_rows == 155
    assert group.parsed.tolist() == [90, 40, 25]
    refs = dict(zip(group.calls.column("call_id").to_pylist(), group.calls.column("raw_ref").to_pylist()))
    for call_id, ref in refs.items():
        record_id = call_id.split(":", 1)[1].encode()
        where, offset = ref.rsplit("@", 1)
        if record_id.startswith(b"c"):
            assert where == "tcp-c"
            assert c[int(offset) - 1_000_000:].startswith(record_id + b",")
            continue
        with open(where, "rb") as f:
            f.seek(int(offset))
            assert f.read(len(record_id) + 1) == record_id + b",", (call_id, ref)
    assert Path(refs["lon-csv:a61"].rsplit("@", 1)[0]).name == "a2.raw"  # starts before the cut inside it
    assert Path(refs["lon-csv:a62"].rsplit("@", 1)[0]).name == "a3.raw"
