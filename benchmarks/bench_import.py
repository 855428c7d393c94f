"""Import throughput: vendor CDR files → parsed → rated → SQLite + lake, in calls per second.

Also times the whole demo (the README's first command, without serving), the issue's 2-minute budget.

    python benchmarks/bench_import.py --calls 300000

Prints one line per stage and PBX format; figures are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collector.importer import import_files
from collector.simulate.demo_files import write_demo_files
from collector.simulate.traffic import generate_traffic
from callcost.demo import build_sample
from warehouse.config import load_config
from warehouse.pipeline import RatingStage
from warehouse.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300_000)
    ap.add_argument("--demo-calls", type=int, default=100_000, help="calls for the timed `callcost demo` run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ent = load_config(build_sample(Path(tmp) / "ent"))
        t = time.perf_counter()
        traffic = generate_traffic(ent, calls=args.calls)
        files = write_demo_files(ent, traffic, ent.root)
        print(f"generate + write vendor files: {args.calls:,} calls in {time.perf_counter() - t:.1f}s")
        store, stage = Store(ent), RatingStage(ent)
        total, elapsed = 0, 0.0
        for pbx_id, paths in files.items():
            t = time.perf_counter()
            rep = import_files(ent, pbx_id, sorted(paths), store=store, stage=stage)
            dt = time.perf_counter() - t
            total += rep.parsed
            elapsed += dt
            print(f"import {pbx_id:10s} ({ent.pbxs[pbx_id].type:13s}): {rep.parsed:>9,} calls in {dt:6.1f}s = "
                  f"{rep.parsed / dt:>9,.0f} calls/s")
        print(f"import all: {total:,} calls in {elapsed:.1f}s = {total / elapsed:,.0f} calls/s (parse+rate+SQLite+lake)")
        t = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "callcost", "demo", "--no-serve", "--calls", str(args.demo_calls),
                              "--dir", str(Path(tmp) / "demo")], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(run.stderr)
        print(f"callcost demo --no-serve --calls {args.demo_calls:,}: {time.perf_counter() - t:.1f}s wall")


if __name__ == "__main__":
    main()
