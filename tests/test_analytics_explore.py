"""The notebook API (select → breakdowns, time series, charts) against an independent pandas computation.

The lake is written by ``tests/lakefactory.py`` from Python rows; the expected figures are computed
from those same rows with plain pandas and ``Decimal`` sums, never through DuckDB or our SQL, and
must match to the cent.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from analytics import summary
from analytics.breakdowns import DIMENSIONS, call_type_mix, savings_by, top_destinations, top_talkers
from analytics.charts import daily_figure, heatmap_figure, mix_figure, top_figure
from analytics.savings import BREAKDOWN_COLUMNS, NO_VALUE
from analytics.selection import FilterValueError, select
from analytics.timeseries import WEEKDAYS, daily_savings, hourly_heatmap
from lakefactory import KNOWN_CALLS, KNOWN_OCTOBER, random_calls, write_lake

ZONES = {"NYC": "America/New_York", "LON": "Europe/London", "SHA": "Asia/Shanghai"}
ZERO = Decimal(0)


def dsum(values) -> Decimal:
    return sum((v for v in values if v is not None and v == v), ZERO)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore") / "lake"
    rows = random_calls(3_000, seed=21)
    write_lake(root, rows, files_per_partition=2)
    calls = pd.DataFrame(rows)
    calls["date"] = calls.start_utc.dt.date
    return root, calls


def october(calls: pd.DataFrame) -> pd.DataFrame:
    return calls[(calls.date >= date(2026, 10, 1)) & (calls.date <= date(2026, 10, 31))]


def expected_figures(group: pd.DataFrame) -> dict:
    rated = group[group.rating_status == "rated"]
    seconds = int(group.duration_s.sum())
    return {"calls": len(group), "minutes": (Decimal(seconds) / 60).quantize(Decimal("0.01")),
            "actual_cost": dsum(rated.actual_cost), "reference_cost": dsum(rated.reference_cost),
            "savings": dsum(rated.savings), "unrated_calls": int((group.rating_status != "rated").sum())}


def assert_table_matches(table: pd.DataFrame, expected: dict[str, dict]) -> None:
    assert set(table.index) == set(expected)
    for key, figures in expected.items():
        for column, value in figures.items():
            got = table.loc[key, column]
            assert got == value, (key, column, got, value)
            if column in ("actual_cost", "reference_cost", "savings", "minutes"):
                assert isinstance(got, Decimal), (key, column, type(got))


@pytest.mark.parametrize("by", ["site", "carrier", "department", "extension", "call_type", "category"])
def test_savings_by_equals_pandas(lake, by):
    root, calls = lake
    oct_ = october(calls)
    table = savings_by(select(root, "2026-10"), by)
    assert list(table.columns) == list(BREAKDOWN_COLUMNS) and table.index.name == by
    expected = {k: expected_figures(g) for k, g in oct_.groupby(oct_[by].fillna(NO_VALUE))}
    assert_table_matches(table, expected)
    assert dsum(table.savings) == summary(root, "2026-10").savings


def test_savings_by_site_agrees_with_the_monthly_summary(lake):
    root, _ = lake
    pd.testing.assert_frame_equal(savings_by(select(root, "2026-10"), "site"), summary(root, "2026-10").by_site)


def test_filters_select_the_same_calls_as_pandas(lake):
    root, calls = lake
    oct_ = october(calls)
    sel = select(root, "2026-10", site=["NYC", "SHA"], call_type="outbound", department="Sales")
    mask = oct_.site.isin(["NYC", "SHA"]) & (oct_.call_type == "outbound") & (oct_.department == "Sales")
    expected = {k: expected_figures(g) for k, g in oct_[mask].groupby("carrier", dropna=False)}
    expected = {NO_VALUE if k != k or k is None else k: v for k, v in expected.items()}
    assert_table_matches(savings_by(sel, "carrier"), expected)
    assert sel.count() == mask.sum() > 10
    frame = sel.frame(["call_id", "savings"])
    assert sorted(frame.call_id) == sorted(oct_[mask].call_id)
    ext = oct_[mask].extension.iloc[0]
    assert select(root, "2026-10", extension=ext).count() == (oct_.extension == ext).sum()


def test_daily_savings_equals_pandas_and_adds_up_to_the_month(lake):
    root, calls = lake
    oct_ = october(calls)
    days = daily_savings(select(root, "2026-10", carrier="acme"))
    acme = oct_[oct_.carrier == "acme"]
    assert list(days.index) == list(pd.date_range("2026-10-01", "2026-10-31").date)  # every day, calls or not
    expected = {d: expected_figures(g) for d, g in acme.groupby("date")}
    for day, row in days.iterrows():
        want = expected.get(day, {"calls": 0, "minutes": Decimal("0.00"), "actual_cost": ZERO, "reference_cost": ZERO,
                                  "savings": ZERO, "unrated_calls": 0})
        assert {k: row[k] for k in want} == want, day
    assert days.cumulative_savings.iloc[-1] == dsum(acme[acme.rating_status == "rated"].savings) == dsum(days.savings)
    assert (days.calls == 0).any()  # the lakefactory leaves days 29-31 empty


def test_top_destinations_and_talkers_equal_pandas(lake):
    root, calls = lake
    oct_ = october(calls)
    sel = select(root, "2026-10")
    outbound = oct_[oct_.direction == "outbound"]
    by_cat = sorted(((expected_figures(g)["actual_cost"], k) for k, g in outbound.groupby("category")),
                    key=lambda t: (-t[0], t[1]))
    top = top_destinations(sel, 3, by="actual_cost", level="category")
    assert list(top.index) == [1, 2, 3]
    assert list(zip(top.actual_cost, top.destination)) == by_cat[:3]

    minutes = {k: expected_figures(g) for k, g in oct_.groupby("extension")}
    ranked = sorted(minutes, key=lambda k: (-minutes[k]["minutes"], k))[:5]
    talkers = top_talkers(sel, 5, by="minutes")
    assert list(talkers.extension) == ranked
    for _, row in talkers.iterrows():
        assert row.minutes == minutes[row.extension]["minutes"]
        assert row.actual_cost == minutes[row.extension]["actual_cost"]
        latest = oct_[oct_.extension == row.extension].sort_values("start_utc").iloc[-1]
        assert row.site == latest.site
    with pytest.raises(ValueError, match="rank by"):
        top_talkers(sel, by="loudness")


def test_call_type_mix_equals_pandas(lake):
    root, calls = lake
    oct_ = october(calls)
    mix = call_type_mix(select(root, "2026-10"))
    counts = oct_.call_type.value_counts()
    assert mix.calls.to_dict() == counts.to_dict()
    for call_type, n in counts.items():
        share = (Decimal(int(n)) * 100 / len(oct_)).quantize(Decimal("0.1"))
        assert mix.loc[call_type, "share_pct"] == share
        assert mix.loc[call_type, "savings"] == expected_figures(oct_[oct_.call_type == call_type])["savings"]
    assert list(mix.calls) == sorted(mix.calls, reverse=True)


@pytest.mark.parametrize("value", ["calls", "actual_cost"])
def test_hourly_heatmap_is_in_each_sites_local_time(lake, value):
    root, calls = lake
    oct_ = october(calls)
    grid = hourly_heatmap(select(root, "2026-10", timezones=ZONES), value)
    assert grid.shape == (7, 24) and list(grid.index) == list(WEEKDAYS) and list(grid.columns) == list(range(24))
    local = pd.concat([g.start_utc.dt.tz_convert(ZONES[s]).dt.tz_localize(None).to_frame().assign(
        actual_cost=g.actual_cost.where(g.rating_status == "rated"), site=s) for s, g in oct_.groupby("site")])
    local["dow"], local["hour"] = local.start_utc.dt.day_of_week, local.start_utc.dt.hour
    for (dow, hour), g in local.groupby(["dow", "hour"]):
        want = len(g) if value == "calls" else dsum(g.actual_cost)
        assert grid.iloc[dow, hour] == want, (dow, hour)
    total = grid.to_numpy().sum()
    assert total == (len(oct_) if value == "calls" else dsum(local.actual_cost))
    # local time really differs from UTC: Shanghai (UTC+8) at 02:00 UTC is 10:00 local
    sha = hourly_heatmap(select(root, "2026-10", site="SHA", timezones=ZONES))
    sha_utc = hourly_heatmap(select(root, "2026-10", site="SHA"))
    assert sha.to_numpy().sum() == sha_utc.to_numpy().sum() and not sha.equals(sha_utc)
    assert sha.loc["Mon"].tolist()[8:] == sha_utc.loc["Mon"].tolist()[:16]  # Shanghai is UTC+8 all year


def test_heatmap_follows_daylight_saving(tmp_path):
    """London is UTC+1 until 25 Oct 2026 and UTC+0 after: 09:00 UTC is 10:00 then 09:00 local."""
    from lakefactory import call

    rows = [call(i, start, "LON", "acme", "Sales", "2001", "outbound", "national", 60, "0.10", "0.20")
            for i, start in (("a", "2026-10-20T09:00:00"), ("b", "2026-10-27T09:00:00"))]
    write_lake(tmp_path / "lake", rows)
    grid = hourly_heatmap(select(tmp_path / "lake", "2026-10", timezones=ZONES))
    assert grid.loc["Tue", 10] == 1 and grid.loc["Tue", 9] == 1 and grid.to_numpy().sum() == 2


def test_hand_worked_month_through_the_new_api(tmp_path):
    write_lake(tmp_path / "lake", KNOWN_CALLS)
    sel = select(tmp_path / "lake", "2026-10")
    by_site = savings_by(sel, "site")
    for site, figures in KNOWN_OCTOBER["by_site"].items():
        assert {k: by_site.loc[site, k] for k in figures} == figures
    assert dsum(daily_savings(sel).savings) == KNOWN_OCTOBER["savings"]


def test_unknown_filter_values_are_clear_errors(lake):
    root, _ = lake
    with pytest.raises(FilterValueError, match=r"filter site: unknown value 'NCY'.*LON, NYC, SHA"):
        select(root, "2026-10", site="NCY")
    with pytest.raises(FilterValueError, match="filter department: unknown values 'Nope', 'Nada'"):
        select(root, "2026-10", department=["Sales", "Nope", "Nada"])
    with pytest.raises(FilterValueError, match="call_type.*outbound"):
        select(root, "2026-10", call_type="outgoing")
    assert select(root, "2026-10", call_type="tandem").count() == 0  # a real call type, just none this month
    with pytest.raises(ValueError, match="break down by"):
        savings_by(select(root, "2026-10"), "colour")


def test_empty_lake_gives_typed_empty_tables(tmp_path):
    sel = select(tmp_path / "nothing", "2026-10")
    assert sel.count() == 0
    assert list(savings_by(sel, "site").columns) == list(BREAKDOWN_COLUMNS)
    days = daily_savings(sel)
    assert len(days) == 31 and (days.calls == 0).all() and dsum(days.savings) == ZERO
    assert top_talkers(sel).empty and call_type_mix(sel).empty
    assert hourly_heatmap(sel).to_numpy().sum() == 0
    assert daily_savings(select(tmp_path / "nothing")).empty


def test_dimensions_cover_the_brief():
    assert {"site", "carrier", "department", "extension", "call_type"} <= set(DIMENSIONS)


def test_figures_draw_the_tables(lake):
    root, _ = lake
    sel = select(root, "2026-10", timezones=ZONES)
    days = daily_savings(sel)
    fig = daily_figure(days, currency="USD")
    bars = {t.name: list(t.y) for t in fig.data}
    assert bars["Savings"] == [float(v) for v in days.savings]
    assert bars["Cumulative savings"][-1] == float(days.savings.sum())
    top = top_talkers(sel, 5)
    tf = top_figure(top, "actual_cost", currency="USD")
    assert list(tf.data[0].y) == list(top.extension)[::-1] and tf.data[0].x[-1] == float(top.actual_cost.iloc[0])
    mix = call_type_mix(sel)
    assert dict(zip(mix_figure(mix).data[0].labels, mix_figure(mix).data[0].values)) == {
        k: float(v) for k, v in mix.calls.items()}
    grid = hourly_heatmap(sel)
    hm = heatmap_figure(grid)
    assert [list(r) for r in hm.data[0].z] == [[float(v) for v in row] for row in grid.to_numpy()]
