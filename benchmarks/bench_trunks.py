"""Trunk concurrency throughput: the vectorised sweep line against a per-call Python loop, same run.

    python benchmarks/bench_trunks.py                   # 1M calls over 8 trunk groups, one month
    python benchmarks/bench_trunks.py --calls 200000

The baseline is the classic loop a first version would write — sort the start/end events of each
group, walk them in Python keeping a counter — run on a sample and scaled to the same calls per
second, so the ratio says what vectorising the sweep buys.  Both must agree on every group's peak.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from analytics.trunks import peak_concurrency


def synthetic(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 31 * 86_400, n), unit="s")
    held = pd.to_timedelta(rng.exponential(180, n).astype("int64") + 5, unit="s")
    return pd.DataFrame({"trunk_group": rng.choice([f"G{i}" for i in range(8)], n), "start_utc": start,
                         "end_utc": start + held})


def loop_peaks(calls: pd.DataFrame) -> dict[str, int]:
    peaks = {}
    for group, part in calls.groupby("trunk_group"):
        events = sorted([(t, 1) for t in part.start_utc] + [(t, -1) for t in part.end_utc],
                        key=lambda e: (e[0], e[1]))  # ends (-1) before starts at the same instant
        level = best = 0
        for _, delta in events:
            level += delta
            best = max(best, level)
        peaks[group] = best
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    args = parser.parse_args()
    calls = synthetic(args.calls)

    t = time.perf_counter()
    overall = peak_concurrency(calls)
    t_peak = time.perf_counter() - t
    t = time.perf_counter()
    hourly = peak_concurrency(calls, freq="h")
    t_hourly = time.perf_counter() - t

    sample = calls.iloc[: min(len(calls), 100_000)]
    t = time.perf_counter()
    base = loop_peaks(sample)
    t_loop = time.perf_counter() - t
    assert base == peak_concurrency(sample).set_index("trunk_group").peak.to_dict(), "peaks disagree"

    loop_rate = len(sample) / t_loop
    print(f"calls: {len(calls):,}   groups: {len(overall)}   hourly buckets: {len(hourly):,}")
    print(f"sweep line, peak per group:   {t_peak:6.2f} s  {len(calls) / t_peak:>12,.0f} calls/s")
    print(f"sweep line, peak per hour:    {t_hourly:6.2f} s  {len(calls) / t_hourly:>12,.0f} calls/s")
    print(f"baseline Python loop ({len(sample):,}): {t_loop:6.2f} s  {loop_rate:>12,.0f} calls/s")
    print(f"ratio (per group vs loop): {len(calls) / t_peak / loop_rate:.1f}x")


if __name__ == "__main__":
    main()
