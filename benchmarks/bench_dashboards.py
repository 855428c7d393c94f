"""Dashboard page data at 10M calls: each page's first (cold) and repeat (cached) load, and 10 concurrent
viewers of the overview.

    python benchmarks/bench_dashboards.py                    # 10M calls in one month
    python benchmarks/bench_dashboards.py --calls 1000000

The lake is built the way bench_export builds one: a 20k-call seed of ``lakefactory.random_calls``
copied by DuckDB into date partitions.  "Cold" is a new app context (empty cache, best of
--repeat) — the DuckDB scans of the page; "after overview" is the page opened next in one app (the
period's cube shared); "cached" is the same view again (a lake listing and a dictionary lookup).
The baseline, same run: the overview's breakdowns asked of the analytics layer one call each, against
the one cube scan the page makes.  Concurrent:
10 threads open the overview at once on a cold cache (they share one computation) and then 10 × 10
repeat views; the p95 of their latencies is printed.  The what-if (carriers) needs a config and is
not part of a bare lake's carriers page here.  ``--compare`` also times the billing split and the
trunk concurrency the per-call pandas way (what the pages did before) and checks the figures agree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))

from analytics.breakdowns import savings_by  # noqa: E402
from analytics.selection import select  # noqa: E402
from analytics.timeseries import daily_savings  # noqa: E402
from dashboards.app import PAGES, route  # noqa: E402
from dashboards.cube import cube_of  # noqa: E402
from dashboards.pages import PageContext, page_data, view_of  # noqa: E402


def build_lake(root: Path, calls: int) -> Path:
    from lakefactory import random_calls, write_lake

    seed_rows = min(calls, 20_000)
    write_lake(root / "seed", random_calls(seed_rows, seed=1, months=("2026-10",)), files_per_partition=1)
    copies = max(1, calls // seed_rows)
    (root / "lake" / "calls").mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        # Each copy is shifted by up to an hour (so instants are not all repeated: the trunk sweep sees
        # millions of distinct events, as a real month does) and 80 % of calls use one of two trunks per site.
        shift = "to_seconds((k * 37) % 3600)"
        con.sql(f"""COPY (SELECT * REPLACE (call_id || '-' || k AS call_id, start_utc + {shift} AS start_utc,
                                    answer_utc + {shift} AS answer_utc, end_utc + {shift} AS end_utc,
                                    CASE WHEN k % 5 <> 0 THEN site || '-PSTN-GW' || (k % 2 + 1) END AS trunk),
                            CAST(start_utc + {shift} AS DATE)::VARCHAR AS date
                          FROM read_parquet('{root}/seed/calls/*/*.parquet', hive_partitioning = false),
                               range({copies}) AS r(k))
                    TO '{root}/lake/calls' (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)""")
    return root / "lake"


def warm_up(tmp: Path) -> None:
    """Every page once on a tiny lake: imports, DuckDB's and plotly's first-use costs are not a page's."""
    from lakefactory import KNOWN_CALLS, write_lake

    write_lake(tmp / "tiny", KNOWN_CALLS)
    ctx = PageContext(tmp / "tiny", "USD")
    for page in PAGES:
        route(page.PATH, "?month=2026-10", ctx)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def compare(lake: Path, repeat: int) -> None:
    """The billing split and trunk concurrency both ways at full size: same figures, and the time ratio."""
    import pandas as pd

    from analytics.billing import billing_split, billing_summary
    from analytics.trunks import peak_concurrency, trunk_calls, trunk_sweeps

    fast = min(timed(lambda: billing_summary(lake, "2026-10", currency="USD")) for _ in range(repeat))
    slow = timed(lambda: billing_split(lake, "2026-10", currency="USD"))
    pd.testing.assert_frame_equal(billing_summary(lake, "2026-10", currency="USD").lines,
                                  billing_split(lake, "2026-10", currency="USD").lines, check_dtype=False)
    print(f"billing split: per-call pandas {slow:.2f}s, DuckDB groups {fast:.3f}s ({slow / fast:.0f}x), same lines")
    fast = min(timed(lambda: trunk_sweeps(lake, "2026-10-01", "2026-10-31")) for _ in range(repeat))
    sweeps = trunk_sweeps(lake, "2026-10-01", "2026-10-31")
    t = time.perf_counter()
    calls = trunk_calls(lake, "2026-10-01", "2026-10-31")
    events = [peak_concurrency(calls), peak_concurrency(calls, freq="h")]
    slow = time.perf_counter() - t
    for a, b in zip(sweeps, events):
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    print(f"trunk concurrency (peak + hourly): pandas event sort {slow:.2f}s, per-second levels {fast:.3f}s "
          f"({slow / fast:.1f}x), same figures")


def live_store(lake: Path, repeat: int) -> None:
    """The overview after a live store: a small file lands in the month's last partition (as the collector
    writes), so the page cache misses; the per-day cubes scan that partition only.  The baseline, same run:
    the overview of a new app context (every partition scanned).  The file is removed afterwards."""
    overview = PAGES[0]
    query = {"month": "2026-10"}
    folder = sorted((lake / "calls").glob("date=2026-10-*"))[-1]
    sample = pq.read_table(sorted(folder.glob("*.parquet"))[0]).slice(0, 200)
    cold = min(timed(lambda: page_data(PageContext(lake, "USD"), overview,
                                       view_of(PageContext(lake, "USD"), overview, query))) for _ in range(repeat))
    ctx = PageContext(lake, "USD")
    page_data(ctx, overview, view_of(ctx, overview, query))
    times = []
    try:
        for k in range(repeat):
            ids = [f"bench-live-{k}-{i}" for i in range(sample.num_rows)]
            pq.write_table(sample.set_column(sample.schema.get_field_index("call_id"), "call_id", [ids]),
                           folder / f"part-bench-live-{k}.parquet")
            times.append(timed(lambda: page_data(ctx, overview, view_of(ctx, overview, query))))
    finally:
        for f in folder.glob("part-bench-live-*.parquet"):
            f.unlink()
    live = min(times)
    print(f"overview after a live store into {folder.name}: {live:.3f}s (one partition scanned) against "
          f"{cold:.3f}s for a new app context ({cold / live:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=10_000_000)
    ap.add_argument("--lake", type=Path, help="an existing lake to use instead of building one")
    ap.add_argument("--repeat", type=int, default=2, help="cold runs per page; the best is reported")
    ap.add_argument("--skip", default="", help="pages to leave out, by slug (e.g. billing)")
    ap.add_argument("--compare", action="store_true",
                    help="also time the per-call pandas paths of billing and trunks (a minute or more at 10M) "
                         "and check they give the same figures as the pages' DuckDB paths")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.lake:
            lake = args.lake
        else:
            t = time.perf_counter()
            lake = build_lake(Path(tmp), args.calls)
            print(f"lake: {args.calls:,} calls built in {time.perf_counter() - t:.1f}s", flush=True)
        query = {"month": "2026-10"}
        warm_up(Path(tmp))
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared)")
        print(f"{'page':<14}{'cold s':>8}{'after overview s':>18}{'cached ms':>11}{'render ms (cached)':>20}")
        shared = PageContext(lake, "USD")
        for page in [p for p in PAGES if p.SLUG not in args.skip.split(",")]:
            cold = float("inf")
            for _ in range(args.repeat):
                ctx = PageContext(lake, "USD")
                cold = min(cold, timed(lambda: page_data(ctx, page, view_of(ctx, page, query))))
            after = timed(lambda: page_data(shared, page, view_of(shared, page, query)))
            warm = min(timed(lambda: page_data(ctx, page, view_of(ctx, page, query))) for _ in range(5))
            render = min(timed(lambda: route(page.PATH, "?month=2026-10", ctx)) for _ in range(3))
            print(f"{page.PATH:<14}{cold:>8.3f}{after:>18.3f}{warm * 1000:>11.1f}{render * 1000:>20.1f}", flush=True)
        sel = select(lake, "2026-10")
        base = min(timed(lambda: (savings_by(sel, "site"), savings_by(sel, "carrier"), savings_by(sel, "call_type"),
                                  daily_savings(sel))) for _ in range(args.repeat))
        ctx = PageContext(lake, "USD")
        cube_s = min(timed(lambda: cube_of(sel)) for _ in range(args.repeat))
        print(f"baseline: the overview's four breakdowns as four analytics calls {base:.3f}s; "
              f"one cube scan {cube_s:.3f}s (ratio {base / cube_s:.1f}x)")
        live_store(lake, args.repeat)
        if args.compare:
            compare(lake, args.repeat)
        ctx = PageContext(lake, "USD")
        overview = PAGES[0]
        with ThreadPoolExecutor(10) as pool:
            cold = list(pool.map(lambda _: timed(lambda: route(overview.PATH, "?month=2026-10", ctx)), range(10)))
            warm = list(pool.map(lambda _: timed(lambda: route(overview.PATH, "?month=2026-10", ctx)), range(100)))
        p95 = lambda xs: statistics.quantiles(xs, n=20)[-1]  # noqa: E731
        print(f"10 concurrent viewers, overview: cold p95 {p95(cold):.2f}s (max {max(cold):.2f}s); "
              f"cached p95 {p95(warm) * 1000:.0f} ms over 100 views")


if __name__ == "__main__":
    main()
