"""The lake through pyarrow filesystems (issue 21): a ``file://`` URI reads and writes like the path; an object
store is refused for writes with a reason, and read through ``FileSystem.from_uri`` with the same resolution.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow.compute as pc
import pytest
from factories import rated_calls

from warehouse import lake, lakefs
from warehouse.config import load_config
from warehouse.errors import ConfigErrors, StorageError

START = datetime(2026, 10, 1, tzinfo=timezone.utc)


def _ids(table) -> list[str]:
    return sorted(table.column("call_id").to_pylist())


def test_a_file_uri_reads_what_the_path_holds_superseded_files_left_out(tmp_path):
    root = tmp_path / "lake"
    calls = rated_calls(3_000, start=START, days=3)
    lake.write_calls(root, calls.slice(0, 1_000))
    lake.write_calls(f"file://{root}", calls.slice(1_000))  # a writer given the URI writes the same lake
    changed = calls.slice(0, 500).set_column(
        calls.schema.get_field_index("extension"), "extension", pc.utf8_upper(calls.column("extension").slice(0, 500)))
    lake.replace_calls(root, changed, grace_s=30)  # old files stay on disk, superseded, for 30 s
    on_disk = sum(1 for _ in root.rglob("*.parquet"))
    assert on_disk > sum(len(lake.live_files(f)) for _, f in lake.partitions(root))  # superseded files present

    by_path = lake.read_calls(root)
    by_uri = lake.read_calls(f"file://{root}")
    assert _ids(by_uri) == _ids(by_path) == sorted(calls.column("call_id").to_pylist())
    assert by_uri.sort_by("call_id").equals(by_path.select(by_uri.column_names).sort_by("call_id"))
    day = START.date()
    assert _ids(lake.read_calls(f"file://{root}", day, day)) == _ids(lake.read_calls(root, day, day))
    assert lake.read_calls(f"file://{tmp_path}/empty").num_rows == 0


def test_an_object_store_is_refused_for_writing_with_the_reason(tmp_path):
    with pytest.raises(StorageError, match="POSIX filesystem"):
        lake.write_calls("s3://bucket/lake", rated_calls(10, start=START))
    assert lakefs.local_root(f"file://{tmp_path}/x") == tmp_path / "x"


def test_the_config_takes_a_file_uri_and_names_the_key_of_an_object_store(tmp_path):
    from clusterkit import enterprise_at

    ent = enterprise_at(tmp_path / "ent")
    text = ent.path.read_text()
    ent.path.write_text(text.replace('lake = "lake"', f'lake = "file://{tmp_path}/shared-lake"'))
    assert load_config(ent.path).storage.lake == tmp_path / "shared-lake"
    ent.path.write_text(text.replace('lake = "lake"', 'lake = "s3://bucket/lake"'))
    with pytest.raises(ConfigErrors, match="object store"):
        load_config(ent.path)
