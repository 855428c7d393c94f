"""The vectorised engine against a slow, obviously-correct per-call reference, on generated tariffs and calls.

The reference below reads SPEC §4–§5 literally: ``Decimal`` money, ``zoneinfo`` local time, the
``holidays`` calendar, one increment at a time for split pricing.  It shares no code with the engine.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import SITES, Call, calls, hourly_tariff_and_calls, tariff_and_calls, tariffs_csv
from analytics.rating.engine import rate
from analytics.rating.tariffs import load_tariff

DAY_BITS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@dataclass(frozen=True)
class RefRow:
    index: int
    origin: str
    prefix: str
    days: frozenset  # weekday numbers, plus "holiday"
    t_from: int
    t_to: int
    fee: Decimal
    rate: Decimal
    first: int
    inc: int
    valid_from: date
    valid_to: date | None
    band: str


def ref_days(text: str) -> frozenset:
    if text == "all":
        return frozenset(range(7))
    out: set = set()
    for part in text.split(";"):
        if part == "holiday":
            out.add("holiday")
        elif "-" in part:
            a, b = part.split("-")
            out.update(range(DAY_BITS[a], DAY_BITS[b] + 1))
        else:
            out.add(DAY_BITS[part])
    return frozenset(out)


def ref_rows(text: str) -> list[RefRow]:
    rows = []
    for i, r in enumerate(csv.DictReader(io.StringIO(text))):
        secs = lambda s: int(s[:2]) * 3600 + int(s[3:]) * 60  # noqa: E731
        rows.append(RefRow(i, r["origin"], r["prefix"], ref_days(r["days"]), secs(r["time_from"]), secs(r["time_to"]),
                           Decimal(r["connect_fee"]), Decimal(r["rate"]), int(r["first_increment"]),
                           int(r["increment"]), date.fromisoformat(r["valid_from"]),
                           date.fromisoformat(r["valid_to"]) if r["valid_to"] else None,
                           f"{r['days']} {r['time_from']}-{r['time_to']}"))
    return rows


def ref_rate(rows: list[RefRow], call: Call, split: bool, scale: int) -> dict:
    """One call, by the book."""
    if call.duration_s <= 0:
        return {"status": "rated", "cost": Decimal(0), "row": None, "billable": 0}
    clock = SITES[call.site]
    zone = ZoneInfo(clock.timezone)
    cal = holidays.country_holidays(clock.country, subdiv=clock.subdiv)
    answer_local = call.at_utc.astimezone(zone)
    today = answer_local.date()

    def applies(r: RefRow) -> bool:
        return call.dest.startswith(r.prefix) and call.origin.startswith(r.origin)

    def in_force(r: RefRow) -> bool:
        return r.valid_from <= today and (r.valid_to is None or today <= r.valid_to)

    candidates = [r for r in rows if applies(r) and in_force(r)]
    if not candidates:
        reason = "no tariff version in force" if any(applies(r) for r in rows) else "no prefix"
        return {"status": "unrated", "reason": reason}
    longest = max(len(r.prefix) for r in candidates)
    candidates = [r for r in candidates if len(r.prefix) == longest]
    best_origin = max(len(r.origin) for r in candidates)
    candidates = [r for r in candidates if len(r.origin) == best_origin]

    def band_at(instant: datetime) -> RefRow | None:
        local = instant.astimezone(zone)
        sec = local.hour * 3600 + local.minute * 60 + local.second
        cover = [r for r in candidates if r.t_from <= sec < r.t_to]
        if local.date() in cal:
            hol = [r for r in cover if "holiday" in r.days]
            if hol:
                return hol[0]
        day = [r for r in cover if local.weekday() in r.days]
        return day[0] if day else None

    at_answer = band_at(call.at_utc)
    if at_answer is None:
        return {"status": "unrated", "reason": "no band"}
    first, inc, d = at_answer.first, at_answer.inc, call.duration_s
    billable = first if d <= first else first + -(-(d - first) // inc) * inc
    bands = [at_answer.band]
    if not split:
        cost = at_answer.fee + at_answer.rate * billable / 60
    else:
        rate_seconds = Decimal(0)  # sum rate×seconds exactly, divide by 60 once (no per-increment drift)
        start, length = 0, first
        while start < billable:
            r = band_at(call.at_utc + timedelta(seconds=start))
            if r is None:
                return {"status": "unrated", "reason": "no band"}
            if r.band != bands[-1]:
                bands.append(r.band)
            rate_seconds += r.rate * length
            start, length = start + length, inc
        cost = at_answer.fee + rate_seconds / 60
    return {"status": "rated", "cost": cost.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP),
            "row": at_answer.index, "billable": billable, "band": "+".join(bands)}


def engine(text: str, batch: list[Call], split: bool, scale: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_text(text)
        tariff = load_tariff(path, scale=scale)
    frame = pd.DataFrame({"dest": [c.dest for c in batch], "origin": [c.origin for c in batch],
                          "site": [c.site for c in batch], "at_utc": pd.to_datetime([c.at_utc for c in batch], utc=True),
                          "duration_s": [c.duration_s for c in batch]})
    return rate(tariff, frame, sites=SITES, split=split, scale=scale).to_pandas()


def check(text: str, batch: list[Call], split: bool, scale: int) -> None:
    got = engine(text, batch, split, scale)
    rows = ref_rows(text)
    for i, c in enumerate(batch):
        want = ref_rate(rows, c, split, scale)
        g = got.iloc[i]
        assert g["status"] == want["status"], (c, want, g.to_dict())
        if want["status"] == "unrated":
            assert g["reason"] == want["reason"], (c, want, g.to_dict())
            assert pd.isna(g["cost_minor"]), c
            continue
        assert Decimal(int(g["cost_minor"])).scaleb(-scale) == want["cost"], (c, want, g.to_dict())
        assert int(g["billable_s"]) == want["billable"], (c, want)
        if want["row"] is None:
            assert pd.isna(g["row"])
        else:
            assert int(g["row"]) == want["row"], (c, want, g.to_dict())
            assert g["band"] == want["band"], (c, want, g.to_dict())


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(tariff_and_calls(max_calls=25), st.sampled_from([2, 0, 3]))
def test_engine_equals_reference_whole_call_at_answer_band(case, scale):
    text, batch = case
    check(text, batch, split=False, scale=scale)


@PROPERTY
@given(tariff_and_calls(max_calls=15, max_duration=5400), st.sampled_from([2, 3]))
def test_engine_equals_reference_split_at_band_changes(case, scale):
    text, batch = case
    check(text, batch, split=True, scale=scale)


@settings(max_examples=40, deadline=None)
@given(hourly_tariff_and_calls(), st.sampled_from([2, 3]))
def test_split_across_many_hourly_bands_dst_and_holidays(case, scale):
    text, batch = case
    check(text, batch, split=True, scale=scale)


@settings(max_examples=60, deadline=None)
@given(tariff_and_calls(max_calls=20))
def test_rating_is_row_wise_so_order_and_batching_do_not_matter(case):
    text, batch = case
    whole = engine(text, batch, False, 2)
    reversed_ = engine(text, batch[::-1], False, 2).iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(whole, reversed_)
    one_by_one = pd.concat([engine(text, [c], False, 2) for c in batch[:5]], ignore_index=True)
    pd.testing.assert_frame_equal(whole.iloc[:5].reset_index(drop=True), one_by_one, check_categorical=False)


@settings(max_examples=60, deadline=None)
@given(tariffs_csv(), calls(), st.integers(1, 600))
def test_a_longer_call_never_costs_less(text, call, extra):
    longer = Call(call.dest, call.origin, call.site, call.at_utc, max(call.duration_s, 1) + extra)
    shorter = Call(call.dest, call.origin, call.site, call.at_utc, max(call.duration_s, 1))
    got = engine(text, [shorter, longer], False, 2)
    if (got["status"] == "rated").all():
        assert got["cost_minor"].iloc[1] >= got["cost_minor"].iloc[0]
        assert got["billable_s"].iloc[1] >= got["billable_s"].iloc[0]
