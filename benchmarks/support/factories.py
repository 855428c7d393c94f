"""Synthetic rated calls for storage tests and benchmarks: valid ``calls_schema(scale)`` rows, built vectorised.

``rated_calls(n)`` gives *n* calls spread over *days* UTC days from *start*, about 5% unrated (money
null), money as exact decimals built from integer minor units — so a test can compare sums exactly.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.schema import TS, calls_schema, conform

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
SITES = np.array(["NYC", "LON", "SHA"])
CARRIERS = np.array(["acme", "globex"])
CATEGORIES = np.array(["local", "national", "mobile", "international"])


def minor_to_decimal(minor: np.ndarray, valid: np.ndarray, scale: int) -> pa.Array:
    """int64 minor units → ``decimal128(18, scale)`` exactly (the unscaled value *is* the integer)."""
    words = np.empty((len(minor), 2), dtype="<i8")
    words[:, 0] = minor
    words[:, 1] = minor >> 63
    validity = pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(minor), [validity, pa.py_buffer(words.tobytes())],
                                 null_count=int((~valid).sum()))


def rated_calls(n: int, *, seed: int = 0, start: datetime = START, days: int = 3, scale: int = 2,
                prefix: str = "c") -> pa.Table:
    """*n* rated calls with ids ``{prefix}{i}``, deterministic for a *seed*."""
    rng = np.random.default_rng(seed)
    base = int(start.timestamp())
    starts = base + rng.integers(0, days * 86_400, n)
    duration = np.where(rng.random(n) < 0.1, 0, rng.integers(1, 3_600, n)).astype("int32")
    unrated = rng.random(n) < 0.05
    reference = rng.integers(0, 50_000, n) * (duration > 0)
    actual = reference * rng.integers(0, 101, n) // 100
    ids = pc.binary_join_element_wise(prefix, pa.array(np.arange(n)).cast(pa.string()), "")
    site = SITES[rng.integers(0, len(SITES), n)]
    ts = pa.array(starts, pa.int64()).cast(TS)
    cols = {
        "call_id": ids,
        "pbx": pc.binary_join_element_wise(pa.array(np.char.lower(site.astype(str))), "pbx", "-"),
        "site": pa.array(site),
        "source_format": pa.array(np.full(n, "test")),
        "start_utc": ts,
        "answer_utc": ts,
        "end_utc": pa.array(starts + duration, pa.int64()).cast(TS),
        "duration_s": pa.array(duration),
        "calling_number": pa.array(rng.integers(1000, 4000, n).astype(str)),
        "called_number": pa.array(rng.integers(200_000_000, 999_999_999, n).astype(str)),
        "direction": pa.array(np.full(n, "outbound")),
        "disposition": pa.array(np.where(duration > 0, "answered", "no_answer")),
        "call_type": pa.array(np.full(n, "outbound")),
        "category": pa.array(CATEGORIES[rng.integers(0, len(CATEGORIES), n)]),
        "rating_status": pa.array(np.where(unrated, "unrated", "rated")),
        "unrated_reason": pa.array(np.where(unrated, "actual: no prefix", None)),
        "actual_cost": minor_to_decimal(actual, ~unrated, scale),
        "reference_cost": minor_to_decimal(reference, ~unrated, scale),
        "savings": minor_to_decimal(reference - actual, ~unrated, scale),
        "currency": pa.array(np.full(n, "USD")),
        "carrier": pa.array(CARRIERS[rng.integers(0, len(CARRIERS), n)]),
        "billable_s": pa.array(duration),
        "rated_at": pa.array(np.full(n, base + 40 * 86_400), pa.int64()).cast(TS),
    }
    return conform(pa.table(cols), calls_schema(scale))
