"""Trunk concurrency (analytics.trunks) against a brute-force count, and the trunk-utilisation report."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from analytics.trunks import hour_of_day_profile, peak_concurrency, trunk_calls
from lakefactory import write_lake
from reportkit import report_calls, write_enterprise
from analytics.reporting import run_report
from warehouse.config import load_config

UTC = timezone.utc


def brute_peak(starts: np.ndarray, ends: np.ndarray, instants: np.ndarray) -> int:
    """Calls up at each candidate instant ([start, end) intervals), the maximum — O(n·m), obviously right."""
    if not len(instants):
        return 0
    up = (starts[None, :] <= instants[:, None]) & (instants[:, None] < ends[None, :])
    return int(up.sum(axis=1).max())


def naive(values) -> np.ndarray:
    """UTC instants as numpy datetime64 (tz-aware pandas values become objects otherwise)."""
    return pd.to_datetime(pd.Series(values), utc=True).dt.tz_convert(None).to_numpy()


def random_trunk_calls(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-10-01", tz="UTC")
    start = base + pd.to_timedelta(rng.integers(0, 2 * 86_400, n), unit="s")
    held = pd.to_timedelta(rng.choice([0, 1, 30, 600, 3_600, 7_200], n) + rng.integers(0, 60, n), unit="s")
    return pd.DataFrame({"trunk_group": rng.choice(["A", "B", "C"], n), "start_utc": start, "end_utc": start + held})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_peak_per_group_equals_brute_force(seed):
    calls = random_trunk_calls(400, seed)
    got = peak_concurrency(calls).set_index("trunk_group")
    for group, part in calls.groupby("trunk_group"):
        s, e = naive(part.start_utc), naive(part.end_utc)
        assert got.loc[group, "peak"] == brute_peak(s, e, s), group
        at = got.loc[group, "peak_at"].tz_convert(None).to_datetime64()
        assert brute_peak(s, e, np.array([at])) == got.loc[group, "peak"]
        assert got.loc[group, "calls"] == len(part)


@pytest.mark.parametrize("seed", [4, 5])
def test_hourly_peak_counts_calls_carried_into_the_hour(seed):
    calls = random_trunk_calls(300, seed)
    got = peak_concurrency(calls, freq="h").set_index(["trunk_group", "bucket"])
    for group, part in calls.groupby("trunk_group"):
        s, e = naive(part.start_utc), naive(part.end_utc)
        hours = pd.date_range(part.start_utc.min().floor("h"), part.end_utc.max().floor("h"), freq="h")
        for h in hours:
            inside = s[(s >= h.to_datetime64()) & (s < (h + pd.Timedelta(hours=1)).to_datetime64())]
            expect = brute_peak(s, e, np.concatenate([[h.to_datetime64()], inside]))
            assert got.loc[(group, h), "peak"] == expect, (group, h)


def test_back_to_back_calls_share_a_channel_and_a_long_call_spans_hours():
    t0 = datetime(2026, 10, 1, 10, tzinfo=UTC)
    calls = pd.DataFrame({"trunk_group": ["A"] * 3,
                          "start_utc": pd.to_datetime([t0, t0 + timedelta(minutes=5), t0 - timedelta(hours=2)]),
                          "end_utc": pd.to_datetime([t0 + timedelta(minutes=5), t0 + timedelta(minutes=9),
                                                     t0 + timedelta(hours=1)])})
    assert peak_concurrency(calls).peak.tolist() == [2]  # the 3-hour call + one of the back-to-back pair
    hourly = peak_concurrency(calls, freq="h")
    assert hourly.peak.tolist() == [1, 1, 2, 0]  # 08h, 09h (nothing starts: carried in), 10h, 11h (ended at 11:00)
    assert hour_of_day_profile(hourly, timezones={"A": "Europe/London"}).loc["A", 11] == 2  # 10 UTC = 11 BST


def test_trunk_utilisation_report_groups_by_config_and_equals_brute_force(tmp_path):
    rows = report_calls(2_000, seed=13)
    write_lake(tmp_path / "lake", rows)
    ent = load_config(write_enterprise(tmp_path))
    [path] = run_report("trunk-utilisation", tmp_path / "lake", "2026-10", ["json"], tmp_path / "o", "USD", config=ent)
    doc = json.loads(path.read_text())
    groups = {r["label"]: r for r in doc["tables"]["groups"] if r["kind"] == "group"}
    assert set(groups) == {"NYC-PSTN-*", "LON-PSTN-*", "SHA-PSTN-*"}
    df = pd.DataFrame(rows)
    oct_ = df[(df.start_utc.dt.strftime("%Y-%m") == "2026-10") & df.trunk.notna()]
    for site, glob in (("NYC", "NYC-PSTN-*"), ("LON", "LON-PSTN-*"), ("SHA", "SHA-PSTN-*")):
        part = oct_[oct_.site == site]
        s, e = naive(part.start_utc), naive(part.end_utc)
        assert groups[glob]["peak"] == brute_peak(s, e, s) and groups[glob]["calls"] == len(part)
        assert groups[glob]["site"] == site
    assert trunk_calls(tmp_path / "no-lake").empty
