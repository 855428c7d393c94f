"""The weekday × hour heatmap sums calls per UTC quarter-hour before the local clock: still exact in zones
a half or three quarters of an hour off UTC, and across a daylight-saving change."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from lakefactory import random_calls, write_lake

from analytics.selection import select
from analytics.timeseries import hourly_heatmap

ZONES = {"NYC": "Asia/Kolkata", "LON": "Asia/Kathmandu", "SHA": "America/St_Johns"}  # +5:30, +5:45, −3:30/−2:30


@pytest.mark.parametrize("value", ["calls", "minutes", "savings"])
def test_quarter_hour_sums_equal_the_per_call_local_time(tmp_path, value):
    rows = random_calls(2_000, seed=8, months=("2026-10", "2026-11"))
    for i, row in enumerate(rows):  # minutes other than :00 so calls fall on both sides of a local hour
        row["start_utc"] = row["start_utc"] + pd.Timedelta(minutes=(i * 7) % 60, seconds=i % 60)
    write_lake(tmp_path / "lake", rows)
    grid = hourly_heatmap(select(tmp_path / "lake", "2026-11", timezones=ZONES), value)
    calls = pd.DataFrame(rows)
    calls["start_utc"] = pd.to_datetime(calls.start_utc, utc=True)
    calls = calls[calls.start_utc.dt.strftime("%Y-%m") == "2026-11"]
    local = pd.concat([g.assign(local_at=g.start_utc.dt.tz_convert(ZONES[s]).dt.tz_localize(None)) for s, g in calls.groupby("site")])
    local["dow"], local["hour"] = local.local_at.dt.day_of_week, local.local_at.dt.hour
    for (dow, hour), g in local.groupby(["dow", "hour"]):
        if value == "calls":
            want = len(g)
        elif value == "minutes":
            want = Decimal((int(g.duration_s.sum()) * 100 + 30) // 60).scaleb(-2)
        else:
            want = sum((v for v, st in zip(g.savings, g.rating_status) if st == "rated"), Decimal(0))
        assert grid.iloc[dow, hour] == want, (dow, hour)
    assert (grid.iloc[:, :] != 0).to_numpy().sum() > 100
