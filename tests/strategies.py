"""Hypothesis strategies shared by the rating tests: valid tariffs (as CSV text) and batches of calls.

Tariffs are built to be *valid* (no overlapping rows) yet awkward: nested prefixes, origin rows next
to empty-origin rows, two validity versions, band layouts with gaps and partial holiday rows, and
increments 60/60, 30/6, 6/6, 1/1, 60/1.  Calls are biased towards the days where things go wrong:
DST changes, US-NY and GB-ENG holidays, the eve of a holiday, version changes, 18:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from analytics.rating.engine import SiteClock

HEADER = ("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,"
          "increment,valid_from,valid_to")
SITES = {
    "NYC": SiteClock(timezone="America/New_York", country="US", subdiv="NY"),
    "LON": SiteClock(timezone="Europe/London", country="GB", subdiv="ENG"),
}
MAIN = {"NYC": "12125550000", "LON": "442075550000"}
INCREMENTS = [(60, 60), (30, 6), (6, 6), (1, 1), (60, 1), (45, 15)]
TRICKY_DAYS = ["2026-03-08", "2026-03-29", "2026-11-01", "2026-10-25", "2026-11-25", "2026-11-26", "2026-12-24",
               "2026-12-25", "2026-12-28", "2026-07-03", "2026-06-30", "2026-07-01", "2026-05-25", "2026-08-31"]

#: Round rates (a fiftieth of a cent per second and the like) put many calls' exact cost on half a
#: minor unit, where a rounding or a per-increment division that drifts by 10⁻²⁸ shows.
ROUND_RATES = ["0.02", "0.05", "0.08", "0.2", "0.5", "0.04", "0.1", "0.12", "0.3"]
money = st.sampled_from(ROUND_RATES) | st.builds(lambda units, dec: f"{units}.{dec}", st.integers(0, 2),
                                                 st.integers(0, 999_999).map(lambda v: f"{v:06d}".rstrip("0") or "0"))


def hhmm(hour: int) -> str:
    return f"{hour:02d}:00"


@st.composite
def band_layouts(draw) -> list[tuple[str, str, str]]:
    """(days, time_from, time_to) rows of one row set; may leave gaps on purpose."""
    kind = draw(st.sampled_from(["all", "peak", "peak-gap", "list", "partial-holiday"]))
    if kind == "all":
        rows = [("all", "00:00", "24:00")]
    elif kind == "list":
        rows = [("mon;wed;fri", "00:00", "24:00"), ("tue;thu", "00:00", "24:00"), ("sat-sun", "00:00", "24:00")]
    else:
        a = draw(st.sampled_from([1, 7, 8]) | st.integers(1, 12))
        b = draw(st.sampled_from([18, 19]) | st.integers(a + 1, 23))
        rows = [("mon-fri", "00:00", hhmm(a)), ("mon-fri", hhmm(a), hhmm(b)), ("mon-fri", hhmm(b), "24:00"),
                ("sat-sun", "00:00", "24:00")]
        if kind == "peak-gap":
            rows.pop(draw(st.integers(0, 3)))
        if kind == "partial-holiday":
            h = draw(st.integers(1, 23))
            rows.append(("holiday", "00:00", hhmm(h)))
    if kind != "partial-holiday" and draw(st.booleans()):
        rows.append(("holiday", "00:00", "24:00"))
    return rows


@st.composite
def tariffs_csv(draw) -> str:
    """A valid tariff file's text."""
    prefixes = draw(st.lists(st.text("124", min_size=1, max_size=4), min_size=1, max_size=6, unique=True))
    lines = [HEADER]
    used: set[tuple[str, str]] = set()
    for prefix in prefixes:
        origins = draw(st.lists(st.sampled_from(["", "1", "1212", "44", "4420", "33"]), min_size=1, max_size=2,
                                unique=True))
        for origin in origins:
            if (origin, prefix) in used:
                continue
            used.add((origin, prefix))
            versions = draw(st.sampled_from([[("2026-01-01", "")], [("2026-01-01", "2026-06-30"), ("2026-07-01", "")],
                                             [("2026-03-01", "2026-11-25")], [("2026-01-01", "2026-11-25"),
                                                                              ("2026-11-27", "")]]))
            for vf, vt in versions:
                first, inc = draw(st.sampled_from(INCREMENTS))
                for days, tf, tt in draw(band_layouts()):
                    fee = draw(st.sampled_from(["0", "0.05", "0.015"]))
                    lines.append(f"p,{origin},{prefix},Dest {prefix},national,{days},{tf},{tt},{fee},{draw(money)},"
                                 f"{first},{inc},{vf},{vt}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Call:
    dest: str
    origin: str
    site: str
    at_utc: datetime
    duration_s: int


@st.composite
def calls(draw, max_duration: int = 2400, prefixes: tuple[str, ...] = ()) -> Call:
    """A call; with *prefixes* (a tariff's), most destinations start with one of them."""
    site = draw(st.sampled_from(sorted(SITES)))
    origin = draw(st.sampled_from([MAIN[site]] * 4 + ["33123456789", ""]))
    if prefixes and draw(st.integers(0, 9)) < 8:
        head = draw(st.sampled_from(prefixes))
    else:
        head = draw(st.text("1240", min_size=1, max_size=3))
    dest = head + draw(st.text("0123456789", min_size=0, max_size=9))
    day = draw(st.sampled_from(TRICKY_DAYS) | st.dates(datetime(2025, 12, 25).date(),
                                                        datetime(2027, 1, 5).date()).map(str))
    base = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    if draw(st.booleans()):  # just before a whole local hour, where the generated bands change
        local_hour = draw(st.sampled_from([0, 7, 8, 18, 19, 24]) | st.integers(0, 24))
        offset = local_hour * 3600 + (5 if site == "NYC" else 0) * 3600 - draw(st.integers(1, 1800))
    else:
        offset = draw(st.integers(-6 * 3600, 30 * 3600))
    at = base + timedelta(seconds=offset)
    duration = draw(st.sampled_from([0, -1, 1, 3, 15, 30, 31, 45, 60, 61, 75]) | st.integers(1, max_duration))
    return Call(dest, origin, site, at, duration)


@st.composite
def tariff_and_calls(draw, max_calls: int = 20, max_duration: int = 2400) -> tuple[str, list[Call]]:
    """A tariff's text and calls aimed mostly at its prefixes."""
    text = draw(tariffs_csv())
    prefixes = tuple(sorted({line.split(",")[2] for line in text.splitlines()[1:]}))
    batch = draw(st.lists(calls(max_duration=max_duration, prefixes=prefixes), min_size=1, max_size=max_calls))
    return text, batch


@st.composite
def hourly_tariff_and_calls(draw, max_calls: int = 12) -> tuple[str, list[Call]]:
    """One prefix whose rate changes every hour (and on holidays): long calls cross many bands."""
    first, inc = draw(st.sampled_from(INCREMENTS))
    lines = [HEADER]
    for h in range(24):
        lines.append(f"p,,1,Hourly,national,all,{hhmm(h)},{hhmm(h + 1)},0.01,{draw(money)},{first},{inc},2026-01-01,")
    for h in range(0, 24, 6):
        lines.append(f"p,,1,Hourly,national,holiday,{hhmm(h)},{hhmm(h + 3)},0.01,{draw(money)},{first},{inc},"
                     "2026-01-01,")
    text = "\n".join(lines) + "\n"
    batch = draw(st.lists(calls(max_duration=4 * 3600, prefixes=("1",)), min_size=1, max_size=max_calls))
    return text, [c for c in batch if c.at_utc.year >= 2026] or [Call("1", "", "NYC", batch[0].at_utc.replace(year=2026), 7200)]
