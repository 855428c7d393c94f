"""Explain one call's price in words: a slow, per-call path over the same tariff, for humans.

The row is the one the vectorised engine chose (so the explanation never disagrees with the stored
figure); the arithmetic is redone here with ``Decimal`` and ``zoneinfo`` and shown step by step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import holidays
import pandas as pd

from warehouse.money import scaled_to_decimal
from analytics.rating.clock import SiteClock
from analytics.rating.tariffs import HEADER, HOLIDAY_BIT, Tariff

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def explain_call(tariff: Tariff, call: Mapping, sites: Mapping[str, SiteClock], split: bool, scale: int) -> list[str]:
    from analytics.rating.engine import rate

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
    fee = scaled_to_decimal(int(tariff.connect_fee[r]), tariff.internal_scale)
    lines.append(f"connect fee: {fee}")
    if not split:
        per_min = scaled_to_decimal(int(tariff.rate[r]), tariff.internal_scale)
        usage = per_min * billable / 60
        lines.append(f"usage: {per_min}/min × {billable} s / 60 = {usage}")
        total = fee + usage
    else:
        total = fee + _split_usage(tariff, r, at.to_pydatetime(), zone, cal, first, inc, billable, lines)
    q = Decimal(1).scaleb(-scale)
    rounded = total.quantize(q, rounding=ROUND_HALF_UP)
    lines.append(f"unrounded cost: {total}; rounded half-up to {scale} decimals once per call: {rounded}")
    engine = scaled_to_decimal(int(result["cost_minor"]), scale)
    lines.append(f"engine cost: {engine}" + ("" if engine == rounded else "  ← DIFFERS from the step-by-step figure"))
    return lines


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


def _split_usage(tariff: Tariff, r: int, at: datetime, zone: ZoneInfo, cal, first: int, inc: int, billable: int,
                 lines: list[str]) -> Decimal:
    """Price each increment at the band in force at its start, grouping runs of one band for the text."""
    same = [i for i in range(len(tariff)) if tariff.plan[i] == tariff.plan[r] and tariff.origin[i] == tariff.origin[r]
            and tariff.prefix[i] == tariff.prefix[r]]
    local_date = (at.astimezone(timezone.utc).astimezone(zone)).date()
    epoch_day = (local_date - datetime(1970, 1, 1).date()).days
    rows = [i for i in same if tariff.valid_from[i] <= epoch_day <= tariff.valid_to[i]]
    starts = [0] + list(range(first, billable, inc))
    total = Decimal(0)
    run: list = []

    def flush() -> None:
        if run:
            row, a, b = run
            per_min = scaled_to_decimal(int(tariff.rate[row]), tariff.internal_scale)
            lines.append(f"  seconds {a}-{b} at '{tariff.band[row]}' (line {int(tariff.line[row])}): "
                         f"{per_min}/min × {b - a} s / 60 = {per_min * (b - a) / 60}")

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
            lines.append(f"  second {s}: no band covers {local.isoformat()}")
            return total
        total += scaled_to_decimal(int(tariff.rate[row]), tariff.internal_scale) * (end - s) / 60
        if run and run[0] == row:
            run[2] = end
        else:
            flush()
            run[:] = [row, s, end]
    flush()
    lines.append(f"usage over all increments: {total}")
    return total
