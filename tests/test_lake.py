"""The Parquet lake: idempotent, atomic writes in UTC-date hive partitions that pyarrow and DuckDB read as they are."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from factories import rated_calls
from warehouse import lake
from warehouse.errors import StorageError

UTC = timezone.utc


def _files(root: Path) -> list[Path]:
    return sorted((root / "calls").rglob("*.parquet"))


def test_write_twice_adds_nothing_the_second_time(tmp_path):
    calls = rated_calls(3_000, seed=1, days=3)
    first = lake.write_calls(tmp_path, calls)
    assert (first.new_rows, first.skipped_rows, len(first.files)) == (3_000, 0, 3)
    files = _files(tmp_path)
    again = lake.write_calls(tmp_path, calls)
    assert (again.new_rows, again.skipped_rows, again.files) == (0, 3_000, [])
    assert _files(tmp_path) == files
    stored = lake.read_calls(tmp_path)
    assert stored.num_rows == 3_000
    assert pc.count_distinct(stored.column("call_id")).as_py() == 3_000


def test_overlapping_batch_stores_only_new_calls(tmp_path):
    calls = rated_calls(1_000, seed=2)
    lake.write_calls(tmp_path, calls.slice(0, 600))
    result = lake.write_calls(tmp_path, pa.concat_tables([calls.slice(400), calls.slice(0, 10)]))
    assert (result.new_rows, result.skipped_rows) == (400, 210)
    assert lake.read_calls(tmp_path).num_rows == 1_000


def test_partitions_are_utc_dates_of_start(tmp_path):
    calls = rated_calls(500, seed=3, days=4)
    lake.write_calls(tmp_path, calls)
    for part in (tmp_path / "calls").glob("date=*"):
        day = date.fromisoformat(part.name.removeprefix("date="))
        got = pq.read_table(list(part.glob("*.parquet")), columns=["start_utc"]).column("start_utc")
        assert pc.all(pc.equal(pc.cast(got, pa.date32()), pa.scalar(day, pa.date32()))).as_py()
    # a call at 23:59:59 UTC goes to that day, one second later to the next
    edge = rated_calls(2, seed=4, prefix="edge")
    edge = edge.set_column(edge.schema.get_field_index("start_utc"), "start_utc", pa.array(
        [datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)], pa.timestamp("s", tz="UTC")))
    lake.write_calls(tmp_path, edge)
    assert lake.read_calls(tmp_path, date(2026, 10, 31), date(2026, 10, 31)).column("call_id").to_pylist() == ["edge0"]
    assert lake.read_calls(tmp_path, date(2026, 11, 1), date(2026, 11, 1)).column("call_id").to_pylist() == ["edge1"]


def test_read_prunes_partitions_by_date(tmp_path):
    calls = rated_calls(2_000, seed=5, days=5)
    lake.write_calls(tmp_path, calls)
    # make every partition but 10-03 unreadable: a read of 10-03 that opened them would fail
    for part in (tmp_path / "calls").glob("date=*"):
        if part.name != "date=2026-10-03":
            for f in part.glob("*.parquet"):
                f.write_bytes(b"not parquet")
    day = lake.read_calls(tmp_path, date(2026, 10, 3), date(2026, 10, 3))
    days = pc.cast(calls.column("start_utc"), pa.date32())
    assert day.num_rows == pc.sum(pc.equal(days, pa.scalar(date(2026, 10, 3), pa.date32()))).as_py() > 0
    assert day.schema.names == calls.schema.names
    with pytest.raises(pa.ArrowInvalid):
        lake.read_calls(tmp_path, date(2026, 10, 2), date(2026, 10, 3))


def test_read_columns_and_filters(tmp_path):
    calls = rated_calls(900, seed=6)
    lake.write_calls(tmp_path, calls)
    nyc = lake.read_calls(tmp_path, columns=["call_id", "savings"], filters=ds.field("site") == "NYC")
    assert nyc.schema.names == ["call_id", "savings"]
    assert nyc.schema.field("savings").type == pa.decimal128(18, 2)
    want = calls.filter(pc.equal(calls.column("site"), "NYC"))
    assert sorted(nyc.column("call_id").to_pylist()) == sorted(want.column("call_id").to_pylist())
    assert pc.sum(nyc.column("savings")).as_py() == pc.sum(want.column("savings")).as_py()


def test_empty_lake_reads_as_empty_table(tmp_path):
    empty = lake.read_calls(tmp_path / "nothing", scale=3)
    assert empty.num_rows == 0
    assert empty.schema.field("actual_cost").type == pa.decimal128(18, 3)


def test_killed_writer_leaves_no_visible_partial_file(tmp_path):
    """A writer process dies between writing its temp file and renaming it: readers see nothing of it."""
    calls = rated_calls(300, seed=7, days=1)
    lake.write_calls(tmp_path, calls.slice(0, 100))
    before = lake.read_calls(tmp_path)
    batch = tmp_path / "batch.parquet"
    pq.write_table(calls.slice(100), batch)
    # a real second process running the real writer, killed (os._exit) at the moment of the rename
    script = (
        "import os, sys, pyarrow.parquet as pq\n"
        "from warehouse import lake\n"
        "def die(src, dst):\n"
        "    with open(src, 'r+b') as fh: fh.truncate(os.path.getsize(src) // 2)  # and half-written, too\n"
        "    os._exit(9)\n"
        "os.replace = die\n"
        "lake.write_calls(sys.argv[1], pq.read_table(sys.argv[2]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(batch)], capture_output=True)
    assert proc.returncode == 9, proc.stderr.decode()
    leftovers = [p for p in (tmp_path / "calls").rglob("*") if p.name.startswith(".") and p.is_file()]
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".parquet.tmp")
    # every reader ignores it
    assert lake.read_calls(tmp_path).equals(before)
    assert duckdb.execute(f"select count(*) from {lake.calls_glob(tmp_path)}").fetchone()[0] == 100
    # the retry writes the same file name and cleans the temp file up
    retry = lake.write_calls(tmp_path, calls.slice(100))
    assert retry.new_rows == 200
    assert not [p for p in (tmp_path / "calls").rglob(".*") if p.is_file()]
    assert lake.read_calls(tmp_path).num_rows == 300


def test_file_names_depend_only_on_the_calls(tmp_path):
    calls = rated_calls(400, seed=8, days=2)
    a = lake.write_calls(tmp_path / "a", calls)
    b = lake.write_calls(tmp_path / "b", calls.take(pa.array(range(399, -1, -1))))
    assert sorted(f.relative_to(tmp_path / "a") for f in a.files) == sorted(f.relative_to(tmp_path / "b") for f in b.files)


def test_replace_calls_rewrites_touched_partitions(tmp_path):
    calls = rated_calls(1_000, seed=9, days=3)
    lake.write_calls(tmp_path, calls.slice(0, 500))
    lake.write_calls(tmp_path, calls.slice(500))  # two files per partition now
    day1 = pc.equal(pc.cast(calls.column("start_utc"), pa.date32()), pa.scalar(date(2026, 10, 1), pa.date32()))
    rerated = calls.filter(day1).slice(0, 20)
    idx = rerated.schema.get_field_index("actual_cost")
    rerated = rerated.set_column(idx, "actual_cost", pa.array([Decimal("7.77")] * 20, pa.decimal128(18, 2)))
    untouched = sorted(str(p) for p in (tmp_path / "calls").glob("date=2026-10-0[23]/*.parquet"))
    result = lake.replace_calls(tmp_path, rerated)
    assert result.new_rows == 0 and len(result.files) == 1
    assert len(list((tmp_path / "calls" / "date=2026-10-01").glob("*.parquet"))) == 1  # compacted
    assert sorted(str(p) for p in (tmp_path / "calls").glob("date=2026-10-0[23]/*.parquet")) == untouched
    stored = lake.read_calls(tmp_path)
    assert stored.num_rows == 1_000
    got = stored.filter(pc.is_in(stored.column("call_id"), value_set=rerated.column("call_id")))
    assert got.column("actual_cost").to_pylist() == [Decimal("7.77")] * 20
    # a new call through replace_calls is simply added
    assert lake.replace_calls(tmp_path, rated_calls(1, seed=10, prefix="new")).new_rows == 1
    assert lake.read_calls(tmp_path).num_rows == 1_001


def test_duckdb_reads_the_lake_with_exact_money(tmp_path):
    calls = rated_calls(1_500, seed=11, days=3)
    lake.write_calls(tmp_path, calls)
    (tmp_path / "calls" / "date=2026-10-01" / ".part-x.parquet.tmp").write_bytes(b"partial")
    rows = duckdb.execute(
        f"select date, count(*), sum(savings), typeof(sum(savings)) from {lake.calls_glob(tmp_path)} "
        "group by date order by date").fetchall()
    assert [r[0] for r in rows] == [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]
    assert sum(r[1] for r in rows) == 1_500
    assert sum(r[2] for r in rows) == pc.sum(calls.column("savings")).as_py()
    assert all(r[3].startswith("DECIMAL") for r in rows)


def test_calls_without_decimal_money_are_refused(tmp_path):
    with pytest.raises(StorageError, match="decimal money"):
        lake.write_calls(tmp_path, pa.table({"call_id": ["a"]}))


def test_concurrent_writers_do_not_duplicate(tmp_path):
    """Two processes write overlapping batches at once; the writer lock keeps call_ids unique."""
    calls = rated_calls(4_000, seed=12, days=2)
    batch = tmp_path / "batch.parquet"
    pq.write_table(calls, batch)
    script = "import sys, pyarrow.parquet as pq\nfrom warehouse import lake\n" \
             "print(lake.write_calls(sys.argv[1], pq.read_table(sys.argv[2])).new_rows)\n"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "lake"), str(batch)],
                              stdout=subprocess.PIPE, env=os.environ.copy()) for _ in range(2)]
    written = sorted(int(p.communicate(timeout=60)[0]) for p in procs)
    assert written == [0, 4_000]
    assert lake.read_calls(tmp_path / "lake").num_rows == 4_000
