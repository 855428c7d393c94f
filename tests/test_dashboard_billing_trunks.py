"""The /billing and /trunks pages (DuckDB-summed paths) show the analytics layer's per-call figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lakefactory import random_calls, write_lake

from analytics.billing import billing_split
from analytics.trunks import peak_concurrency, trunk_calls
from dashboards.pages import PageContext, billing, trunks, view_of


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    rows = random_calls(2_000, seed=9, months=("2026-10",))
    rng = np.random.default_rng(9)
    for row in rows:
        row["trunk"] = rng.choice([f"{row['site']}-GW1", f"{row['site']}-GW2", None])
    root = tmp_path_factory.mktemp("bt") / "lake"
    write_lake(root, rows)
    return root


def test_billing_page_lines_are_the_per_call_split(lake):
    ctx = PageContext(lake, "USD")
    data = billing.data(ctx, view_of(ctx, billing, {"month": "2026-10"}))
    split = billing_split(lake, "2026-10", currency="USD")
    shown = data.tables["lines"].frame
    assert len(shown) == len(split.lines) > 50
    assert list(shown["total"]) == [split.to_decimal(v) for v in split.lines["total"]]
    assert data.values["grand_total"] == split.to_decimal(split.total)


@pytest.mark.parametrize("query", [{}, {"site": "LON"}])
def test_trunks_page_equals_the_event_sweep(lake, query):
    ctx = PageContext(lake, "USD")
    data = trunks.data(ctx, view_of(ctx, trunks, {"month": "2026-10", **query}))
    calls = trunk_calls(lake, "2026-10-01", "2026-10-31")
    if query:
        calls = calls[calls.pbx == "lon-pbx"]
    want = peak_concurrency(calls)
    got = data.tables["peaks"].frame
    assert list(got["trunk_group"]) == list(want["trunk_group"]) and len(got) == (2 if query else 6)
    assert list(got["peak"]) == list(want["peak"]) and list(got["calls"]) == list(want["calls"])
    assert list(got["peak_at"]) == list(want["peak_at"])
    hourly = peak_concurrency(calls, freq="h")
    week = data.tables["peak_by_hour_of_week"].frame
    hourly["hour"] = hourly["bucket"].dt.hour
    for (group, hour), peak in hourly.groupby(["trunk_group", "hour"])["peak"].max().items():
        assert week[week.trunk_group == group][str(hour)].max() == peak, (group, hour)
    assert pd.notna(got["peak_at"]).all()
