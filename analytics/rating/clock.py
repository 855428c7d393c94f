"""Site wall clocks and holiday calendars as lookup tables, so local time is an addition, not a conversion.

For the minutes a batch spans, each site's UTC offset is tabulated once (pandas ``tz_convert`` over a
minute range, DST aware; every tz transition falls on a whole minute); a call's local time is then
``utc + offset[site, minute]``.  Holidays become a boolean table over local days.  The same tables
tell the split-pricing loop when the next offset change is, so an increment walk never maps a local
band boundary through the wrong offset.

When every offset is a whole number of minutes (all modern zones), a second table goes one step
further: per (site, UTC minute) the local *minute code* ``day_type·1440 + minute of day`` (day type =
weekday, +7 on the site's holidays).  Tariff bands start and end on whole minutes, so that code alone
picks the band: the hot path reads one int16 instead of converting, dividing and looking up holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

from warehouse.errors import RatingError

DAY_S = 86_400
DAY_MIN = 1_440
NEVER = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class SiteClock:
    """Where a call's band and holidays are read: the site's IANA zone and its `holidays` calendar."""

    timezone: str
    country: str
    subdiv: str | None = None


@lru_cache(maxsize=256)
def _holiday_days(country: str, subdiv: str | None, year: int) -> tuple[int, ...]:
    """Days since 1970 of the calendar's public holidays (observed days included) in *year*."""
    try:
        cal = holidays.country_holidays(country, subdiv=subdiv, years=year)
    except (NotImplementedError, KeyError) as exc:
        raise RatingError(f"no holiday calendar for country '{country}' subdivision '{subdiv}': {exc}") from None
    epoch = date(1970, 1, 1).toordinal()
    return tuple(sorted(d.toordinal() - epoch for d in cal))


class ClockTables:
    """UTC offsets and holidays for the given sites over ``[t0, t1]`` (UTC seconds)."""

    def __init__(self, clocks: list[SiteClock], t0: int, t1: int) -> None:
        self.m0 = t0 // 60 - 1
        self.span = t1 // 60 - self.m0 + 2
        n = len(clocks)
        self.offset = np.zeros((max(n, 1), self.span), dtype=np.int64)
        start = pd.Timestamp(self.m0 * 60, unit="s", tz="UTC")
        utc = pd.date_range(start, periods=self.span, freq="min").as_unit("s")
        change_keys: list[np.ndarray] = []
        for k, clock in enumerate(clocks):
            try:
                local = utc.tz_convert(clock.timezone)
            except Exception as exc:  # pytz/zoneinfo raise different types for an unknown zone
                raise RatingError(f"unknown time zone '{clock.timezone}': {exc}") from None
            off = local.tz_localize(None).asi8 - utc.asi8
            self.offset[k] = off
            changes = np.flatnonzero(off[1:] != off[:-1]) + 1
            change_keys.append(k * self.span + changes)
        self.change_keys = np.concatenate(change_keys) if change_keys else np.zeros(0, dtype=np.int64)
        # holidays over the local days the range can reach
        self.d0 = (t0 - DAY_S) // DAY_S - 1
        nd = (t1 + DAY_S) // DAY_S - self.d0 + 2
        self.holiday = np.zeros((max(n, 1), nd), dtype=bool)
        y0 = date.fromordinal(date(1970, 1, 1).toordinal() + self.d0).year
        y1 = date.fromordinal(date(1970, 1, 1).toordinal() + self.d0 + nd - 1).year
        for k, clock in enumerate(clocks):
            days = np.array([d for y in range(y0, y1 + 1) for d in _holiday_days(clock.country, clock.subdiv, y)],
                            dtype=np.int64) - self.d0
            days = days[(days >= 0) & (days < nd)]
            self.holiday[k, days] = True
        self.flat_offset = self.offset.ravel()
        self.flat_holiday = self.holiday.ravel()
        self.nd = nd
        self.offset_range = (int(self.offset.min()), int(self.offset.max()))
        self.minute_code = self._minute_codes() if not (self.offset % 60).any() else None

    def _minute_codes(self) -> np.ndarray:
        """Flat int16 [site × UTC minute]: local ``day_type·1440 + minute of day`` (day type 0..6 Mon..Sun, +7 holiday)."""
        local_min = np.arange(self.m0, self.m0 + self.span, dtype=np.int64)[None, :] + self.offset // 60
        day = local_min // DAY_MIN
        hol = np.take_along_axis(self.holiday, np.clip(day - self.d0, 0, self.nd - 1), axis=1)
        day_type = (day + 3) % 7 + 7 * hol  # 1970-01-01 was a Thursday
        return (day_type * DAY_MIN + (local_min - day * DAY_MIN)).astype(np.int16).ravel()

    def minute_index(self, site: np.ndarray, utc: np.ndarray) -> np.ndarray:
        """Position of each (site, UTC second) in the per-minute tables."""
        return site * self.span + (utc // 60 - self.m0)

    def local(self, site: np.ndarray, utc: np.ndarray) -> np.ndarray:
        """Local wall-clock seconds since 1970 (as if UTC) of each UTC instant."""
        return utc + self.flat_offset[site * self.span + (utc // 60 - self.m0)]

    def next_change(self, site: np.ndarray, utc: np.ndarray) -> np.ndarray:
        """UTC second of the site's next offset change after *utc*, or a far future."""
        key = site * self.span + (utc // 60 - self.m0)
        pos = np.searchsorted(self.change_keys, key, side="right")
        nxt = self.change_keys[np.minimum(pos, max(len(self.change_keys) - 1, 0))] if len(self.change_keys) else key
        ok = (pos < len(self.change_keys)) & (nxt // self.span == site)
        return np.where(ok, (nxt - site * self.span + self.m0) * 60, NEVER)

    def is_holiday(self, site: np.ndarray, local_day: np.ndarray) -> np.ndarray:
        return self.flat_holiday[site * self.nd + (local_day - self.d0)]
