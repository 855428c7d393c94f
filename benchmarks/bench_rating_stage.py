"""CPU per CDR of ``RatingStage.rate_batch`` (classify → attribute → price), now vs the committed version.

    python benchmarks/bench_rating_stage.py --calls 300000 --runs 3 [--check]

Generates a month of the sample enterprise's traffic (every PBX, so every site, direction and carrier
is exercised), then times ``rate_batch`` on it in batches of ``--batch`` rows with the working tree's
``warehouse`` and with the committed (``git show HEAD:``) versions of the rating-stage modules, loaded
side by side under another package name.  Prints µs of CPU per CDR (process time, all threads) for both
and the ratio.  ``--check`` also compares the two outputs column by column (all but ``rated_at``), to
prove the faster path gives identical results.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from callcost.demo import build_sample
from collector.simulate.traffic import generate_traffic
from warehouse.config import load_config
from analytics.rating.stage import RatingStage

REPO = Path(__file__).resolve().parents[1]
STAGE_MODULES = ("pipeline", "classify", "pricing", "directory", "numbering")


def committed_stage_class(tmp: Path):
    """``RatingStage`` from the committed sources, imported as ``_head_warehouse.*`` next to the live one."""
    pkg = tmp / "_head_warehouse"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""The committed rating-stage modules, for comparison."""\n')
    for name in STAGE_MODULES:
        src = subprocess.run(["git", "show", f"HEAD:warehouse/{name}.py"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
        for other in STAGE_MODULES:
            src = src.replace(f"from warehouse.{other} import", f"from _head_warehouse.{other} import")
        (pkg / f"{name}.py").write_text(src)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("_head_warehouse.pipeline").RatingStage


def cpu_us_per_cdr(stage, batches: list[pa.Table], runs: int) -> tuple[float, pa.Table]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.process_time()
        out = [stage.rate_batch(b) for b in batches]
        times.append(time.process_time() - t0)
    n = sum(b.num_rows for b in batches)
    return statistics.median(times) / n * 1e6, pa.concat_tables(out)


def compare(new: pa.Table, old: pa.Table) -> list[str]:
    """Names of the columns (``rated_at`` aside) whose values or types differ."""
    bad = []
    for name in old.column_names:
        if name == "rated_at":
            continue
        if name not in new.column_names or new[name].type != old[name].type or not new[name].equals(old[name]):
            bad.append(name)
    if new.column_names != old.column_names:
        bad.append(f"column order {new.column_names} != {old.column_names}")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=100_000, help="rows per rate_batch call")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="compare the outputs column by column")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ent = load_config(build_sample(Path(tmp) / "ent"))
        traffic = generate_traffic(ent, calls=args.calls)
        batches = [traffic.slice(a, args.batch) for a in range(0, traffic.num_rows, args.batch)]
        new_stage, old_stage = RatingStage(ent), committed_stage_class(Path(tmp))(ent)
        for stage in (new_stage, old_stage):
            stage.rate_batch(batches[0].slice(0, 1000))  # tariffs and directory loaded outside the timing
        old_us, old_out = cpu_us_per_cdr(old_stage, batches, args.runs)
        new_us, new_out = cpu_us_per_cdr(new_stage, batches, args.runs)
        print(f"rate_batch, {traffic.num_rows:,} calls in batches of {args.batch:,}, median of {args.runs} runs:")
        print(f"  committed (HEAD)  {old_us:6.2f} µs CPU per CDR")
        print(f"  working tree      {new_us:6.2f} µs CPU per CDR   = {old_us / new_us:.2f}× faster")
        if args.check:
            bad = compare(new_out, old_out)
            print("  outputs identical (all columns but rated_at)" if not bad else f"  OUTPUTS DIFFER: {bad}")
            if bad:
                sys.exit(1)


if __name__ == "__main__":
    main()
