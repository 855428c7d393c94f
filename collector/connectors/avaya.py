"""Avaya Communication Manager (DEFINITY) CDR: fixed-width records, CR LF terminated, NUL padded.

CM streams one ASCII record per call segment (reference ``avaya-asterisk-smdr.md`` §1).  The layout is
data (``avaya_layouts``): a standard format by name, a preset, or the site's *customized* record as the
``(item, length)`` list of its SAT screen.  Facts that shape the parsing:

* the record's time (``HHMM``) is when the call **ended**; the start is end − duration, so start times
  carry the minute resolution of the switch;
* duration is ``H MM T`` (hours, minutes, tenths of a minute) in the standard formats, or ``sec-dur``
  seconds in customized records; ``9999`` means the switch clock changed during the call, which leaves
  the duration unknown — such a record is quarantined, not guessed;
* the date is the record's ``date`` item when the layout has one, otherwise the last *date record* (a
  short ``MM DD`` line CM sends at link start and at midnight), with the year inferred (the nearest to
  ``reference_date``/today) and a midnight roll-over when end times jump back by more than 12 hours.
  The connector remembers the last date across calls of ``parse`` so a TCP stream read in chunks keeps it;
* condition codes are kept as they are in ``cause_code`` (unknown ones too) and drive direction and
  disposition only where their meaning is documented.

``call_id`` is the PBX, the record's end date and a digest of its text (plus ``#k`` for the k-th identical
record: in one file, or along one live stream however it is cut into reads), so a replayed dump gives the
same ids.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors import avaya_layouts as L
from collector.connectors.base import Connector, ParseResult, PbxContext
from collector.connectors.records import (
    Checks, Records, infer_year, local_to_utc, null_if_empty, record_ids, reference_date, split_lines, strptime,
)
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

SOURCE_FORMAT = "avaya"
_SAT_ITEM = re.compile(r"(\d+)\s*:\s*([a-z][a-z0-9/_-]*)\s*-\s*(\d+)", re.I)
_DATE_RECORD = r"^[0-9 ]{4,12}$"
_HALF_DAY_MIN = 12 * 60


def parse_sat_screen(text: str) -> tuple[L.Item, ...]:
    """The ``(item, length)`` list of a pasted ``display system-parameters cdr`` page 2 (items in number order)."""
    found = sorted((int(n), item.lower(), int(length)) for n, item, length in _SAT_ITEM.findall(text))
    if not found:
        raise ConfigError("no 'N: item - length' entries in the SAT screen text", field="sat_screen",
                          expected="page 2 of 'display system-parameters cdr'")
    return tuple((item, length) for _, item, length in found)


def resolve_layout(options: dict) -> tuple[L.AvayaLayout, str]:
    """The layout and date format a ``[[pbx]]`` table selects; a ConfigError names the key that is wrong."""
    name = str(options.get("layout", "customized" if ("fields" in options or "sat_screen" in options) else ""))
    date_format = str(options.get("date_format", "")).lower()
    if name == "customized":
        fields = options.get("fields")
        preset_format = ""
        if "sat_screen" in options:
            items = parse_sat_screen(str(options["sat_screen"]))
        elif isinstance(fields, str):
            if fields not in L.CUSTOMIZED_PRESETS:
                raise ConfigError(f"unknown customized preset '{fields}'", field="fields",
                                  expected="one of " + ", ".join(sorted(L.CUSTOMIZED_PRESETS)) + " or a list of [item, length]")
            items, preset_format = L.CUSTOMIZED_PRESETS[fields]
        elif isinstance(fields, list) and fields:
            items = _items(fields)
        else:
            raise ConfigError("a customized layout needs its items", field="fields",
                              expected='fields = [["date", 6], ["space", 1], ["time", 4], …] or sat_screen = """…"""')
        layout = L.AvayaLayout("customized", tuple(items), L.layout_width(items), "site configuration")
        date_format = date_format or preset_format or "mmdd"
    elif name in L.STANDARD_LAYOUTS:
        layout = L.STANDARD_LAYOUTS[name]
        date_format = date_format or "mmdd"
    else:
        raise ConfigError(f"unknown Avaya CDR layout '{name}'" if name else "no Avaya CDR layout given", field="layout",
                          expected="customized (with fields) or one of " + ", ".join(sorted(L.STANDARD_LAYOUTS)))
    names = {item for item, _ in layout.items}
    if "time" not in names:
        raise ConfigError("the layout has no 'time' item (the call's end time)", field="fields", expected="a time item of length 4")
    if not names & {"duration", "sec-dur"}:
        raise ConfigError("the layout has no 'duration' or 'sec-dur' item", field="fields", expected="one of them")
    if date_format not in ("mmdd", "ddmm"):
        raise ConfigError(f"unknown date_format '{date_format}'", field="date_format", expected="mmdd or ddmm")
    return layout, date_format


def _items(fields: list) -> tuple[L.Item, ...]:
    out = []
    for k, entry in enumerate(fields, 1):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], int) and entry[1] > 0):
            raise ConfigError(f"entry {k} is {entry!r}", field="fields", expected='[item, length], e.g. ["time", 4]')
        out.append((entry[0].strip().lower(), entry[1]))
    return tuple(out)


class AvayaConnector(Connector):
    """Avaya CM CDR over TCP (CDR1/CDR2 links) or from a captured file; layouts as data."""

    type = "avaya"
    options = {
        "layout": "customized (the default with fields or sat_screen) | teleseer | printer | expanded | int-isdn "
                  "| unformatted",
        "fields": "customized layout: [[item, length], …] as on the SAT form, or a preset name",
        "sat_screen": "customized layout: the SAT screen `display system-parameters cdr` page 2, pasted",
        "date_format": "CDR Date Format: mmdd or ddmm",
        "reference_date": "anchor of year inference for date records, YYYY-MM-DD (default: today)",
    }
    stream_state = True  # the last date record and repeat numbers follow one stream (Connector.for_stream)
    fields = frozenset({
        "call_id", "pbx", "source_format", "start_utc", "end_utc", "duration_s", "calling_number", "called_number",
        "extension", "direction", "trunk", "account_code", "disposition", "cause_code", "chain_id", "raw_ref",
        "leg_feature",
    })

    def __init__(self, pbx: PbxContext) -> None:
        super().__init__(pbx)
        self.layout, self.date_format = resolve_layout(pbx.options)
        self._spans: dict[str, tuple[int, int]] = {}
        pos = 0
        for item, length in self.layout.items:
            if item in L.TERMINATORS:
                continue
            if item in L.USED_ITEMS and item not in self._spans:
                self._spans[item] = (pos, pos + length)
            pos += length
        self._width = pos
        used_ends = [start for start, _ in self._spans.values()]
        self._min_length = max(used_ends) + 1 if used_ends else 1
        self._carry: tuple[date, int | None] | None = None  # last (date, end minute) seen, for date-less layouts

    def complete_prefix(self, buffer: bytes) -> int:
        """Whole records end at LF (the NUL padding after it rides with the next read and is stripped).

        Overridden on purpose although it frames like the default: a CM link has no header lines, and
        the stream intake looks for a header *preamble* only in connectors that keep the default.  A
        date record at the start of a session is data (it dates the records after it), not a header to
        repeat in front of every later chunk — after midnight that would date records a day early.
        """
        return buffer.rfind(b"\n") + 1

    # ------------------------------------------------------------------------------------------------
    def decode(self, data: bytes, source: str) -> ParseResult:
        recs = split_lines(data)
        if not len(recs):
            return ParseResult(PARSED_SCHEMA.empty_table(), [], 0)
        is_date = np.asarray(pc.match_substring_regex(recs.text, _DATE_RECORD).to_numpy(zero_copy_only=False), bool)
        date_recs = recs.take(is_date)
        calls = recs.take(~is_date)
        n = len(calls)
        text = calls.text
        length = np.asarray(pc.utf8_length(text).to_numpy(zero_copy_only=False), dtype=np.int64)
        checks = Checks(n)
        max_len = self._width + 1 if self.layout.width is not None else 1 << 30
        checks.add(None, (length >= self._min_length) & (length <= max_len),
                   lambda k: f"record is {length[k]} characters; layout '{self.layout.name}' has "
                             f"{self._width if self.layout.width is not None else f'at least {self._min_length}'}")
        padded = pc.utf8_rpad(text, width=self._width)
        f = {item: pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(padded, a, b)) for item, (a, b) in self._spans.items()}

        def bad_value(item: str, what: str):
            return lambda k: f"{what}: {f[item][k].as_py()!r}"

        time_ok = np.asarray(pc.match_substring_regex(f["time"], r"^([01]\d|2[0-3])[0-5]\d$")
                             .to_numpy(zero_copy_only=False), bool) & (length >= self._min_length)
        checks.add("time", time_ok, bad_value("time", "not HHMM"))
        if "sec-dur" in f:
            checks.add("sec-dur", pc.match_substring_regex(f["sec-dur"], r"^\d{1,5}$"), bad_value("sec-dur", "not seconds"))
            seconds = _ints(pc.if_else(pc.match_substring_regex(f["sec-dur"], r"^\d{1,5}$"), f["sec-dur"], "0"))
        else:
            d = f["duration"]
            checks.add("duration", pc.not_equal(d, "9999"),
                       "duration 9999: the switch clock changed during the call, so its length is unknown")
            ok = pc.match_substring_regex(d, r"^\d[0-5]\d\d$")
            checks.add("duration", ok, bad_value("duration", "not H MM T (hours, minutes, tenths)"))
            digits = _ints(pc.if_else(ok, d, "0"))
            seconds = digits // 1000 * 3600 + digits // 10 % 100 * 60 + digits % 10 * 6
        tod = _ints(pc.if_else(pc.match_substring_regex(f["time"], r"^\d{4}$"), f["time"], "0"))
        minute = tod // 100 * 60 + tod % 100

        if "date" in f:
            fmt = "%m%d%y" if self.date_format == "mmdd" else "%d%m%y"
            day = strptime(f["date"], fmt)
            checks.add("date", pc.is_valid(day), bad_value("date", f"not a date ({self.date_format}yy)"))
            days = np.asarray(pc.fill_null(pc.cast(pc.cast(day, pa.timestamp("s")), pa.int64()), 0)
                              .to_numpy(zero_copy_only=False), dtype=np.int64) // 86400
        else:
            # a bad record's time must not fake a midnight roll-over: carry the previous good time over it
            last_good = np.maximum.accumulate(np.where(time_ok, np.arange(n), -1)) if n else np.zeros(0, np.int64)
            steady = np.where(last_good >= 0, minute[np.maximum(last_good, 0)], 0)
            days, ok_day = self._days_from_date_records(is_date, date_recs, steady)
            checks.add("date", ok_day, "no valid date for this record (date record or year inference failed)")

        good, quarantined = checks.quarantine(calls, source)
        calls_table = self._map(calls, f, good, days, minute, seconds, source)
        return ParseResult(calls_table, quarantined, n)

    # ------------------------------------------------------------------------------------------------
    def _days_from_date_records(self, is_date: np.ndarray, date_recs: Records,
                                minute: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Days since the epoch of each call record's end, from date records, carry-over and roll-over."""
        digits = pc.replace_substring(date_recs.text, " ", "")
        digits_np = np.asarray(digits.to_numpy(zero_copy_only=False), dtype=object)
        first = np.array([int(s[0:2]) if len(s) >= 4 and s[:4].isdigit() else 0 for s in digits_np], dtype=np.int64)
        second = np.array([int(s[2:4]) if len(s) >= 4 and s[:4].isdigit() else 0 for s in digits_np], dtype=np.int64)
        month, dom = (first, second) if self.date_format == "mmdd" else (second, first)
        ref = reference_date(self.pbx.options, self.pbx.timezone)
        years = infer_year(month, dom, ref)
        record_days = np.array([_epoch_day(int(y), int(m), int(d)) if y else -1
                                for y, m, d in zip(years, month, dom)], dtype=np.int64)
        carry_day, carry_minute = (self._carry if self._carry else (ref, None))
        seg_day = np.concatenate(([_epoch_day(carry_day.year, carry_day.month, carry_day.day)], record_days))
        seg_of_call = np.cumsum(is_date)[~is_date]  # 0: before the first date record of this input
        n = len(seg_of_call)
        prev = np.concatenate(([-1], minute[:-1])) if n else minute
        same = np.concatenate(([False], seg_of_call[1:] == seg_of_call[:-1])) if n else np.zeros(0, bool)
        drop = same & (minute < prev - _HALF_DAY_MIN)
        if n and seg_of_call[0] == 0 and carry_minute is not None:
            drop[0] = minute[0] < carry_minute - _HALF_DAY_MIN
        cum = np.cumsum(drop)
        # roll-overs count from each segment's first record (a date record resets the day)
        seg_first = np.maximum.accumulate(np.where(~same, np.arange(n), 0)) if n else np.zeros(0, np.int64)
        days = seg_day[seg_of_call] + (cum - (cum - drop)[seg_first])
        ok = seg_day[seg_of_call] >= 0
        if n:
            last = days[-1]
            self._carry = (date(1970, 1, 1) + timedelta(days=int(last)), int(minute[-1]))
        if len(is_date) and is_date[-1] and record_days[-1] >= 0:
            self._carry = (date(1970, 1, 1) + timedelta(days=int(record_days[-1])), None)
        return days, ok

    def _map(self, calls: Records, f: dict, good: np.ndarray, days: np.ndarray, minute: np.ndarray,
             seconds: np.ndarray, source: str) -> pa.Table:
        mask = pa.array(good)
        sel = {k: v.filter(mask) for k, v in f.items()}
        n = int(good.sum())
        days, minute, seconds = days[good], minute[good], seconds[good]

        def col(item: str) -> pa.Array:
            return sel[item] if item in sel else pa.array([""] * n, pa.string())

        end_local = pa.array(days * 86400 + minute * 60, pa.int64()).cast(pa.timestamp("s"))
        end = local_to_utc(end_local, self.pbx.timezone)
        start = pc.subtract(end, pc.cast(pa.array(seconds, pa.int64()), pa.duration("s")))
        cond = col("cond-code")
        cond_np = np.asarray(cond.to_numpy(zero_copy_only=False), dtype=object)
        in_trk = col("in-trk-code")
        used = col("code-used")
        has_in = np.asarray(pc.not_equal(in_trk, "").to_numpy(zero_copy_only=False), bool)
        has_used = np.asarray(pc.not_equal(used, "").to_numpy(zero_copy_only=False), bool)
        is_in = np.isin(cond_np, list(L.INBOUND_CODES))
        is_out = np.isin(cond_np, list(L.OUTBOUND_CODES))
        is_int = np.isin(cond_np, list(L.INTERNAL_CODES))
        code = np.select([is_in, is_out, is_int, has_in, has_used], [2, 1, 0, 2, 1], 0)
        direction = pa.array(np.array(["internal", "outbound", "inbound"], dtype=object)[code], pa.string())
        inbound = pa.array(code == 2)
        trunk = pc.if_else(inbound, pc.if_else(pc.equal(in_trk, ""), used, in_trk), used)
        trunk = pc.if_else(pa.array(code == 0), pa.scalar(None, pa.string()), null_if_empty(trunk))
        calling = col("calling-num") if "calling-num" in sel else col("clg-num/in-tac")
        dialed = col("dialed-num")
        extension = pc.if_else(inbound, dialed, calling)
        disposition = np.select(
            [np.isin(cond_np, list(L.BUSY_CODES)), np.isin(cond_np, list(L.NO_ANSWER_CODES)),
             np.isin(cond_np, list(L.FAILED_CODES)), seconds > 0],
            ["busy", "no_answer", "failed", "answered"], "no_answer")
        day_text = pc.strftime(end_local, format="%Y%m%d")
        ids = record_ids(self.pbx.pbx_id, [day_text, calls.text.filter(mask)], hashed=True, repeats=self.repeats)
        lines = pa.array(calls.line[good], pa.int64())
        cols = {
            "call_id": ids,
            "pbx": pa.array([self.pbx.pbx_id] * n, pa.string()),
            "source_format": pa.array([SOURCE_FORMAT] * n, pa.string()),
            "start_utc": start,
            "end_utc": end,
            "duration_s": pa.array(np.where(disposition == "answered", seconds, 0), pa.int64()).cast(pa.int32()),
            "calling_number": null_if_empty(calling),
            "called_number": null_if_empty(dialed),
            "extension": null_if_empty(extension),
            "direction": direction,
            "trunk": trunk,
            "account_code": null_if_empty(col("acct-code")),
            "disposition": pa.array(disposition.astype(object), pa.string()),
            "cause_code": null_if_empty(cond),
            "leg_feature": _FEATURE_NAMES.take(pc.index_in(cond, value_set=_FEATURE_KEYS)),
            "chain_id": null_if_empty(col("ucid")),
            "raw_ref": pc.binary_join_element_wise(source, pc.cast(lines, pa.string()), ":"),
        }
        return pa.table(cols)


_FEATURE_KEYS = pa.array(list(L.FEATURE_CODES), pa.string())
_FEATURE_NAMES = pa.array(list(L.FEATURE_CODES.values()), pa.string())


def _ints(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _epoch_day(y: int, m: int, d: int) -> int:
    try:
        return (date(y, m, d) - date(1970, 1, 1)).days
    except ValueError:
        return -1

