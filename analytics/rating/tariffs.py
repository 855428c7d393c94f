"""Tariff CSV files (SPEC §4): read, validate every row, hold them as columns ready for vectorised rating.

One pass finds *every* problem and raises them together (``ConfigErrors``), each naming the file, the
line and the column, so ``callcost check-config`` can list them all and a user fixes the file once.

Parsed values are exact integers: money at ``money.INTERNAL_SCALE`` (10⁻⁶ of the currency), times as
seconds of the day, dates as days since 1970-01-01, ``days`` as a bitmask (bit 0 = Monday … bit 6 =
Sunday, bit 7 = holiday).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from warehouse.config_schema import check_csv_header, core_schema
from warehouse.errors import ConfigError, ConfigErrors
from warehouse.money import INTERNAL_SCALE, MoneyFormatError, parse_scaled

#: The columns, as declared in the config schema (warehouse.config_schema: SPEC §4).
HEADER = [c.name for c in core_schema().columns("tariff")]
CATEGORIES = ("internal", "local", "national", "mobile", "international", "tollfree", "premium", "emergency")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY_BIT = 1 << 7
WEEK_MASK = (1 << 7) - 1
EPOCH = date(1970, 1, 1)
OPEN_END = 2**31 - 1  # valid_to left empty: open-ended
MAX_PREFIX_DIGITS = 15  # E.164 numbers have at most 15 digits
DAYS_EXPECTED = "all, mon-fri, sat-sun, a ';' list like mon;wed;fri, or holiday"


@dataclass(frozen=True, eq=False)
class Tariff:
    """One tariff file, validated.  Arrays are aligned with ``rows`` (file order)."""

    path: Path
    scale: int  # the currency's minor unit the file was validated for
    rows: pa.Table  # the CSV as written (strings) plus ``line``: for explain and reports
    line: np.ndarray  # int32 file line of each row
    plan: np.ndarray  # object (str)
    origin: np.ndarray  # object (str), "" = any origin
    prefix: np.ndarray  # object (str)
    days: np.ndarray  # uint8 bitmask mon..sun + holiday
    time_from: np.ndarray  # int32 seconds of the day
    time_to: np.ndarray  # int32 seconds of the day, 86400 for 24:00
    connect_fee: np.ndarray  # int64 at INTERNAL_SCALE
    rate: np.ndarray  # int64 per minute at INTERNAL_SCALE
    first_increment: np.ndarray  # int64 seconds
    increment: np.ndarray  # int64 seconds
    valid_from: np.ndarray  # int32 days since 1970-01-01
    valid_to: np.ndarray  # int32 days since 1970-01-01, inclusive; OPEN_END when open
    band: np.ndarray  # object (str): f"{days} {time_from}-{time_to}"
    version: np.ndarray  # object (str): the row's valid_from, ISO
    internal_scale: int = INTERNAL_SCALE
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)  # lookup index, built on first use

    def __len__(self) -> int:
        return len(self.line)


def load_tariff(path: Path, *, scale: int) -> Tariff:
    """Read and validate the tariff CSV at *path* for a currency of *scale* decimals.

    Raises ``ConfigErrors`` listing every invalid cell and every overlap, each with file, line, column.
    """
    path = Path(path)
    if scale > INTERNAL_SCALE:
        raise ConfigErrors([ConfigError(f"currency scale {scale} is finer than the engine's {INTERNAL_SCALE} decimals",
                                        file=str(path), expected=f"a scale ≤ {INTERNAL_SCALE}")])
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigErrors([ConfigError(f"cannot read tariff: {exc.strerror}", file=str(path))]) from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ConfigErrors([ConfigError("empty tariff file", file=str(path), line=1,
                                            expected="the header " + ",".join(HEADER))])
        header = [h.strip() for h in header]
        problems = check_csv_header(header, path, core_schema(), "tariff")
        if problems:  # an unknown column is a misspelling until proven otherwise: rates would be read wrong
            raise ConfigErrors(problems)
        pos = {c: header.index(c) for c in HEADER}
        parser = _RowParser(str(path))
        for record in reader:
            if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                continue
            cells = {c: (record[i].strip() if i < len(record) else "") for c, i in pos.items()}
            parser.add(reader.line_num, cells)
    parser.check_overlaps()
    if parser.errors:
        raise ConfigErrors(parser.errors)
    return parser.build(path, scale)


def band_name(days: str, time_from: str, time_to: str) -> str:
    """The band label recorded on every rated call: ``"mon-fri 08:00-18:00"``."""
    return f"{days} {time_from}-{time_to}"


def parse_days(text: str) -> int:
    """``"mon-fri"`` → bitmask; raises ``ValueError`` naming the offending part."""
    text = text.strip().lower()
    if text == "all":
        return WEEK_MASK
    if not text:
        raise ValueError("empty days")
    mask = 0
    for part in text.split(";"):
        part = part.strip()
        if part == "holiday":
            mask |= HOLIDAY_BIT
            continue
        lo, sep, hi = part.partition("-")
        if lo not in DAY_NAMES or (sep and hi not in DAY_NAMES):
            raise ValueError(f"unknown day '{part}'")
        a = DAY_NAMES.index(lo)
        b = DAY_NAMES.index(hi) if sep else a
        if b < a:
            raise ValueError(f"day range '{part}' runs backwards")
        for d in range(a, b + 1):
            mask |= 1 << d
    return mask


def parse_time(text: str, *, allow_24: bool) -> int:
    """``"HH:MM"`` → seconds of the day; ``24:00`` only as an end."""
    hh, sep, mm = text.partition(":")
    if not (sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()):
        raise ValueError(f"'{text}' is not HH:MM")
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and (m or not allow_24)):
        raise ValueError(f"'{text}' is not a time of day")
    return h * 3600 + m * 60


class _RowParser:
    """Accumulates parsed columns and errors; one instance per file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []
        self.cols: dict[str, list] = {c: [] for c in HEADER}
        self.parsed: dict[str, list] = {k: [] for k in ("line", "days", "time_from", "time_to", "connect_fee", "rate",
                                                        "first_increment", "increment", "valid_from", "valid_to")}
        self._days_cache: dict[str, int] = {}
        self._date_cache: dict[str, int] = {}

    def err(self, line: int, col: str, msg: str, expected: str | None = None) -> None:
        self.errors.append(ConfigError(msg, file=self.file, line=line, field=col, expected=expected))

    def add(self, line: int, c: dict[str, str]) -> None:
        before = len(self.errors)
        if not c["plan"]:
            self.err(line, "plan", "empty plan", "the carrier's plan name")
        for col in ("origin", "prefix"):
            v = c[col]
            if v and not (v.isascii() and v.isdigit()):
                self.err(line, col, f"'{v}' is not E.164 digits", "digits without '+'")
            elif len(v) > MAX_PREFIX_DIGITS:
                self.err(line, col, f"'{v}' is longer than {MAX_PREFIX_DIGITS} digits", "an E.164 prefix")
        if not c["prefix"]:
            self.err(line, "prefix", "empty prefix", "digits without '+'")
        if c["category"] not in CATEGORIES:
            self.err(line, "category", f"unknown category '{c['category']}'", "one of " + ", ".join(CATEGORIES))
        days = self._days(line, c["days"])
        t_from = self._time(line, c, "time_from", allow_24=False)
        t_to = self._time(line, c, "time_to", allow_24=True)
        if t_from is not None and t_to is not None and t_from >= t_to:
            self.err(line, "time_to", f"time_to {c['time_to']} is not after time_from {c['time_from']}",
                     "time_from < time_to (24:00 ends the day)")
        fee = self._money(line, c, "connect_fee")
        rate = self._money(line, c, "rate")
        first = self._increment(line, c, "first_increment")
        inc = self._increment(line, c, "increment")
        vf = self._date(line, c, "valid_from", required=True)
        vt = self._date(line, c, "valid_to", required=False)
        if vf is not None and vt is not None and vt < vf:
            self.err(line, "valid_to", f"valid_to {c['valid_to']} is before valid_from {c['valid_from']}",
                     "valid_to ≥ valid_from, or empty")
        if len(self.errors) > before:
            return
        for col in HEADER:
            self.cols[col].append(c[col])
        for key, value in (("line", line), ("days", days), ("time_from", t_from), ("time_to", t_to),
                           ("connect_fee", fee), ("rate", rate), ("first_increment", first), ("increment", inc),
                           ("valid_from", vf), ("valid_to", OPEN_END if vt is None else vt)):
            self.parsed[key].append(value)

    def _days(self, line: int, text: str) -> int | None:
        if text in self._days_cache:
            return self._days_cache[text]
        try:
            mask = parse_days(text)
        except ValueError as exc:
            self.err(line, "days", str(exc), DAYS_EXPECTED)
            return None
        self._days_cache[text] = mask
        return mask

    def _time(self, line: int, c: dict[str, str], col: str, *, allow_24: bool) -> int | None:
        try:
            return parse_time(c[col], allow_24=allow_24)
        except ValueError as exc:
            self.err(line, col, str(exc), "HH:MM from 00:00 to " + ("24:00" if allow_24 else "23:59"))
            return None

    def _money(self, line: int, c: dict[str, str], col: str) -> int | None:
        try:
            value = parse_scaled(c[col], INTERNAL_SCALE)
        except MoneyFormatError as exc:
            self.err(line, col, str(exc), exc.expected)
            return None
        if value < 0:
            self.err(line, col, f"negative amount {c[col]}", "an amount ≥ 0")
            return None
        return value

    def _increment(self, line: int, c: dict[str, str], col: str) -> int | None:
        v = c[col]
        if not (v.isascii() and v.isdigit()) or int(v) <= 0 or int(v) > 86400:
            self.err(line, col, f"'{v}' is not a positive whole number of seconds", "an integer from 1 to 86400")
            return None
        return int(v)

    def _date(self, line: int, c: dict[str, str], col: str, *, required: bool) -> int | None:
        v = c[col]
        if not v and not required:
            return None
        if v in self._date_cache:
            return self._date_cache[v]
        try:
            if len(v) != 10:
                raise ValueError
            days = (date.fromisoformat(v) - EPOCH).days
        except ValueError:
            self.err(line, col, f"'{v}' is not a date" if v else "empty date", "YYYY-MM-DD")
            return None
        self._date_cache[v] = days
        return days

    def check_overlaps(self) -> None:
        """Rows of one (plan, origin, prefix) must not overlap in validity, days and time (vectorised over pairs)."""
        n = len(self.parsed["line"])
        if n < 2:
            return
        key = np.array([f"{p}\0{o}\0{x}" for p, o, x in zip(self.cols["plan"], self.cols["origin"],
                                                           self.cols["prefix"])], dtype=object)
        order = np.argsort(key, kind="stable")
        k = key[order]
        p = {name: np.asarray(vals, dtype=np.int64)[order] for name, vals in self.parsed.items()}
        same_run = np.concatenate([[0], np.cumsum(k[1:] != k[:-1])])
        starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
        run_start = starts[same_run]
        max_run = int(np.max(np.diff(np.concatenate([starts, [n]]))))
        for gap in range(1, max_run):
            i = np.arange(gap, n)
            j = i - gap
            ok = j >= run_start[i]
            i, j = i[ok], j[ok]
            clash = ((p["valid_from"][i] <= p["valid_to"][j]) & (p["valid_from"][j] <= p["valid_to"][i])
                     & ((p["days"][i] & p["days"][j]) != 0)
                     & (p["time_from"][i] < p["time_to"][j]) & (p["time_from"][j] < p["time_to"][i]))
            for a, b in zip(i[clash], j[clash]):
                late, early = sorted((int(p["line"][a]), int(p["line"][b])), reverse=True)
                col = "days"
                self.errors.append(ConfigError(
                    f"overlaps line {early} (same plan, origin '{self.cols['origin'][order[a]]}', prefix "
                    f"'{self.cols['prefix'][order[a]]}': validity, days and time ranges intersect)",
                    file=self.file, line=late, field=col,
                    expected="at most one row per prefix for any day, time and date"))
        self.errors.sort(key=lambda e: (int(e.line or 0), HEADER.index(e.field) if e.field in HEADER else 99))

    def build(self, path: Path, scale: int) -> Tariff:
        p = self.parsed
        c = self.cols
        rows = pa.table({**{col: pa.array(c[col], pa.string()) for col in HEADER},
                         "line": pa.array(p["line"], pa.int32())})
        obj = lambda vals: np.array(vals, dtype=object)  # noqa: E731 - tiny local helper
        return Tariff(
            path=path, scale=scale, rows=rows,
            line=np.asarray(p["line"], dtype=np.int32),
            plan=obj(c["plan"]), origin=obj(c["origin"]), prefix=obj(c["prefix"]),
            days=np.asarray(p["days"], dtype=np.uint8),
            time_from=np.asarray(p["time_from"], dtype=np.int32), time_to=np.asarray(p["time_to"], dtype=np.int32),
            connect_fee=np.asarray(p["connect_fee"], dtype=np.int64), rate=np.asarray(p["rate"], dtype=np.int64),
            first_increment=np.asarray(p["first_increment"], dtype=np.int64),
            increment=np.asarray(p["increment"], dtype=np.int64),
            valid_from=np.asarray(p["valid_from"], dtype=np.int32), valid_to=np.asarray(p["valid_to"], dtype=np.int32),
            band=obj([band_name(d, f, t) for d, f, t in zip(c["days"], c["time_from"], c["time_to"])]),
            version=obj(c["valid_from"]),
        )
