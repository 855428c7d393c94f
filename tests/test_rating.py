"""The rating engine on hand-worked calls (SPEC §5): every expected figure below is worked out in the comment."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from warehouse.money import decimal128_to_minor, minor_to_decimal128, minor_unit, parse_scaled, MoneyFormatError
from analytics.rating.engine import SiteClock, rate
from analytics.rating.explain import explain_call as explain
from analytics.rating.tariffs import load_tariff

HEADER = "plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,increment,valid_from,valid_to"
ROWS = [
    "acme,,44,United Kingdom,international,all,00:00,24:00,0.00,0.1200,60,60,2026-01-01,",  # 0
    "acme,,447,UK mobile,international,all,00:00,24:00,0.00,0.2500,1,1,2026-01-01,",  # 1
    "acme,1212,1212,NYC local,local,mon-fri,08:00,18:00,0.05,0.0200,30,6,2026-01-01,2026-12-31",  # 2
    "acme,1212,1212,NYC local,local,mon-fri,00:00,08:00,0.05,0.0100,30,6,2026-01-01,2026-12-31",  # 3
    "acme,1212,1212,NYC local,local,mon-fri,18:00,24:00,0.05,0.0100,30,6,2026-01-01,2026-12-31",  # 4
    "acme,1212,1212,NYC local,local,sat-sun,00:00,24:00,0.05,0.0100,30,6,2026-01-01,2026-12-31",  # 5
    "acme,1212,1212,NYC local,local,holiday,00:00,24:00,0.00,0.0050,30,6,2026-01-01,2026-12-31",  # 6
    "acme,,1212,NYC from elsewhere,national,all,00:00,24:00,0.00,0.0300,60,60,2026-01-01,",  # 7
    "acme,,1,US,national,all,00:00,24:00,0.00,0.0400,60,60,2026-01-01,2026-10-14",  # 8
    "acme,,1,US,national,all,00:00,24:00,0.00,0.0300,60,60,2026-10-15,",  # 9
    "acme,,33,France,international,mon-fri,08:00,18:00,0.00,0.1000,60,60,2026-01-01,",  # 10
    "acme,,1999,DST test,national,all,00:00,01:00,0.00,0.6000,60,60,2026-01-01,",  # 11
    "acme,,1999,DST test,national,all,01:00,02:00,0.00,1.2000,60,60,2026-01-01,",  # 12
    "acme,,1999,DST test,national,all,02:00,03:00,0.00,2.4000,60,60,2026-01-01,",  # 13
    "acme,,1999,DST test,national,all,03:00,24:00,0.00,4.8000,60,60,2026-01-01,",  # 14
]
SITES = {"NYC": SiteClock("America/New_York", "US", "NY"), "LON": SiteClock("Europe/London", "GB", "ENG")}
NYC = "12125550000"
CHI = "13125550000"


@pytest.fixture(scope="module")
def tariff(tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "acme.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    return load_tariff(path, scale=2)


def one(tariff, dest, at, duration, *, origin=NYC, site="NYC", split=False, scale=2) -> dict:
    frame = pd.DataFrame({"dest": [dest], "origin": [origin], "site": [site], "at_utc": [pd.Timestamp(at)],
                          "duration_s": [duration]})
    return rate(tariff, frame, sites=SITES, split=split, scale=scale).to_pandas().iloc[0].to_dict()


WED = "2026-10-14T14:00:00Z"  # Wednesday 10:00 in New York (EDT)


@pytest.mark.parametrize("dest, duration, cents, billable, row", [
    ("442079460018", 60, 12, 60, 0),  # 60/60: one minute at 0.12
    ("442079460018", 61, 24, 120, 0),  # 60/60: 61 s → 2 minutes → 0.24
    ("447911123456", 61, 25, 61, 1),  # 1/1 and longest prefix 447 over 44: 0.25 × 61/60 = 0.25416… → 0.25
    ("447911123456", 1, 0, 1, 1),  # 0.25/60 = 0.0041… → 0.00 (rated, not unrated)
    ("12125551234", 10, 6, 30, 2),  # 30/6, fee: 0.05 + 0.02 × 30/60 = 0.06
    ("12125551234", 31, 6, 36, 2),  # 0.05 + 0.02 × 36/60 = 0.062 → 0.06
    ("12125551234", 74, 8, 78, 2),  # 30 + ceil(44/6)·6 = 78: 0.05 + 0.026 = 0.076 → 0.08
])
def test_increments_connect_fee_and_longest_prefix(tariff, dest, duration, cents, billable, row):
    r = one(tariff, dest, WED, duration)
    assert (r["status"], r["cost_minor"], r["billable_s"], r["row"]) == ("rated", cents, billable, row)


def test_unanswered_costs_zero_and_carries_no_row(tariff):
    for d in (0, -5):
        r = one(tariff, "442079460018", WED, d)
        assert (r["status"], r["cost_minor"], r["billable_s"]) == ("rated", 0, 0)
        assert pd.isna(r["row"]) and pd.isna(r["reason"])


def test_half_up_once_per_call_on_a_holiday(tariff):
    # Thanksgiving, Thu 2026-11-26 10:00 EST: the holiday row (fee 0, 0.005/min); 60 s → 0.005 exactly → 0.01
    r = one(tariff, "12125551234", "2026-11-26T15:00:00Z", 60)
    assert (r["band"], r["cost_minor"], r["row"]) == ("holiday 00:00-24:00", 1, 6)
    # the same Thursday a week earlier is a weekday: 0.05 + 0.02 = 0.07
    assert one(tariff, "12125551234", "2026-11-19T15:00:00Z", 60)["cost_minor"] == 7


def test_call_on_the_eve_of_a_holiday_running_past_midnight(tariff):
    at = "2026-11-26T04:59:30Z"  # Wed 2026-11-25 23:59:30 EST, 90 s → billable 96
    whole = one(tariff, "12125551234", at, 90)
    assert (whole["band"], whole["cost_minor"]) == ("mon-fri 18:00-24:00", 7)  # 0.05 + 0.01 × 96/60 = 0.066
    split = one(tariff, "12125551234", at, 90, split=True)
    # 0.05 + 0.01 × 30/60 (23:59:30) + 0.005 × 66/60 (holiday from 00:00) = 0.0605 → 0.06
    assert (split["band"], split["cost_minor"]) == ("mon-fri 18:00-24:00+holiday 00:00-24:00", 6)
    assert split["row"] == 4  # fee and increments of the row chosen at answer


def test_band_split_across_18_00(tariff):
    at = "2026-10-14T21:59:00Z"  # Wed 17:59:00 EDT, 125 s → billable 126
    assert one(tariff, "12125551234", at, 125)["cost_minor"] == 9  # 0.05 + 0.02 × 126/60 = 0.092
    r = one(tariff, "12125551234", at, 125, split=True)
    # increments start at 0, 30, 36 … 54 (peak) and 60 … 120 (18:00+): 0.05 + 0.02 + 0.01 × 66/60 = 0.081
    assert (r["cost_minor"], r["band"]) == (8, "mon-fri 08:00-18:00+mon-fri 18:00-24:00")


def test_local_time_follows_dst(tariff):
    # 12:30Z is 07:30 EST on Friday 2026-03-06 but 08:30 EDT on Monday 2026-03-09
    assert one(tariff, "12125551234", "2026-03-06T12:30:00Z", 60)["band"] == "mon-fri 00:00-08:00"
    assert one(tariff, "12125551234", "2026-03-09T12:30:00Z", 60)["band"] == "mon-fri 08:00-18:00"


def test_spring_forward_never_enters_the_missing_hour(tariff):
    # 2026-03-08 06:59:00Z = 01:59 EST; one minute later it is 03:00 EDT: 02:00-03:00 never applies
    r = one(tariff, "19995550000", "2026-03-08T06:59:00Z", 120, split=True)
    assert r["band"] == "all 01:00-02:00+all 03:00-24:00"
    assert r["cost_minor"] == 120 + 480  # 1.20 + 4.80


def test_fall_back_prices_both_occurrences_of_01_30(tariff):
    first = one(tariff, "19995550000", "2026-11-01T05:30:00Z", 60)  # 01:30 EDT
    second = one(tariff, "19995550000", "2026-11-01T06:30:00Z", 60)  # 01:30 EST, an hour later
    after = one(tariff, "19995550000", "2026-11-01T07:30:00Z", 60)  # 02:30 EST
    assert first["band"] == second["band"] == "all 01:00-02:00" and first["cost_minor"] == second["cost_minor"] == 120
    assert after["band"] == "all 02:00-03:00"
    # a split call from 01:59 EDT runs into the *second* 01:00 hour, not into 02:00
    r = one(tariff, "19995550000", "2026-11-01T05:59:00Z", 120, split=True)
    assert (r["band"], r["cost_minor"]) == ("all 01:00-02:00", 240)


def test_origin_row_beats_empty_origin_at_the_same_prefix(tariff):
    assert one(tariff, "12125551234", WED, 60)["row"] == 2  # from NYC: the origin-1212 row
    from_chicago = one(tariff, "12125551234", WED, 60, origin=CHI)
    assert (from_chicago["row"], from_chicago["cost_minor"], from_chicago["category"]) == (7, 3, "national")
    assert one(tariff, "13125551234", WED, 60, origin=CHI)["prefix"] == "1"  # no 1312 prefix: the shorter one


def test_validity_change_mid_month_uses_the_site_local_date(tariff):
    before = one(tariff, "13125551234", "2026-10-14T20:00:00Z", 60, origin=CHI)
    late_evening = one(tariff, "13125551234", "2026-10-15T02:00:00Z", 60, origin=CHI)  # still the 14th in NY
    after = one(tariff, "13125551234", "2026-10-15T14:00:00Z", 60, origin=CHI)
    assert (before["cost_minor"], before["tariff_version"]) == (4, "2026-01-01")
    assert (late_evening["cost_minor"], late_evening["tariff_version"]) == (4, "2026-01-01")
    assert (after["cost_minor"], after["tariff_version"]) == (3, "2026-10-15")


def test_origin_rows_expire_then_the_empty_origin_row_prices(tariff):
    r = one(tariff, "12125551234", "2027-01-05T15:00:00Z", 60)  # the 1212-origin rows ended 2026-12-31
    assert (r["row"], r["cost_minor"]) == (7, 3)


@pytest.mark.parametrize("dest, at, reason", [
    ("999123456", WED, "no prefix"),
    ("", WED, "no prefix"),
    ("+33", WED, "no prefix"),
    ("33123456789", "2026-10-17T14:00:00Z", "no band"),  # Saturday: France has weekday daytime rows only
    ("33123456789", "2026-10-14T23:00:00Z", "no band"),  # 19:00 on a weekday
    ("33123456789", "2025-12-01T14:00:00Z", "no tariff version in force"),
])
def test_unpriceable_calls_are_unrated_with_a_reason_and_no_cost(tariff, dest, at, reason):
    r = one(tariff, dest, at, 60)
    assert (r["status"], r["reason"]) == ("unrated", reason)
    assert pd.isna(r["cost_minor"])  # never 0


def test_unknown_site_and_missing_time_are_unrated(tariff):
    frame = pa.table({"dest": ["442079460018"] * 2, "origin": [NYC] * 2, "site": ["MARS", "NYC"],
                      "at_utc": pa.array([1_790_000_000, None], pa.timestamp("s", tz="UTC")),
                      "duration_s": pa.array([60, 60], pa.int32())})
    out = rate(tariff, frame, sites=SITES, scale=2)
    assert out["reason"].to_pylist() == ["unknown site", "no answer time"]
    assert out["cost_minor"].null_count == 2


def test_arrow_input_and_result_shape(tariff):
    n = 1000
    rng = np.random.default_rng(7)
    frame = pa.table({
        "dest": pa.array(rng.choice(["442079460018", "447911123456", "12125551234", "999"], n)),
        "origin": [NYC] * n, "site": pa.array(["NYC"] * n).dictionary_encode(),
        "at_utc": pa.array(rng.integers(1_767_225_600, 1_798_761_600, n), pa.timestamp("s", tz="UTC")),
        "duration_s": pa.array(rng.integers(0, 600, n), pa.int64()),
    })
    out = rate(tariff, frame, sites=SITES, scale=2)
    assert out.num_rows == n
    assert {"cost_minor", "status", "reason", "plan", "prefix", "category", "destination", "band", "tariff_version",
            "billable_s", "row"} <= set(out.column_names)
    df = out.to_pandas()
    assert str(df["cost_minor"].dtype) == "Int64"
    unrated = df["status"] == "unrated"
    assert (df.loc[unrated, "reason"] == "no prefix").all() and df.loc[unrated, "cost_minor"].isna().all()
    assert (frame["dest"].to_numpy(zero_copy_only=False)[unrated.to_numpy()] == "999").all()
    # the same calls one at a time give the same figures
    for i in rng.choice(n, 20, replace=False):
        single = rate(tariff, frame.slice(int(i), 1), sites=SITES, scale=2).to_pandas().iloc[0]
        assert single.equals(df.iloc[int(i)].rename(single.name)) or single.to_dict() == df.iloc[int(i)].to_dict()


def test_scale_follows_the_currency(tariff):
    # 447 at 0.25/min for 61 s = 0.254166…: JPY-like scale 0 → 0, KWD-like scale 3 → 0.254
    assert one(tariff, "447911123456", WED, 61, scale=0)["cost_minor"] == 0
    assert one(tariff, "447911123456", WED, 61, scale=3)["cost_minor"] == 254


def test_explain_names_the_row_its_line_and_the_rounding(tariff):
    call = {"dest": "12125551234", "origin": NYC, "site": "NYC", "at_utc": "2026-10-14T21:59:00Z", "duration_s": 125}
    text = "\n".join(explain(tariff, call, SITES, True, 2))
    assert f"{tariff.path}:4" in text and "(line 6)" in text  # rows 2 and 4 → file lines 4 and 6
    assert "billable: 30 + ceil((125 − 30) / 6) × 6 = 30 + 16 × 6 = 126 s" in text
    assert "unrounded cost: 0.081" in text and "0.08" in text and "DIFFERS" not in text
    text = "\n".join(explain(tariff, dict(call, dest="999"), SITES, False, 2))
    assert "unrated: no prefix" in text


def test_money_helpers_are_exact():
    assert [minor_unit(c) for c in ("USD", "JPY", "KWD")] == [2, 0, 3]
    assert parse_scaled("0.0125", 6) == 12_500 and parse_scaled("3", 6) == 3_000_000 and parse_scaled("-.5", 2) == -50
    with pytest.raises(MoneyFormatError):
        parse_scaled("0.0000001", 6)
    with pytest.raises(MoneyFormatError):
        parse_scaled("1e-3", 6)
    values = np.array([0, 1, -1, 123_456_789_012_345_678, -999, 5], dtype=np.int64)
    valid = np.array([True, True, True, True, True, False])
    arr = minor_to_decimal128(values, 2, valid)
    assert arr.type == pa.decimal128(18, 2)
    assert arr.to_pylist() == [Decimal("0.00"), Decimal("0.01"), Decimal("-0.01"), Decimal("1234567890123456.78"),
                               Decimal("-9.99"), None]
    back, ok = decimal128_to_minor(arr)
    assert (ok == valid).all() and (back[valid] == values[valid]).all()
    sliced, _ = decimal128_to_minor(arr.slice(2, 3))
    assert sliced.tolist() == [-1, 123_456_789_012_345_678, -999]


def test_sample_enterprise_tariffs_rate(tmp_path):
    root = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "tariffs"
    acme = load_tariff(root / "acme.csv", scale=2)
    r = rate(acme, pd.DataFrame({"dest": ["12125551234"], "origin": [NYC], "site": ["NYC"],
                                 "at_utc": [pd.Timestamp(WED)], "duration_s": [90]}), sites=SITES, scale=2)
    row = r.to_pandas().iloc[0]
    assert (row["status"], row["prefix"], row["band"]) == ("rated", "1212", "mon-fri 08:00-18:00")
