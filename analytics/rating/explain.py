"""Explain one call's price in words: a slow, per-call path over the same tariff, for humans.

The row is the one the vectorised engine chose (so the explanation never disagrees with the stored
figure); the bands are found again here with ``zoneinfo`` and ``holidays`` and shown step by step.
The arithmetic is the engine's, exactly: integers at the tariff's internal scale, ``connect_fee·60 +
Σ rate·seconds`` summed per band, **one** division by 60 and **one** half-up rounding (adding up
per-increment quotients instead drifts by 10⁻²⁸ per step and turns an exact 5.285 into 5.28).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pandas as pd

from warehouse.money import div_round_half_up, scaled_to_decimal
from analytics.rating.clock import SiteClock
from analytics.rating.engine import rate
from analytics.rating.tariffs import HEADER, HOLIDAY_BIT, Tariff

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def explain_call(tariff: Tariff, call: Mapping, sites: Mapping[str, SiteClock], split: bool, scale: int) -> list[str]:
    """The lines of the explanation of *call* priced under *tariff*; the last compares with the engine."""
    at = pd.Timestamp(call["at_utc"])
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    frame = pd.DataFrame({"dest": [str(call["dest"])], "origin": [call.get("origin") or ""], "site": [call["site"]],
                          "at_utc": [at], "duration_s": [int(call["duration_s"])]})
    result = rate(tariff, frame, sites=sites, split=split, scale=scale).to_pandas().iloc[0]
    d = int(call["duration_s"])
    lines = [f"call to {call['dest']} from origin '{call.get('origin') or ''}' at site {call['site']}, "
             f"answered {at.isoformat()}, {d} s, {'split at band changes' if split else 'whole call at the band at answer'}"]
    clock = sites.get(call["site"])
    if d <= 0:
        return lines + ["unanswered (duration ≤ 0): cost 0, no connect fee"]
    if clock is None:
        return lines + [f"unrated: unknown site '{call['site']}'"]
    zone = ZoneInfo(clock.timezone)
    cal = holidays.country_holidays(clock.country, subdiv=clock.subdiv)
    local = at.to_pydatetime().astimezone(zone)
    hol = cal.get(local.date())
    offset = local.utcoffset() or timedelta(0)
    dst = "daylight saving time" if local.dst() else "standard time"
    lines.append(f"local time at answer: {local.isoformat()} ({clock.timezone}, UTC{_hours(offset)}, {dst}), "
                 f"{DAYS[local.weekday()]}" + (f", holiday: {hol}" if hol else ", not a holiday"))
    dest = str(call["dest"])
    matching = sorted({p for p in tariff.prefix if dest.startswith(p)}, key=len, reverse=True)
    lines.append("prefixes in the tariff matching the number, longest first: " + (", ".join(matching) or "none"))
    if result["status"] != "rated":
        return lines + _why_unrated(tariff, dest, call.get("origin") or "", local, str(result["reason"]))

    r = int(result["row"])
    raw = ",".join(str(tariff.rows[c][r].as_py()) for c in HEADER)
    lines.append(f"row used: {tariff.path}:{int(tariff.line[r])}: {raw}")
    lines.extend(_row_choice(tariff, r, dest, call.get("origin") or "", local, bool(hol)))
    first, inc = int(tariff.first_increment[r]), int(tariff.increment[r])
    if d <= first:
        billable = first
        lines.append(f"billable: {d} s ≤ first increment {first} s → {billable} s")
    else:
        steps = -(-(d - first) // inc)
        billable = first + steps * inc
        lines.append(f"billable: {first} + ceil(({d} − {first}) / {inc}) × {inc} = {first} + {steps} × {inc} = {billable} s")
    fee = int(tariff.connect_fee[r])
    lines.append(f"connect fee: {_money(tariff, fee)}")
    if not split:
        rate_seconds = int(tariff.rate[r]) * billable
        lines.append(f"usage: {_money(tariff, int(tariff.rate[r]))}/min × {billable} s / 60 = "
                     f"{_per_minute(tariff, rate_seconds)}")
    else:
        usage = _split_rate_seconds(tariff, r, at.to_pydatetime(), zone, cal, first, inc, billable, lines)
        if usage is None:
            return lines
        rate_seconds = usage
    numerator = fee * 60 + rate_seconds
    unrounded = _exact_quotient(numerator, 60 * 10**tariff.internal_scale, tariff.internal_scale)
    minor = int(div_round_half_up(np.array([numerator]), 60 * 10 ** (tariff.internal_scale - scale))[0])
    rounded = scaled_to_decimal(minor, scale)
    lines.append(f"unrounded cost: {unrounded}; rounded half-up to {scale} decimals once per call: {rounded}")
    engine = scaled_to_decimal(int(result["cost_minor"]), scale)
    lines.append(f"engine cost: {engine}" + ("" if engine == rounded else "  ← DIFFERS from the step-by-step figure"))
    return lines


def _money(tariff: Tariff, value: int) -> Decimal:
    """An integer at the tariff's internal scale, as the exact decimal it stands for."""
    return scaled_to_decimal(value, tariff.internal_scale)


def _per_minute(tariff: Tariff, rate_seconds: int) -> str:
    """``rate·seconds / 60`` in currency, exact: for the text only, never added up."""
    return _exact_quotient(rate_seconds, 60 * 10**tariff.internal_scale, tariff.internal_scale)


def _exact_quotient(numerator: int, denominator: int, decimals: int) -> str:
    """``numerator / denominator`` (≥ 0) with at least *decimals* digits, exactly when it ends, else 12 and "…"."""
    whole, rest = divmod(numerator, denominator)
    digits: list[str] = []
    while (rest and len(digits) < max(decimals, 12)) or len(digits) < decimals:
        digit, rest = divmod(rest * 10, denominator)
        digits.append(str(digit))
    return f"{whole}" + (f".{''.join(digits)}" if digits else "") + ("…" if rest else "")


def _hours(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _validity(tariff: Tariff, r: int) -> str:
    until = "open-ended" if tariff.rows["valid_to"][r].as_py() == "" else f"to {tariff.rows['valid_to'][r].as_py()}"
    return f"valid from {tariff.rows['valid_from'][r].as_py()} {until}"


def _row_choice(tariff: Tariff, r: int, dest: str, origin: str, local: datetime, holiday: bool) -> list[str]:
    """Why this row: its prefix, origin, days, hours and validity, in the order the engine decides."""
    row_origin = str(tariff.origin[r])
    who = (f"origin '{row_origin}' matches the calling site's number {origin} (beats rows for any origin)"
           if row_origin else "any origin (no row for the calling site's own origin applies)")
    days = str(tariff.rows["days"][r].as_py())
    if tariff.days[r] & HOLIDAY_BIT and holiday:
        why_day = f"days '{days}': a holiday row wins over weekday rows on a holiday"
    elif holiday:
        why_day = f"days '{days}': no holiday row covers this time, so the weekday rows apply"
    else:
        why_day = f"days '{days}' include {DAYS[local.weekday()]}"
    longer = sorted({str(p) for p in tariff.prefix if len(str(p)) > len(str(tariff.prefix[r])) and dest.startswith(str(p))})
    skipped = (f"; longer {', '.join(longer)} skipped: no row for this origin in force that day" if longer else "")
    return [
        f"prefix '{tariff.prefix[r]}': the longest prefix of the number with rows in force on {local.date()} "
        f"(local date at answer) for this origin{skipped}",
        f"{who}; {why_day}; hours [{tariff.rows['time_from'][r].as_py()}, {tariff.rows['time_to'][r].as_py()}) "
        f"contain {local:%H:%M:%S}",
        f"tariff version {tariff.version[r]} ({_validity(tariff, r)}), band '{tariff.band[r]}', "
        f"destination '{tariff.rows['destination'][r].as_py()}', category {tariff.rows['category'][r].as_py()}",
    ]


def _why_unrated(tariff: Tariff, dest: str, origin: str, local: datetime, reason: str) -> list[str]:
    """The engine's reason, and the rows that came closest, so the fix is obvious."""
    lines = [f"unrated: {reason}; cost left empty (not 0), no fallback to a shorter prefix or another band"]
    candidates = [i for i in range(len(tariff)) if dest.startswith(str(tariff.prefix[i]))
                  and origin.startswith(str(tariff.origin[i]))]
    if not candidates:
        lines.append(f"no row of {tariff.path} has a prefix of {dest or '(no number)'}: add one, then `callcost rerate`")
        return lines
    longest = max(len(str(tariff.prefix[i])) for i in candidates)
    for i in sorted(candidates, key=lambda i: int(tariff.line[i])):
        if len(str(tariff.prefix[i])) == longest:
            lines.append(f"  candidate {tariff.path}:{int(tariff.line[i])}: prefix '{tariff.prefix[i]}', "
                         f"band '{tariff.band[i]}', {_validity(tariff, i)}")
    lines.append(f"the call was answered {local:%a %Y-%m-%d %H:%M:%S} local time: fix the rows above, then "
                 "`callcost rerate`")
    return lines


def _split_rate_seconds(tariff: Tariff, r: int, at: datetime, zone: ZoneInfo, cal, first: int, inc: int,
                        billable: int, lines: list[str]) -> int | None:
    """``Σ rate·seconds`` with each increment at the band in force at its start, one text line per run of a band.

    Integers at the internal scale, as in the engine: nothing is divided here.  ``None`` (with the
    reason in *lines*) when an increment starts at a time no band covers.
    """
    same = [i for i in range(len(tariff)) if tariff.plan[i] == tariff.plan[r] and tariff.origin[i] == tariff.origin[r]
            and tariff.prefix[i] == tariff.prefix[r]]
    local_date = (at.astimezone(timezone.utc).astimezone(zone)).date()
    epoch_day = (local_date - datetime(1970, 1, 1).date()).days
    rows = [i for i in same if tariff.valid_from[i] <= epoch_day <= tariff.valid_to[i]]
    starts = [0] + list(range(first, billable, inc))
    runs: list[list[int]] = []  # [row, first second, end second]
    for k, s in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else billable
        local = (at + timedelta(seconds=s)).astimezone(zone)
        sec = local.hour * 3600 + local.minute * 60 + local.second
        cover = [i for i in rows if tariff.time_from[i] <= sec < tariff.time_to[i]]
        row = None
        if local.date() in cal:
            row = next((i for i in cover if tariff.days[i] & HOLIDAY_BIT), None)
        if row is None:
            row = next((i for i in cover if tariff.days[i] & (1 << local.weekday())), None)
        if row is None:
            lines.append(f"unrated: second {s} of the call starts at {local.isoformat()}, which no band covers")
            return None
        if runs and runs[-1][0] == row:
            runs[-1][2] = end
        else:
            runs.append([row, s, end])
    total = 0
    for row, a, b in runs:
        part = int(tariff.rate[row]) * (b - a)
        total += part
        lines.append(f"  seconds {a}-{b} at '{tariff.band[row]}' (line {int(tariff.line[row])}): "
                     f"{_money(tariff, int(tariff.rate[row]))}/min × {b - a} s / 60 = {_per_minute(tariff, part)}")
    lines.append(f"usage: (Σ rate × seconds over the bands = {_money(tariff, total)}) / 60, divided once = "
                 f"{_per_minute(tariff, total)}")
    return total
