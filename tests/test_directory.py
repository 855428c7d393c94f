"""Directory attribution: each call gets the directory row in force on its UTC day — the latest
``valid_from`` among the rows whose range holds the day — for extensions with one row, several
(moves, overlaps, gaps, open ends), none, and calls without an extension or site."""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.rating.directory import OPEN_END, DirectoryIndex, attribute


def _directory(rng: random.Random) -> pd.DataFrame:
    rows = []
    for ext in range(60):
        for site in ("lon", "nyc"):
            for k in range(rng.choice([0, 1, 1, 1, 2, 3, 5])):
                start = date(2026, 9, 1) + timedelta(days=rng.randrange(0, 60))
                end = None if rng.random() < 0.4 else start + timedelta(days=rng.randrange(0, 20))
                rows.append({"extension": str(2000 + ext), "site": site, "user": f"u{ext}-{site}-{k}",
                             "department": f"d{k}", "cost_center": None if k == 2 else f"cc{ext}",
                             "valid_from": pd.Timestamp(start),
                             "valid_to": pd.Timestamp(end) if end else OPEN_END})
    return pd.DataFrame(rows)


def _expected(by_key: dict, ext, site, day: date) -> str | None:
    """The rule, row by row: of the rows in force on *day*, the one with the latest valid_from (the
    later row of the file on a tie)."""
    best = None
    for r in by_key.get((ext, site), []):
        if r.valid_from.date() <= day <= r.valid_to.date():
            if best is None or r.valid_from >= best.valid_from:
                best = r
    return None if best is None else best.user


def test_the_row_in_force_on_each_calls_day_wins():
    rng = random.Random(7)
    directory = _directory(rng)
    assert directory.groupby(["extension", "site"]).size().max() >= 3  # histories, not just one row each
    n = 3_000
    exts = [rng.choice([str(2000 + rng.randrange(70)), None]) if rng.random() < 0.1 else str(2000 + rng.randrange(70))
            for _ in range(n)]
    sites = [rng.choice(["lon", "nyc", None]) for _ in range(n)]
    days = [date(2026, 8, 25) + timedelta(days=rng.randrange(0, 90)) for _ in range(n)]
    calls = pd.DataFrame({"extension": exts, "site": sites,
                          "start_utc": pd.to_datetime([f"{d} 23:59:59" for d in days], utc=True)})

    got = attribute(calls, directory)

    by_key: dict = {}
    for r in directory.itertuples():
        by_key.setdefault((r.extension, r.site), []).append(r)
    expected = [_expected(by_key, e, s, d) for e, s, d in zip(exts, sites, days)]
    assert [None if pd.isna(u) else u for u in got["user"]] == expected
    assert n // 10 < sum(u is not None for u in expected) < n  # some attributed, some not


def test_index_rows_match_the_columns_taken():
    directory = pd.DataFrame({
        "extension": ["100", "100", "200"], "site": ["a", "a", "a"], "user": ["old", "new", "x"],
        "department": ["d1", "d2", "d3"], "cost_center": ["c1", None, "c3"],
        "valid_from": pd.to_datetime(["2026-01-01", "2026-06-01", "2026-01-01"]),
        "valid_to": pd.to_datetime(["2026-12-31", str(OPEN_END.date()), "2026-03-31"])})
    index = DirectoryIndex(directory)
    day = (np.array(["2026-02-01", "2026-07-01", "2026-07-01", "2026-02-01"], dtype="datetime64[D]")
           .astype(np.int64))
    rows = index.rows_for(pa.array(["100", "100", "200", None]), pa.array(["a", "a", "a", "a"]), day)
    assert rows.tolist() == [0, 1, -1, -1]
    cols = index.columns(rows)
    assert cols["user"].to_pylist() == ["old", "new", None, None]
    assert cols["cost_center"].to_pylist() == ["c1", None, None, None]
