"""Hand-worked rating cases for each rule of issue 3 that ``test_rating.py`` / ``test_pricing.py`` leave open,
and bad tariffs and band coverage through ``callcost check-config``.

Every expected figure is worked out in the comment beside it.  Site NYC is America/New_York; the
default origin is NYC's main number 12125550000.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from rating_enterprise import TARIFFS, parsed_calls, write_enterprise, write_tariff
from typer.testing import CliRunner

from callcost.cli import app
from warehouse.config import load_config
from analytics.rating.stage import RatingStage
from analytics.rating.engine import SiteClock, rate
from analytics.rating.tariffs import load_tariff

ROWS = [
    "c,,44,UK,international,all,00:00,24:00,0.00,0.1200,60,60,2026-01-01,",  # line 2: 60/60
    "c,,4420,London,international,mon-fri,08:00,18:00,0.00,0.0600,1,1,2026-01-01,",  # 3: 1/1, weekday days only
    "c,,447,UK mobile,international,all,00:00,24:00,0.00,0.3000,60,60,2026-01-01,2026-06-30",  # 4: expired mid-year
    "c,1212,1212,NYC local,local,mon-fri,00:00,24:00,0.05,0.0200,30,6,2026-01-01,",  # 5: 30/6 + fee, origin row
    "c,1212,1212,NYC local,local,sat-sun,00:00,24:00,0.05,0.0100,30,6,2026-01-01,",  # 6
    "c,1212,1212,NYC local,local,holiday,08:00,18:00,0.00,0.0050,30,6,2026-01-01,",  # 7: partial holiday row
    "c,1,1212,NYC from NANP,national,all,00:00,24:00,0.00,0.0250,60,60,2026-01-01,",  # 8: shorter origin
    "c,,1212,NYC from abroad,national,all,00:00,24:00,0.00,0.0300,60,60,2026-01-01,",  # 9: any origin
    "c,,121255,NYC special,national,all,00:00,24:00,0.00,0.0700,60,60,2026-01-01,",  # 10: longer, any origin
    "c,,1,US,national,all,00:00,24:00,0.00,0.0400,60,60,2026-01-01,2026-10-14",  # 11
    "c,,1,US,national,all,00:00,24:00,0.00,0.0300,60,60,2026-10-15,",  # 12: new version mid-month
    "c,,1999,DST,national,all,00:00,01:00,0.00,0.6000,60,60,2026-01-01,",  # 13
    "c,,1999,DST,national,all,01:00,02:00,0.00,1.2000,60,60,2026-01-01,",  # 14
    "c,,1999,DST,national,all,02:00,03:00,0.00,2.4000,60,60,2026-01-01,",  # 15
    "c,,1999,DST,national,all,03:00,24:00,0.00,4.8000,60,60,2026-01-01,",  # 16
]
HEADER = ("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,"
          "increment,valid_from,valid_to")
SITES = {"NYC": SiteClock("America/New_York", "US", "NY")}
NYC, CHI, LON = "12125550000", "13125550000", "442075550000"
WED = "2026-10-14T14:00:00Z"  # Wednesday 10:00 EDT
MANCHESTER, LONDON, MOBILE, NYC_NUM, CHICAGO, DST = ("441614960000", "442079460018", "447911123456",
                                                     "12124441234", "13125551234", "19995550000")


@pytest.fixture(scope="module")
def tariff(tmp_path_factory):
    path = tmp_path_factory.mktemp("cases") / "cases.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    return load_tariff(path, scale=2)


def one(tariff, dest, at, duration, *, origin=NYC, split=False) -> dict:
    frame = pd.DataFrame({"dest": [dest], "origin": [origin], "site": ["NYC"], "at_utc": [pd.Timestamp(at)],
                          "duration_s": [duration]})
    r = rate(tariff, frame, sites=SITES, split=split, scale=2).to_pandas().iloc[0].to_dict()
    r["line"] = int(tariff.line[int(r["row"])]) if not pd.isna(r["row"]) else None
    return r


@pytest.mark.parametrize("dest, duration, cents, billable, line", [
    (MANCHESTER, 1, 12, 60, 2),  # 60/60: 1 s bills the first 60 → 0.12
    (MANCHESTER, 60, 12, 60, 2),
    (MANCHESTER, 61, 24, 120, 2),  # 60 + ceil(1/60)·60 = 120 → 0.24
    (LONDON, 1, 0, 1, 3),  # 1/1: 0.06 × 1/60 = 0.001 → 0.00 (rated, not unrated)
    (LONDON, 25, 3, 25, 3),  # 0.06 × 25/60 = 0.025 → half-up 0.03
    (LONDON, 61, 6, 61, 3),  # 0.061 → 0.06
    (NYC_NUM, 10, 6, 30, 5),  # 30/6 + fee: 0.05 + 0.02 × 30/60 = 0.06
    (NYC_NUM, 31, 6, 36, 5),  # 30 + ceil(1/6)·6 = 36: 0.05 + 0.012 = 0.062 → 0.06
    (NYC_NUM, 95, 8, 96, 5),  # 30 + ceil(65/6)·6 = 96: 0.05 + 0.032 = 0.082 → 0.08
])
def test_increments_connect_fee_and_half_up(tariff, dest, duration, cents, billable, line):
    r = one(tariff, dest, WED, duration)
    assert (r["status"], r["cost_minor"], r["billable_s"], r["line"]) == ("rated", cents, billable, line)


def test_unanswered_costs_zero_without_a_connect_fee(tariff):
    r = one(tariff, NYC_NUM, WED, 0)  # the 1212 row has a 0.05 connect fee: not charged
    assert (r["status"], r["cost_minor"], r["billable_s"]) == ("rated", 0, 0)


def test_partial_holiday_row_wins_where_it_covers_and_weekday_rows_apply_elsewhere(tariff):
    # Thanksgiving, Thursday 2026-11-26.  10:00 EST: holiday row (no fee) 0.005 × 60/60 = 0.005 → 0.01
    day = one(tariff, NYC_NUM, "2026-11-26T15:00:00Z", 60)
    assert (day["band"], day["cost_minor"], day["line"]) == ("holiday 08:00-18:00", 1, 7)
    # 20:00 EST the same holiday: the holiday row does not cover it → the weekday row, 0.05 + 0.02 = 0.07
    night = one(tariff, NYC_NUM, "2026-11-27T01:00:00Z", 60)
    assert (night["band"], night["cost_minor"], night["line"]) == ("mon-fri 00:00-24:00", 7, 5)
    # a Saturday with no holiday: the weekend row, 0.05 + 0.01 = 0.06
    assert one(tariff, NYC_NUM, "2026-10-17T15:00:00Z", 60)["cost_minor"] == 6


def test_dst_spring_forward(tariff):
    # 2026-03-08 06:59Z = 01:59 EST; a minute later it is 03:00 EDT
    whole = one(tariff, DST, "2026-03-08T06:59:00Z", 120)
    assert (whole["band"], whole["cost_minor"]) == ("all 01:00-02:00", 240)  # whole call at 1.20/min
    split = one(tariff, DST, "2026-03-08T06:59:00Z", 120, split=True)
    assert (split["band"], split["cost_minor"]) == ("all 01:00-02:00+all 03:00-24:00", 600)  # 1.20 + 4.80
    assert one(tariff, DST, "2026-03-08T07:30:00Z", 60)["band"] == "all 03:00-24:00"  # 03:30 EDT


def test_dst_fall_back_01_30_happens_twice(tariff):
    first = one(tariff, DST, "2026-11-01T05:30:00Z", 60)  # 01:30 EDT
    second = one(tariff, DST, "2026-11-01T06:30:00Z", 60)  # 01:30 EST, one hour later
    assert first["band"] == second["band"] == "all 01:00-02:00"
    assert first["cost_minor"] == second["cost_minor"] == 120
    assert one(tariff, DST, "2026-11-01T07:30:00Z", 60)["band"] == "all 02:00-03:00"  # 02:30 EST


def test_band_split_names_joined_with_plus(tariff):
    at = "2026-10-14T04:59:00Z"  # 00:59 EDT, 120 s: one minute in each band
    assert one(tariff, DST, at, 120)["cost_minor"] == 120  # whole call at the 00:00-01:00 band: 0.60 × 2
    r = one(tariff, DST, at, 120, split=True)
    assert (r["band"], r["cost_minor"]) == ("all 00:00-01:00+all 01:00-02:00", 180)  # 0.60 + 1.20


def test_split_into_a_time_no_band_covers_is_unrated(tariff):
    r = one(tariff, LONDON, "2026-10-14T21:59:30Z", 60, split=True)  # 17:59:30 EDT, runs past 18:00
    assert (r["status"], r["reason"]) == ("unrated", "no band") and pd.isna(r["cost_minor"])


def test_longest_prefix_first_then_the_longest_matching_origin(tariff):
    assert one(tariff, NYC_NUM, WED, 60)["line"] == 5  # from NYC: origin '1212' beats '1' and ''
    chicago = one(tariff, NYC_NUM, WED, 60, origin=CHI)
    assert (chicago["line"], chicago["cost_minor"], chicago["category"]) == (8, 3, "national")  # 0.025 → 0.03
    assert one(tariff, NYC_NUM, WED, 60, origin=LON)["line"] == 9  # no origin matches: the any-origin row
    longer = one(tariff, "12125551234", WED, 60)  # prefix 121255 (any origin) beats 1212 with NYC's origin
    assert (longer["prefix"], longer["cost_minor"], longer["line"]) == ("121255", 7, 10)


def test_no_band_is_unrated_without_falling_back_to_a_shorter_prefix(tariff):
    r = one(tariff, LONDON, "2026-10-15T00:00:00Z", 60)  # Wednesday 20:00 EDT: 4420 has day rows only
    assert (r["status"], r["reason"]) == ("unrated", "no band")  # never priced at the 44 row
    assert pd.isna(r["cost_minor"])


def test_validity_date_first_then_prefix(tariff):
    # 447 ended 2026-06-30: in October the number is priced at 44 (0.12), in May at 447 (0.30)
    october = one(tariff, MOBILE, WED, 60)
    assert (october["prefix"], october["cost_minor"], october["tariff_version"]) == ("44", 12, "2026-01-01")
    assert one(tariff, MOBILE, "2026-05-13T14:00:00Z", 60)["cost_minor"] == 30


def test_validity_change_mid_month_on_the_site_local_date(tariff):
    before = one(tariff, CHICAGO, "2026-10-14T20:00:00Z", 60)
    late = one(tariff, CHICAGO, "2026-10-15T02:00:00Z", 60)  # 22:00 on the 14th in New York
    after = one(tariff, CHICAGO, "2026-10-15T14:00:00Z", 60)
    assert [(r["cost_minor"], r["tariff_version"]) for r in (before, late, after)] == [
        (4, "2026-01-01"), (4, "2026-01-01"), (3, "2026-10-15")]


# --- through the pipeline: tail-end hop-off and toll-free inbound (tests/rating_enterprise.py) ------------


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    return RatingStage(load_config(write_enterprise(tmp_path_factory.mktemp("ent"))))


def rated(stage, call) -> dict:
    return stage.rate_batch(parsed_calls([call])).to_pylist()[0]


def test_tail_end_hop_off_uses_the_breakout_clock_and_the_origin_reference(stage):
    from datetime import datetime, timezone

    at = datetime(2026, 10, 14, 17, 30, tzinfo=timezone.utc)  # 18:30 in London, 13:30 in New York
    r = rated(stage, ("teho", "nyc", "1001", "9011442079460000", "LON-PSTN-TEHO1", 600, at))
    # brit 4420 from London at 18:30: evening 0.003 × 10 = 0.03 (New York's 13:30 would give 0.06)
    assert (r["carrier"], r["trunk_site"], r["band"], r["actual_cost"]) == (
        "brit", "LON", "mon-fri 18:00-24:00", Decimal("0.03"))
    # reference from New York to the UK: pstn 44 (the London-origin 4420 row is not New York's) 0.50 × 10
    assert (r["ref_prefix"], r["reference_cost"], r["savings"]) == ("44", Decimal("5.00"), Decimal("4.97"))


def test_toll_free_inbound_is_charged_to_us_with_no_saving(stage):
    r = rated(stage, ("tfi", "nyc", "+13125551234", "18005550100", "NYC-PSTN-1", 600))
    # acme 1800: 0.03 × 10 = 0.30; reference = actual
    assert (r["call_type"], r["actual_cost"], r["reference_cost"], r["savings"]) == (
        "tollfree_inbound", Decimal("0.30"), Decimal("0.30"), Decimal("0.00"))


# --- bad tariffs and band coverage through `callcost check-config` --------------------------------------

BAD_ROWS = [  # (row, column the error must name)
    ("acme,,45,DK,international,mon-fry,00:00,24:00,0.00,0.1200,60,60,2026-01-01,", "days"),  # unknown day
    ("acme,,46,SE,international,all,25:00,24:00,0.00,0.1200,60,60,2026-01-01,", "time_from"),  # 25:00
    ("acme,,47,NO,international,all,00:00,24:00,0.00,-0.1200,60,60,2026-01-01,", "rate"),  # negative
    ("acme,,48,PL,international,all,00:00,24:00,0.00,\"0,12\",60,60,2026-01-01,", "rate"),  # decimal comma
    ("acme,,49,DE,international,all,00:00,24:00,$0.10,0.1200,60,60,2026-01-01,", "connect_fee"),  # currency sign
    ("acme,,30,GR,international,all,00:00,24:00,0.00,1e-3,60,60,2026-01-01,", "rate"),  # exponent
]


def check_config(path) -> tuple[int, str]:
    run = CliRunner().invoke(app, ["check-config", "--config", str(path)])
    return run.exit_code, run.output


def test_bad_tariff_cells_name_file_line_and_column(tmp_path):
    config = write_enterprise(tmp_path)
    acme = tmp_path / "acme.csv"
    write_tariff(acme, TARIFFS["acme.csv"] + [row for row, _ in BAD_ROWS])
    code, out = check_config(config)
    assert code == 1
    first = len(TARIFFS["acme.csv"]) + 2
    for i, (_, column) in enumerate(BAD_ROWS):
        assert f"{acme}:{first + i}: field '{column}'" in out, (column, out)
    assert "unknown day 'mon-fry'" in out and "'25:00' is not a time of day" in out
    assert "negative amount -0.1200" in out and "'0,12' is not a decimal number" in out
    assert f"{len(BAD_ROWS)} error(s) in" in out


def test_overlapping_rows_are_an_error_and_coverage_gaps_a_warning(tmp_path):
    config = write_enterprise(tmp_path)
    brit = tmp_path / "brit.csv"
    gap = [r for r in TARIFFS["brit.csv"] if "sat-sun" not in r]  # 4420 leaves the weekend unpriced
    write_tariff(brit, gap)
    code, out = check_config(config)
    assert code == 0 and "ok" in out
    line = 2 + next(i for i, r in enumerate(gap) if ",4420," in r)
    assert f"warning: {brit}:{line}: field 'days'" in out
    assert "prefix '4420'" in out and "no band covers sat 00:00-24:00" in out
    write_tariff(brit, TARIFFS["brit.csv"] + ["brit,,4420,London,local,wed,12:00,13:00,0.00,0.0010,60,60,2026-06-01,"])
    code, out = check_config(config)
    overlap_line = len(TARIFFS["brit.csv"]) + 2
    assert code == 1 and f"{brit}:{overlap_line}: field 'days': overlaps line 3" in out
