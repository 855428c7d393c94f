"""Trunk concurrency swept in DuckDB (``trunk_concurrency``, the dashboard's) equals the pandas sweep
(``peak_concurrency(trunk_calls(...))``, the report's) and a brute-force count."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from lakefactory import call, random_calls, write_lake

from analytics.trunks import peak_concurrency, trunk_calls, trunk_concurrency, trunk_sweeps

PATTERNS = [("nyc-pbx", "NYC-GW*", "NYC-GW*")]


def _lake(root, seed: int):
    rows = random_calls(1500, seed=seed, months=("2026-10",))
    rng = np.random.default_rng(seed)
    for i, row in enumerate(rows):
        row["trunk"] = rng.choice([f"{row['site']}-GW1", f"{row['site']}-GW2", "SIP", None])
        if i % 7 == 0:  # a CDR without an end time: start + duration
            row["end_utc"] = None
    for k in range(5):  # five calls released at 10:00:00 at once, and the only call of the 10h after them
        rows.append(call(f"on-the-hour-{k}", f"2026-10-05T09:{10 + 10 * k}:00", "NYC", "acme", "Sales", "1001",
                         "outbound", "national", 0, "0.00", "0.00"))
        rows[-1].update(trunk="NYC-GW1", end_utc=datetime(2026, 10, 5, 10, tzinfo=timezone.utc))
    rows.append(call("after", "2026-10-05T10:30:00", "NYC", "acme", "Sales", "1001", "outbound", "national", 60,
                     "0.10", "0.10"))
    rows[-1]["trunk"] = "NYC-GW1"
    write_lake(root, rows)
    return root


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("freq", [None, "h"])
def test_duckdb_sweep_equals_the_pandas_sweep(tmp_path, seed, freq):
    lake = _lake(tmp_path / "lake", seed)
    got = trunk_concurrency(lake, "2026-10-01", "2026-10-31", patterns=PATTERNS, freq=freq)
    calls = trunk_calls(lake, "2026-10-01", "2026-10-31", patterns=PATTERNS)
    want = peak_concurrency(calls, freq=freq)
    assert len(got) > (100 if freq else 5) and got["peak"].max() > 1
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    only = trunk_concurrency(lake, "2026-10-01", "2026-10-31", patterns=PATTERNS, pbxs=["lon-pbx"], freq=freq)
    pd.testing.assert_frame_equal(only, peak_concurrency(calls[calls.pbx == "lon-pbx"], freq=freq), check_dtype=False)


def test_hourly_peak_is_the_brute_force_count_when_calls_end_on_the_hour(tmp_path):
    lake = _lake(tmp_path / "lake", 3)
    got = trunk_concurrency(lake, "2026-10-01", "2026-10-31", freq="h").set_index(["trunk_group", "bucket"])
    calls = trunk_calls(lake, "2026-10-01", "2026-10-31")
    calls["end_utc"] = calls[["start_utc", "end_utc"]].max(axis=1)
    checked = [*got.sample(40, random_state=1).index, ("NYC-GW1", pd.Timestamp("2026-10-05T10:00", tz="UTC"))]
    for group, hour in checked:
        row = got.loc[(group, hour)]
        part = calls[calls.trunk_group == group]
        instants = [hour, *part.start_utc[(part.start_utc >= hour) & (part.start_utc < hour + pd.Timedelta(hours=1))]]
        up = [int(((part.start_utc <= t) & (t < part.end_utc)).sum()) for t in instants]
        assert row["peak"] == max(up), (group, hour)


def test_no_trunk_calls_and_no_lake(tmp_path):
    assert trunk_concurrency(tmp_path / "none", "2026-10-01", "2026-10-31").empty
    rows = random_calls(20, seed=1, months=("2026-10",))
    write_lake(tmp_path / "lake", rows)
    assert trunk_concurrency(tmp_path / "lake", "2026-10-01", "2026-10-31", freq="h").empty
    assert trunk_concurrency(tmp_path / "lake", "2026-10-01", "2026-10-31", pbxs=[]).empty


def test_several_frequencies_from_one_read_and_fractional_seconds(tmp_path):
    lake = _lake(tmp_path / "lake", 4)
    calls = trunk_calls(lake, "2026-10-01", "2026-10-31")
    got = trunk_sweeps(lake, "2026-10-01", "2026-10-31", freqs=(None, "h", "D"))
    for frame, freq in zip(got, (None, "h", "D")):
        pd.testing.assert_frame_equal(frame, peak_concurrency(calls, freq=freq), check_dtype=False)
    table = write_lake(tmp_path / "seconds", random_calls(300, seed=6, months=("2026-10",)))
    shift = pa.array([250_000 * (i % 4) for i in range(table.num_rows)], pa.duration("us"))
    for name in ("start_utc", "end_utc"):  # sub-second CDR times (a lake written at microseconds)
        column = pc.add(table[name].cast(pa.timestamp("us", tz="UTC")), shift)
        table = table.set_column(table.schema.get_field_index(name), name, column)
    table = table.set_column(table.schema.get_field_index("trunk"), "trunk", pa.array(["GW"] * table.num_rows))
    (tmp_path / "ms" / "calls" / "date=2026-10-01").mkdir(parents=True)
    pq.write_table(table, tmp_path / "ms" / "calls" / "date=2026-10-01" / "part-0.parquet")
    calls = trunk_calls(tmp_path / "ms", "2026-10-01", "2026-10-31")
    assert (calls.start_utc.dt.microsecond > 0).any()
    for freq in (None, "h"):
        pd.testing.assert_frame_equal(trunk_concurrency(tmp_path / "ms", "2026-10-01", "2026-10-31", freq=freq),
                                      peak_concurrency(calls, freq=freq), check_dtype=False)
