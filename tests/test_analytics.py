"""The analyst API over a real Parquet lake: exact figures, month boundaries, filters, empty lakes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from analytics import PeriodError, available_months, month_range, savings_figure, select, summary
from analytics.savings import BREAKDOWN_COLUMNS, NO_VALUE
from lakefactory import KNOWN_CALLS, KNOWN_OCTOBER, random_calls, write_lake


@pytest.fixture(scope="module")
def known_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("known") / "lake"
    write_lake(root, KNOWN_CALLS)
    return root


@pytest.fixture(scope="module")
def random_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("random") / "lake"
    rows = random_calls(3_000, seed=5)
    write_lake(root, rows, files_per_partition=3)
    return root, pd.DataFrame(rows)


def test_summary_matches_hand_worked_figures(known_lake):
    s = summary(known_lake, "2026-10")
    for key in ("calls", "answered_calls", "minutes", "actual_cost", "reference_cost", "savings", "unrated_calls",
                "unrated_minutes"):
        assert getattr(s, key) == KNOWN_OCTOBER[key], key
    assert isinstance(s.savings, Decimal) and s.scale == 2 and s.currency == "USD"
    assert s.savings_pct == Decimal("52.1")
    assert list(s.by_site.columns) == list(BREAKDOWN_COLUMNS)
    for site, expected in KNOWN_OCTOBER["by_site"].items():
        row = s.by_site.loc[site]
        for key, value in expected.items():
            assert row[key] == value, (site, key)


def test_month_is_the_utc_date_partitions(known_lake):
    """s1 (Sep 30 23:59Z) and n1 (Nov 1 00:00Z) are outside October; c1 (Oct 1 00:00Z) and c3 (Oct 31 23:30Z) in."""
    ids = set(select(known_lake, "2026-10").frame().call_id)
    start, end = month_range("2026-10")
    assert ids == set(select(known_lake, start=start, end=end).frame().call_id)
    assert {"c1", "c3"} <= ids and not {"s1", "n1"} & ids
    assert summary(known_lake, "2026-09").calls == 1
    assert summary(known_lake, "2026-11").savings == Decimal("4.00")
    assert available_months(known_lake) == ["2026-09", "2026-10", "2026-11"]


def test_unrated_calls_are_counted_apart_never_as_zero_cost(known_lake):
    s = summary(known_lake, "2026-10")
    df = select(known_lake, start="2026-10-01", end="2026-10-31").frame()
    unrated = df[df.rating_status == "unrated"]
    assert set(unrated.call_id) == {"c4", "c10"}
    assert unrated.actual_cost.isna().all() and unrated.savings.isna().all()
    assert s.rated_calls == 8
    # the unrated SHA call is in the SHA calls but adds nothing to its cost
    assert s.by_site.loc["SHA", "calls"] == 2 and s.by_site.loc["SHA", "actual_cost"] == Decimal("12.34")
    # calls without a carrier or a department get their own group, not a dropped row
    assert s.by_carrier.loc[NO_VALUE, "calls"] == 3 and s.by_department.loc[NO_VALUE, "unrated_calls"] == 1


def test_selection_frame_keeps_money_exact_and_filters(known_lake):
    df = select(known_lake, start=date(2026, 10, 1), end="2026-10-31", site=["NYC", "LON"],
                call_type="outbound").frame()
    assert sorted(df.call_id) == ["c1", "c3", "c4", "c5", "c6"]
    rated = df[df.rating_status == "rated"]
    assert all(isinstance(v, Decimal) for v in rated.savings)
    assert rated.savings.sum() == Decimal("0.80") + Decimal("0.20") + Decimal("0.00") + Decimal("4.95")
    assert list(select(known_lake, carrier="globex", department="Finance").frame().call_id) == ["c6", "n1"]
    assert select(known_lake, extension="3001").frame().call_id.tolist() == ["c9"]
    assert "date" in df.columns and (df.date >= date(2026, 10, 1)).all()


def test_summary_equals_an_independent_pandas_computation(random_lake):
    root, calls = random_lake
    october = calls[(calls.start_utc >= pd.Timestamp("2026-10-01", tz="UTC"))
                    & (calls.start_utc < pd.Timestamp("2026-11-01", tz="UTC"))]
    rated = october[october.rating_status == "rated"]
    s = summary(root, "2026-10")
    assert s.calls == len(october) > 500
    assert s.actual_cost == sum(rated.actual_cost, Decimal(0))
    assert s.reference_cost == sum(rated.reference_cost, Decimal(0))
    assert s.savings == sum(rated.savings, Decimal(0)) == s.reference_cost - s.actual_cost
    assert s.unrated_calls == (october.rating_status == "unrated").sum() > 0
    assert s.minutes == (Decimal(int(october.duration_s.sum())) / 60).quantize(Decimal("0.01"))
    for by, frame in s.breakdowns().items():
        keys = october[by].fillna(NO_VALUE)
        expected_calls = october.groupby(keys).size()
        expected_savings = rated.groupby(rated[by].fillna(NO_VALUE))["savings"].agg(lambda v: sum(v, Decimal(0)))
        assert frame["calls"].to_dict() == expected_calls.to_dict(), by
        for key, value in expected_savings.items():
            assert frame.loc[key, "savings"] == value, (by, key)
        assert sum(frame["savings"], Decimal(0)) == s.savings


def test_partitions_outside_the_period_are_not_read(tmp_path):
    """Pruning is by folder name: an unreadable file in November cannot break October's figures."""
    root = tmp_path / "lake"
    write_lake(root, KNOWN_CALLS)
    (root / "calls" / "date=2026-11-01" / "part-9.parquet").write_bytes(b"not parquet at all")
    assert summary(root, "2026-10").savings == KNOWN_OCTOBER["savings"]
    with pytest.raises(duckdb.Error):
        summary(root, "2026-11")


def test_empty_lake_gives_zeros_and_typed_empty_frames(tmp_path):
    s = summary(tmp_path / "nothing-here", "2026-10")
    assert (s.calls, s.savings, s.unrated_calls) == (0, Decimal("0.00"), 0)
    assert list(s.by_site.columns) == list(BREAKDOWN_COLUMNS) and s.by_site.index.name == "site"
    df = select(tmp_path / "nothing-here").frame()
    assert df.empty and {"call_id", "site", "savings", "date"} <= set(df.columns)
    write_lake(tmp_path / "lake", KNOWN_CALLS)
    assert select(tmp_path / "lake", start="2027-01-01", end="2027-01-31").frame().empty
    assert available_months(tmp_path / "nothing-here") == []


def test_currency_without_minor_unit_keeps_its_scale(tmp_path):
    rows = random_calls(300, seed=3, months=("2026-10",), scale=0)
    write_lake(tmp_path / "lake", rows, scale=0)
    s = summary(tmp_path / "lake", "2026-10")
    assert s.scale == 0 and s.savings == s.savings.quantize(Decimal(1))
    assert s.savings == sum((r["savings"] for r in rows if r["savings"] is not None), Decimal(0))


@pytest.mark.parametrize("bad", ["2026-13", "2026/10", "october", ""])
def test_bad_period_is_a_clear_error(known_lake, bad):
    with pytest.raises(PeriodError, match="YYYY-MM"):
        summary(known_lake, bad)


def test_savings_figure_from_a_breakdown_and_from_raw_calls(known_lake):
    s = summary(known_lake, "2026-10")
    fig = savings_figure(s.by_site, by="site", currency="USD")
    bars = {t.name: dict(zip(t.x, t.y)) for t in fig.data}
    assert set(bars) == {"Reference cost", "Actual cost", "Savings"}
    assert bars["Savings"] == {"LON": 4.95, "NYC": 3.5, "SHA": 7.67}
    raw = savings_figure(select(known_lake, "2026-10").frame(), by="carrier")
    assert dict(zip(raw.data[2].x, raw.data[2].y))["acme"] == pytest.approx(8.47)


def test_sub_partitions_and_writer_temp_files(tmp_path):
    """``date=…/site=…/`` beside plain ``date=…/`` reads as one lake; ``_SUCCESS`` and dot-files are no data."""
    root = tmp_path / "lake"
    write_lake(root, KNOWN_CALLS, files_per_partition=1)
    day = root / "calls" / "date=2026-10-03"
    (day / "site=SHA").mkdir()
    (day / "part-0.parquet").rename(day / "site=SHA" / "part-0.parquet")
    (day / "_SUCCESS").write_text("")
    (day / ".part-1.parquet").write_bytes(b"half-written")
    s = summary(root, "2026-10")
    assert s.savings == KNOWN_OCTOBER["savings"] and s.by_site.loc["SHA", "calls"] == 2
    sha = select(root, site="SHA").frame()
    assert sha.call_id.tolist() == ["c9", "c10"] and set(sha.date) == {date(2026, 10, 3)}


def test_docstring_examples_run():
    import doctest

    import analytics.calls
    import analytics.savings

    for module in (analytics.calls, analytics.savings):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
    assert doctest.testmod(analytics.calls).attempted >= 2


def test_summary_shows_itself_in_a_notebook(known_lake):
    s = summary(known_lake, "2026-10")
    assert s.headline()["savings"] == Decimal("16.12")
    page = s._repr_html_()
    assert "16.12" in page and "SHA" in page
