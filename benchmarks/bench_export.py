"""Export throughput and peak memory per format, against loading everything into pandas first.

    python benchmarks/bench_export.py                     # 500k calls (20k distinct × 25)
    python benchmarks/bench_export.py --calls 2000000 --formats csv,parquet

Each export runs in its own process so its peak RSS (``VmHWM``) is its own.  The baseline, in the same run, is
the naive way: the whole period's ``select(...).frame()`` into pandas and ``DataFrame.to_csv`` it.  Streaming
should keep memory flat as the export grows (ratio < 1) at a comparable speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))  # the harness shared with tests

CHILD = r"""
import json, sys, time
from pathlib import Path

def peak_mb():
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent across fork+exec
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
lake, fmt, out = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
if fmt == "baseline":
    from analytics.selection import select
    df = select(lake, "2026-10").frame()
    df.to_csv(out, index=False)
    rows = len(df)
else:
    from analytics.selection import select
    from analytics.export import export_calls
    rows = export_calls(select(lake, "2026-10"), fmt, out).rows
print("RESULT " + json.dumps({"rows": rows, "s": time.perf_counter() - t,
                  "rss_mb": peak_mb(),
                  "mb": Path(out).stat().st_size / 2**20}))
"""


def build_lake(root: Path, calls: int) -> None:
    from lakefactory import random_calls, write_lake

    seed_rows = min(calls, 20_000)
    write_lake(root / "seed", random_calls(seed_rows, seed=1, months=("2026-10",)), files_per_partition=1)
    copies = max(1, calls // seed_rows)
    (root / "lake" / "calls").mkdir(parents=True)
    with duckdb.connect() as con:
        con.sql(f"""COPY (SELECT * REPLACE (call_id || '-' || k AS call_id),
                            CAST(start_utc AS DATE)::VARCHAR AS date
                          FROM read_parquet('{root}/seed/calls/*/*.parquet', hive_partitioning = false),
                               range({copies}) AS r(k))
                    TO '{root}/lake/calls' (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)""")


def run(lake: Path, fmt: str, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(lake), fmt, str(out)], capture_output=True, text=True,
                          cwd=REPO)
    if done.returncode:
        raise SystemExit(f"export {fmt} failed:\n{done.stderr[-3000:]}")
    return json.loads(next(line for line in done.stdout.splitlines() if "RESULT " in line).split("RESULT ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500_000)
    parser.add_argument("--formats", default="csv,json,txt,html,parquet,xlsx")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        build_lake(root, args.calls)
        print(f"lake built in {time.perf_counter() - t:.1f}s")
        base = run(root / "lake", "baseline", root / "baseline.csv")
        print(f"{'baseline (pandas, all in memory → csv)':40} {base['rows']:>9,} rows {base['s']:7.1f}s "
              f"{base['rows'] / base['s']:>10,.0f} rows/s  peak {base['rss_mb']:7.0f} MB  file {base['mb']:6.0f} MB")
        for fmt in args.formats.split(","):
            r = run(root / "lake", fmt, root / f"out.{fmt}")
            print(f"{'export ' + fmt:40} {r['rows']:>9,} rows {r['s']:7.1f}s {r['rows'] / r['s']:>10,.0f} rows/s  "
                  f"peak {r['rss_mb']:7.0f} MB  file {r['mb']:6.0f} MB   "
                  f"time ×{r['s'] / base['s']:.2f}, memory ×{r['rss_mb'] / base['rss_mb']:.2f} of baseline")


if __name__ == "__main__":
    main()
