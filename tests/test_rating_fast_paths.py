"""The rating engine's shortcuts against the reference: every fast path must give the by-the-book answer.

``rate()`` settles most calls through batch-wide tables (the entry per prefix node for the batch's
dates, the band per local minute), cuts big batches into chunks rated on several threads, and splits
batches spanning long periods into clock windows.  The property tests exercise the default choices
on small batches against the slow reference; here each shortcut is switched off or forced on (tiny
chunks, threads, tiny clock windows, per-call entry search, per-second band search) and the answer
must be identical, column by column, to the default engine's on the same generated cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import tariff_and_calls
from test_rating_properties import engine

from analytics.rating import engine as rating
from analytics.rating.clock import ClockTables
from analytics.rating.index import NO_PREFIX_CODE, SEARCH, LookupIndex, lookup_index
from analytics.rating.inputs import dest_digits
from analytics.rating.tariffs import load_tariff

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _search_everything(self: LookupIndex, first_day: int, last_day: int) -> np.ndarray:
    res = np.full(len(self.node_len) + 1, SEARCH, dtype=np.int64)
    res[-1] = NO_PREFIX_CODE
    return res


MODES = {
    "tiny chunks on threads": {"CHUNK_CALLS": 3, "PARALLEL_MIN_CALLS": 1},
    "clock windows of a day": {"MAX_CLOCK_CELLS": 2 * 1_500, "CHUNK_CALLS": 4},
}


@SETTINGS
@given(tariff_and_calls(max_calls=25), st.sampled_from(sorted(MODES)), st.booleans())
def test_chunks_threads_and_windows_change_nothing(case, mode, split):
    text, batch = case
    want = engine(text, batch, split, 2)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in MODES[mode].items():
            mp.setattr(rating, name, value)
        got = engine(text, batch, split, 2)
    pd.testing.assert_frame_equal(got, want)


@SETTINGS
@given(tariff_and_calls(max_calls=25), st.booleans())
def test_per_call_entry_and_band_search_change_nothing(case, split):
    text, batch = case
    want = engine(text, batch, split, 2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LookupIndex, "resolve_entries", _search_everything)
        mp.setattr(ClockTables, "_minute_codes", lambda self: None)
        got = engine(text, batch, split, 2)
    pd.testing.assert_frame_equal(got, want)


def test_band_minute_table_agrees_with_the_timelines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,"
        "increment,valid_from,valid_to\n"
        "p,,44,UK,international,mon-fri,00:00,08:30,0,0.1,60,60,2026-01-01,\n"
        "p,,44,UK,international,mon-fri,08:30,17:45,0,0.2,60,60,2026-01-01,\n"
        "p,,44,UK,international,sat-sun,00:00,24:00,0,0.05,60,60,2026-01-01,\n"
        "p,,44,UK,international,holiday,10:00,12:00,0,0.01,60,60,2026-01-01,\n")
    idx = lookup_index(load_tariff(path, scale=2))
    assert idx.band_minute is not None
    cells = np.arange(len(idx.band_minute))
    pattern, rem = np.divmod(cells, 14 * 1440)
    day_type, minute = np.divmod(rem, 1440)
    for second in (0, 59):
        slot, _ = idx.band_slots(pattern, day_type, minute * 60 + second)
        np.testing.assert_array_equal(idx.band_minute, slot)


def test_prefix_levels_find_the_longest_prefix_at_every_depth(tmp_path):
    prefixes = ["1", "12", "1234567", "12345678", "123456789012", "9", "98765432101234"]
    rows = "".join(f"p,,{p},D{p},international,all,00:00,24:00,0,0.1,60,60,2026-01-01,\n" for p in prefixes)
    path = tmp_path / "t.csv"
    path.write_text("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,"
                    "first_increment,increment,valid_from,valid_to\n" + rows)
    idx = lookup_index(load_tariff(path, scale=2))
    assert len(idx.levels) >= 8  # 14-digit prefix: refined down to its last digit
    numbers = ["123456789012345", "12345678", "1234567", "123456", "1299", "9876543210123", "98765432101234",
               "987654321012349", "5", "1", "12", "12345"]
    padded, length = dest_digits(pa.array(numbers))
    node = idx.lookup_nodes(padded, length)
    got = [idx.node_prefix[k] if k >= 0 else None for k in node]
    want = [max((p for p in prefixes if n.startswith(p)), key=len, default=None) for n in numbers]
    assert got == want


@pytest.mark.parametrize("values", [["4420", "", None, "44x", "4" * 20, "٣٣"], ["1", "22", "333"]])
def test_fast_and_careful_digit_parsing_agree(values):
    from analytics.rating.inputs import _dest_digits_careful

    arr = pa.array(values, pa.string())
    fast, careful = dest_digits(arr), _dest_digits_careful(arr)
    np.testing.assert_array_equal(fast[0], careful[0])
    np.testing.assert_array_equal(fast[1], careful[1])
