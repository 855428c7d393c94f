"""Per-partition cubes (``dashboards.cube.DayCubes``): the month's cube rebuilt from per-day parts equals one
month-wide scan, and after a store into one day only that day is scanned again."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from lakefactory import random_calls, write_lake

from analytics.selection import select
from dashboards.cube import DayCubes, cube_of, regroup
from dashboards.pages import PageContext, cube

BREAKDOWNS = ("site", "carrier", "department", "call_type", "date", None)


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    write_lake(root, random_calls(3_000, seed=5))
    return root


def _same(a, b) -> None:
    for by in BREAKDOWNS:
        assert regroup(a, by).equals(regroup(b, by)), by


@pytest.mark.parametrize("filters", [{}, {"site": ["NYC"]}, {"site": ["LON", "NYC"], "call_type": ["outbound"]}])
def test_the_cube_from_day_parts_equals_one_scan_of_the_month(lake, filters):
    sel = select(lake, "2026-10", **filters)
    days = DayCubes()
    _same(days.cube(sel), cube_of(sel))
    scanned = days.scanned_days
    assert scanned >= 25
    _same(days.cube(sel), cube_of(sel))  # a second look scans nothing
    assert days.scanned_days == scanned


def test_after_a_store_into_one_day_only_that_day_is_scanned_again(lake):
    ctx = PageContext(lake, "USD")
    sel = select(lake, "2026-10")
    before = cube(ctx, sel)
    scanned = ctx.day_cubes.scanned_days
    day = lake / "calls" / "date=2026-10-14"
    more = pq.read_table(next(day.glob("*.parquet")))
    more = more.set_column(0, "call_id", [[f"live-{i}" for i in range(more.num_rows)]])
    pq.write_table(more, day / "part-live.parquet")  # what a live store adds
    after = cube(ctx, sel)
    assert ctx.day_cubes.scanned_days == scanned + 1
    _same(after, cube_of(sel))
    assert regroup(after, None)["calls"].iloc[0] == regroup(before, None)["calls"].iloc[0] + more.num_rows
