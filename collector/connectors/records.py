"""Shared machinery of the record-oriented connectors (Avaya CM, serial/TCP SMDR, Asterisk, FreeSWITCH).

Why one module: those formats differ in how a record is cut out of the byte stream and which columns it
has, but not in what happens next — strings are checked column by column, the first bad field of a
record sends it to quarantine with its line, offset, field and reason, local wall-clock times become
UTC in the PBX's zone, and every record gets a ``call_id`` that depends only on the PBX and the record
itself (so replaying a dump or re-importing a file never duplicates a call).

Everything here works on whole Arrow/numpy columns; the per-record Python work left is the framing
split (``str.split``, C speed) and, for malformed records only, building the quarantine entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.base import Quarantined, RepeatCounts
from warehouse.schema import TS

STX, ETX = "\x02", "\x03"
_STR_NULL = pa.scalar(None, pa.string())


# --------------------------------------------------------------------------------------------------------
# Framing: bytes → records (text, 1-based line or frame number, byte offset)
# --------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Records:
    """Records cut out of one unit of input, with where each one came from."""

    text: pa.Array  # string, one record each (line ending, NUL padding and STX/ETX removed)
    line: np.ndarray  # int64, 1-based line (line framing) or frame number (STX/ETX framing)
    offset: np.ndarray  # int64, byte offset of the record's first byte in the input
    raw: bytes  # the input, to quote a record's bytes in a quarantine entry

    def __len__(self) -> int:
        return len(self.text)

    def take(self, mask: np.ndarray) -> Records:
        return Records(self.text.filter(pa.array(mask)), self.line[mask], self.offset[mask], self.raw)

    def raw_bytes(self, k: int) -> bytes:
        start = int(self.offset[k])
        return self.raw[start:start + len(self.text[k].as_py().encode("latin-1", errors="replace"))]


def split_lines(data: bytes, *, strip: str = "\x00\r") -> Records:
    """Records separated by LF (CR LF, bare CR and trailing NUL padding tolerated); empty lines dropped.

    Decoded as Latin-1 so one character is one byte and offsets stay exact whatever the PBX sends.
    """
    text = data.decode("latin-1").replace("\r\n", "\n\x00")  # keep byte offsets: CR LF → LF + NUL
    if "\r" in text:  # a bare CR ends a record too (some SMDR printers)
        text = text.replace("\r", "\n")
    parts = text.split("\n")
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    arr = pa.array(parts, pa.string())
    # leading NULs belong to the previous record's padding: move the offset past them
    lead = pc.utf8_length(arr)
    arr = pc.utf8_ltrim(arr, characters=strip)
    lead = np.asarray(pc.subtract(lead, pc.utf8_length(arr)).to_numpy(zero_copy_only=False), dtype=np.int64)
    arr = pc.utf8_rtrim(arr, characters=strip)
    keep = np.asarray(pc.greater(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False), dtype=bool)
    offsets = (starts + lead)[keep]
    # line numbers count LF only (what an editor and the collector's newline scan count), even where a
    # bare CR ended a record
    lf = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    lines = np.searchsorted(lf, offsets, side="right").astype(np.int64) + 1
    return Records(arr.filter(pa.array(keep)), lines, offsets, data)


def split_frames(data: bytes) -> Records:
    """STX … ETX framed records (NEC and other SMDR over TCP).

    Bytes between an ETX and the next STX (line noise, NUL padding) are not part of a record; text ended by
    an ETX without any STX before it is kept as a record, so that it is quarantined rather than lost.

    A record's "line" is its frame number in the input (1-based).  A trailing frame without its ETX is
    not a record yet: :func:`complete_frames` keeps it back for the next read.
    """
    text = data.decode("latin-1")
    parts = text.split(ETX)
    # after the last ETX: nothing (dropped), or an unterminated frame of a file cut short (kept, so that it
    # is counted and quarantined rather than lost; live streams never hand one over, see complete_frames)
    if parts and not parts[-1].strip("\x00\r\n "):
        parts = parts[:-1]
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])) if len(parts) else np.zeros(0, np.int64)
    arr = pa.array(parts, pa.string())
    stx_at = np.asarray(pc.find_substring(arr, STX).to_numpy(zero_copy_only=False), dtype=np.int64) if len(parts) \
        else np.zeros(0, np.int64)
    # the frame starts after its (last) STX; a part without STX keeps its text so it is quarantined, not lost
    begin = np.where(stx_at >= 0, stx_at + 1, 0)
    body = [p[b:] for p, b in zip(parts, begin.tolist())]
    arr = pc.utf8_trim(pa.array(body, pa.string()), characters="\x00\r\n")
    keep = np.asarray(pc.greater(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False), dtype=bool) if len(parts) \
        else np.zeros(0, bool)
    frames = np.arange(1, len(parts) + 1, dtype=np.int64)
    return Records(arr.filter(pa.array(keep)), frames[keep], (starts + begin)[keep], data)


def offset_refs(source: str, offsets: np.ndarray) -> pa.Array:
    """``<source>@<byte offset>`` per record: the reference for framed records, which have no lines."""
    return pc.binary_join_element_wise(source, pc.cast(pa.array(offsets, pa.int64()), pa.string()), "@")


def complete_frames(buffer: bytes) -> int:
    """Leading bytes of *buffer* that hold whole STX … ETX frames."""
    return buffer.rfind(ETX.encode()) + 1


# --------------------------------------------------------------------------------------------------------
# Column checks → quarantine
# --------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Checks:
    """Vectorised validation: each check is a mask over all records; a record's first failure wins."""

    n: int
    items: list[tuple[str | None, np.ndarray, Callable[[int], str]]] = field(default_factory=list)

    def add(self, name: str | None, ok: np.ndarray | pa.Array | pa.ChunkedArray, reason: str | Callable[[int], str]) -> None:
        if not isinstance(ok, np.ndarray):
            ok = np.asarray(pc.fill_null(ok, False).to_numpy(zero_copy_only=False), dtype=bool)
        self.items.append((name, ok, reason if callable(reason) else (lambda _k, r=reason: r)))

    def first_bad(self) -> np.ndarray:
        first = np.full(self.n, -1, dtype=np.int32)
        for k, (_, ok, _) in enumerate(self.items):
            first[(~ok) & (first < 0)] = k
        return first

    def quarantine(self, records: Records, source: str) -> tuple[np.ndarray, list[Quarantined]]:
        """The mask of good records and a quarantine entry for each bad one."""
        first = self.first_bad()
        bad: list[Quarantined] = []
        for r in np.flatnonzero(first >= 0):
            name, _, reason = self.items[first[r]]
            bad.append(Quarantined(source, int(records.line[r]), int(records.offset[r]), name, reason(int(r)),
                                   records.raw_bytes(int(r))))
        return first < 0, bad


def to_numpy_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def null_if_empty(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.if_else(pc.equal(col, ""), _STR_NULL, col)


# --------------------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------------------

def local_to_utc(naive: pa.Array | pa.ChunkedArray, timezone: str) -> pa.Array | pa.ChunkedArray:
    """Wall-clock timestamps of the PBX's zone → UTC seconds.

    In the repeated hour of a DST change the earlier instant is taken, and a time inside the skipped hour
    is read as the instant the clocks jumped to; both are documented in ``docs/connectors.md``.
    """
    ts = pc.cast(naive, pa.timestamp("s"))
    if timezone in ("UTC", "Etc/UTC", "GMT", "Z"):
        return pc.cast(pc.assume_timezone(ts, "UTC"), TS)
    return pc.cast(pc.assume_timezone(ts, timezone, ambiguous="earliest", nonexistent="latest"), TS)


def strptime(col: pa.Array | pa.ChunkedArray, fmt: str) -> pa.Array | pa.ChunkedArray:
    """Parse *col* with *fmt* into naive seconds; unparseable values become null (callers check)."""
    return pc.strptime(col, format=fmt, unit="s", error_is_null=True)


def infer_year(month: np.ndarray, day: np.ndarray, reference: date) -> np.ndarray:
    """Year of a month/day without a year (Avaya date records): the one nearest to *reference*."""
    years = np.stack([np.full(len(month), reference.year + k) for k in (-1, 0, 1)])
    best = np.zeros(len(month), dtype=np.int64)
    best_gap = np.full(len(month), 10**9)
    ref = np.datetime64(reference, "D")
    for k in range(3):
        ok = _valid_date(years[k], month, day)
        stamp = _days(years[k], month, day)
        gap = np.where(ok, np.abs(stamp - ref.astype(np.int64)), 10**9)
        take = gap < best_gap
        best = np.where(take, years[k], best)
        best_gap = np.where(take, gap, best_gap)
    return best


def _valid_date(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    ok = (m >= 1) & (m <= 12) & (d >= 1)
    month_start = (y - 1970) * 12 + np.clip(m, 1, 12) - 1
    first = month_start.astype("datetime64[M]").astype("datetime64[D]")
    nxt = (month_start + 1).astype("datetime64[M]").astype("datetime64[D]")
    return ok & (d <= (nxt - first).astype(np.int64))


def _days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    month_start = ((y - 1970) * 12 + np.clip(m, 1, 12) - 1).astype("datetime64[M]").astype("datetime64[D]")
    return month_start.astype(np.int64) + d - 1


def reference_date(options: dict, timezone: str) -> date:
    """``[[pbx]] reference_date`` (ISO) or today in the PBX's zone: the anchor for year inference."""
    given = options.get("reference_date")
    if given:
        return date.fromisoformat(str(given))
    return datetime.now(ZoneInfo(timezone)).date()


# --------------------------------------------------------------------------------------------------------
# Stable record identity
# --------------------------------------------------------------------------------------------------------

def digest(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A 128-bit BLAKE2b digest (32 hex characters) of each string: a record's identity for ``call_id``.

    One ``hashlib`` call per record in a comprehension: the C hash beats any column-wise numpy hash
    over every byte, so this is the one per-record step kept (figures: ``docs/dev/import-performance.md``).
    """
    from hashlib import blake2b

    values = (col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col).to_pylist()
    return pa.array([blake2b(v.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() for v in values],
                    pa.string())


def occurrence(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """0 for the first record with a key in this input, 1 for the second identical one, …"""
    arr = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    if len(arr) == 0 or pc.count_distinct(arr).as_py() == len(arr):  # the usual case: no repeats at all
        return np.zeros(len(arr), np.int64)
    values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    new_group = np.concatenate(([True], sorted_vals[1:] != sorted_vals[:-1]))
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(values)), 0))
    rank_sorted = np.arange(len(values)) - group_start
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = rank_sorted
    return rank


def record_ids(pbx: str, parts: Sequence[pa.Array | pa.ChunkedArray | str], *, hashed: bool,
               repeats: RepeatCounts | None = None) -> pa.Array:
    """``pbx:<identity>`` per record, ``#k`` appended to the k-th repeat of an identical record.

    *parts* are joined with ``|``; with *hashed* the joined text is replaced by its :func:`digest`.
    Repeats are counted within this input, or along the whole stream when its *repeats* are given.
    """
    joined = pc.binary_join_element_wise(*parts, "|") if len(parts) > 1 else parts[0]
    if isinstance(joined, str):
        raise ValueError("record_ids needs at least one column")
    key = digest(joined) if hashed else (joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined)
    rank = occurrence(key)
    if repeats is not None:
        rank = repeats.number(key, rank)
    suffix = pa.array(np.where(rank > 0, np.char.add("#", rank.astype(str)), "").astype(object), pa.string())
    return pc.binary_join_element_wise(f"{pbx}:", key, suffix, "")


# --------------------------------------------------------------------------------------------------------
# Helpers of the CSV-shaped PBX formats (Asterisk, FreeSWITCH, IP Office SMDR)
# --------------------------------------------------------------------------------------------------------

def glob_mask(col: pa.Array | pa.ChunkedArray, globs: Sequence[str]) -> np.ndarray:
    """Which values match any of the shell-style *globs* (``*``, ``?``; case-insensitive), one regex per column."""
    if not globs:
        return np.zeros(len(col), dtype=bool)
    pattern = "|".join(f"(?:^{_glob_regex(str(g))}$)" for g in globs)
    return to_numpy_bool(pc.match_substring_regex(col, pattern, ignore_case=True))


def _glob_regex(glob: str) -> str:
    """A glob as an RE2 pattern (``fnmatch.translate`` emits constructs RE2 does not support)."""
    import re

    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)


def local_times(col: pa.Array | pa.ChunkedArray, fmt: str, timezone: str) -> pa.Array | pa.ChunkedArray:
    """Wall-clock strings of the PBX (or UTC when *timezone* is ``UTC``) → UTC; empty/unparseable → null."""
    return local_to_utc(strptime(null_if_empty(col), fmt), timezone)


def time_check(checks: Checks, name: str, col: pa.Array | pa.ChunkedArray, parsed: pa.Array | pa.ChunkedArray,
               *, required: bool, what: str) -> None:
    """Quarantine a record whose time *col* is present but unparseable (or absent when *required*)."""
    empty = to_numpy_bool(pc.equal(col, ""))
    valid = to_numpy_bool(pc.is_valid(parsed))
    ok = valid | (empty & (not required))
    checks.add(name, ok, lambda k: f"not {what}: {col[k].as_py()!r}")


def int_check(checks: Checks, name: str, col: pa.Array | pa.ChunkedArray, *, required: bool = True,
              digits: int = 9) -> np.ndarray:
    """Quarantine records whose *col* is not a whole number of seconds; return the values (0 where bad/empty).

    Durations have at most 9 digits (30 years), so they always fit the int32 of the schema; epoch times 12.
    """
    ok = to_numpy_bool(pc.match_substring_regex(col, rf"^\d{{1,{digits}}}$"))
    empty = to_numpy_bool(pc.equal(col, ""))
    checks.add(name, ok | (empty & (not required)), lambda k: f"not a whole number of seconds: {col[k].as_py()!r}")
    cleaned = pc.if_else(pa.array(ok), col, "0")
    return np.asarray(pc.cast(cleaned, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def epoch_seconds(ts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """UTC seconds of a timestamp column, with -1 for nulls."""
    ints = pc.cast(pc.cast(ts, pa.timestamp("s", tz="UTC")), pa.int64())
    return np.asarray(pc.fill_null(ints, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def seconds_to_ts(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(values, pa.int64(), mask=None if valid is None else ~valid)
    return arr.cast(TS)


def line_refs(source: str, lines: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(source, pc.cast(pa.array(lines, pa.int64()), pa.string()), ":")


def constant(value: str, n: int) -> pa.Array:
    return pa.array([value] * n, pa.string())


@dataclass(slots=True)
class CsvRows:
    """Where the rows of a ``csvtable.StringTable`` came from, in the shape :meth:`Checks.quarantine` reads."""

    line: np.ndarray
    offset: np.ndarray
    lines: object  # csvtable.Lines

    @classmethod
    def of(cls, rows) -> CsvRows:  # rows: csvtable.StringTable
        starts = rows.raw.starts if rows.raw is not None and len(rows.lines) else np.zeros(0, np.int64)
        offset = starts[rows.lines - 1] if len(rows.lines) else np.zeros(0, np.int64)
        return cls(rows.lines, np.asarray(offset, dtype=np.int64), rows.raw)

    def raw_bytes(self, k: int) -> bytes:
        return self.lines.text(int(self.line[k]))
