"""Turning a batch of calls into the integer arrays the rating engine computes on.

The engine never touches a Python object per call: timestamps and durations become int64 views of
the Arrow buffers (zero copy for ``timestamp[s]`` and ``int64`` without nulls), and the string
columns are decoded one chunk at a time (so the temporaries stay small and threads can share the
work).  A destination made of ASCII digits only is checked on its raw bytes and parsed by one Arrow
cast; anything unusual (nulls, empty strings, letters, more than ``WIDTH`` digits) takes the
careful path, which gives the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.errors import RatingError
from analytics.rating.index import WIDTH

REQUIRED = ("dest", "origin", "site", "at_utc", "duration_s")
POW10 = 10 ** np.arange(WIDTH, -1, -1, dtype=np.int64)  # POW10[L] = 10**(WIDTH-L)


@dataclass(frozen=True)
class CallColumns:
    """The batch: string columns still in Arrow, the numeric ones as int64 arrays with validity."""

    table: pa.Table  # dest, origin, site
    at: np.ndarray  # int64 UTC seconds (0 where not at_ok)
    at_ok: np.ndarray
    duration: np.ndarray  # int64 (0 where null)
    dur_ok: np.ndarray  # present and not absurdly long

    @property
    def n(self) -> int:
        return len(self.at)


def read_calls(calls: pa.Table | pd.DataFrame, max_duration_s: int) -> CallColumns:
    if isinstance(calls, pd.DataFrame):
        calls = pa.Table.from_pandas(calls, preserve_index=False)
    missing = set(REQUIRED) - set(calls.column_names)
    if missing:
        raise RatingError(f"calls lack column(s) {', '.join(sorted(missing))}")
    at, at_ok = _utc_seconds(flat(calls["at_utc"]))
    dur = flat(calls["duration_s"])
    if not pa.types.is_int64(dur.type):
        dur = dur.cast(pa.int64())
    if dur.null_count:
        dur_ok = dur.is_valid().to_numpy(zero_copy_only=False)
        duration = pc.fill_null(dur, 0).to_numpy()
    else:
        duration = dur.to_numpy()
        dur_ok = np.ones(len(duration), dtype=bool)
    dur_ok &= duration <= max_duration_s
    table = pa.table({name: calls[name] for name in ("dest", "origin", "site")})
    return CallColumns(table, at, at_ok, duration, dur_ok)


def single(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One Arrow array (chunks combined only when there are several)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def flat(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One plain Arrow array (dictionary, large and view strings become ``string``)."""
    col = single(col)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
        col = col.cast(pa.string())
    return col


def _utc_seconds(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_string(col.type):
        try:
            col = pc.cast(col, pa.timestamp("s", tz="UTC"))
        except pa.ArrowInvalid as exc:
            raise RatingError(f"at_utc is not a timestamp: {exc}") from None
    if not pa.types.is_timestamp(col.type):
        raise RatingError(f"at_utc must be a UTC timestamp, got {col.type}")
    per_s = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[col.type.unit]
    raw = col.cast(pa.int64())
    if raw.null_count:
        ok = raw.is_valid().to_numpy(zero_copy_only=False)
        raw = pc.fill_null(raw, 0)
    else:
        ok = np.ones(len(raw), dtype=bool)
    values = raw.to_numpy()
    return (values // per_s if per_s != 1 else values), ok  # floor: a billing second starts when it starts


def dest_digits(dest: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """E.164 digit strings → (right-zero-padded WIDTH-digit int64, digit count); non-digits → length 0."""
    if pa.types.is_string(dest.type) and not dest.null_count and len(dest):
        offsets = np.frombuffer(dest.buffers()[1], dtype=np.int32, count=len(dest) + 1, offset=dest.offset * 4)
        length = np.diff(offsets)
        if length.min() > 0 and length.max() <= WIDTH:
            lo = int(offsets[0])
            raw = np.frombuffer(dest.buffers()[2], dtype=np.uint8, count=int(offsets[-1]) - lo, offset=lo)
            if (raw - np.uint8(48)).max() <= 9:  # every byte an ASCII digit (others wrap above 9)
                length = length.astype(np.int64)
                return pc.cast(dest, pa.int64()).to_numpy() * POW10[length], length
    return _dest_digits_careful(dest)


def _dest_digits_careful(dest: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if not pa.types.is_string(dest.type):
        dest = dest.cast(pa.string())
    length = pc.fill_null(pc.utf8_length(dest), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = pc.fill_null(pc.ascii_is_decimal(dest), False)
    if dest.null_count or not pc.all(valid).as_py():
        dest = pc.if_else(valid, dest, "0")
        length = np.where(valid.to_numpy(zero_copy_only=False), length, 0)
    if length.size and length.max() > WIDTH:
        dest = pc.utf8_slice_codeunits(dest, 0, WIDTH)
        length = np.minimum(length, WIDTH)
    value = pc.cast(dest, pa.int64()).to_numpy(zero_copy_only=False)
    return value * POW10[length], length


def codes(arr: pa.Array) -> tuple[np.ndarray, list]:
    """Dictionary codes (-1 for null) and the distinct values."""
    if pa.types.is_dictionary(arr.type) and not pa.types.is_string(arr.type.value_type):
        arr = arr.cast(arr.type.value_type)  # e.g. integer site ids: compare as text, like plain columns
    if not pa.types.is_dictionary(arr.type):
        if not pa.types.is_string(arr.type):
            arr = arr.cast(pa.string())
        arr = pc.dictionary_encode(arr)
    values = arr.dictionary.to_pylist()
    idx = arr.indices
    if idx.null_count:
        idx = pc.fill_null(idx, -1)
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64), values


def site_codes(site: pa.Array, site_index: Mapping[str, int]) -> np.ndarray:
    """Position of each call's site in *site_index*, -1 for unknown or missing."""
    idx, values = codes(site)
    table = np.array([site_index.get(v, -1) if v is not None else -1 for v in values] + [-1], dtype=np.int32)
    return table[idx]


def origin_codes(origin: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Codes and distinct values of the calling numbers, a missing one read as ``""``."""
    if not pa.types.is_string(origin.type):
        origin = origin.cast(pa.string())
    idx, values = codes(pc.fill_null(origin, ""))
    return idx, values
