"""Traffic generator throughput and memory: calls per second for a month of the sample enterprise.

    python benchmarks/bench_generate.py               # 1M calls
    python benchmarks/bench_generate.py --calls 10000000

Prints calls/s, the table's Arrow size and the process's peak resident memory; wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from collector.simulate.traffic import generate_traffic
from warehouse.config import load_config

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = ap.parse_args()
    ent = load_config(SAMPLE)
    generate_traffic(ent, calls=1_000, seed=args.seed)  # warm caches (tz, holidays, phonenumbers metadata)
    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        table = generate_traffic(ent, calls=args.calls, seed=args.seed)
        best = min(best, time.perf_counter() - t)
        size = table.nbytes
        del table
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024
    print(f"generate_traffic: {args.calls:,} calls in {best:.2f}s = {args.calls / best:,.0f} calls/s; "
          f"table {size / 1e6:,.0f} MB; peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
