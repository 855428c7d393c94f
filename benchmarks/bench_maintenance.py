"""Compaction, online backup and restore of a lake + SQLite enterprise of N calls (default 1,000,000).

    python benchmarks/bench_maintenance.py [--calls 1000000] [--batch 5000] [--days 30]

Builds an enterprise the way the collector leaves it: ``--calls`` synthetic rated calls
(``benchmarks/support/factories.py``) saved in batches of ``--batch`` through ``Store.save`` (SQLite DB + lake,
one small file per day per batch).  Then times, each with a baseline measured in the same run:

* ``compact``: merge every day into one file   — baseline: reading the whole lake once (pyarrow);
* ``backup``: DB + lake + config, hashed       — baseline: ``shutil.copytree`` of the lake + copy of the DB file;
* ``restore``: verify, copy, check figures      — same baseline.

Prints seconds, CPU seconds, MB and the ratio to the baseline.  Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))  # the harness shared with tests

import pyarrow.parquet as pq  # noqa: E402  (after the sys.path line, like the rest)
from factories import rated_calls  # noqa: E402  (benchmarks/support is put on the path above)
from rating_enterprise import write_enterprise  # noqa: E402

from warehouse import backup, compaction, lake  # noqa: E402
from warehouse.config import load_config  # noqa: E402
from warehouse.store import Store  # noqa: E402


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-maint-") as tmp:
        root = Path(tmp)
        ent = load_config(write_enterprise(root / "src", database="sqlite:///callcost.db"))
        store = Store(ent)
        _, build_s, _ = timed(lambda: [store.save(rated_calls(min(args.batch, args.calls - lo), seed=lo,
                                                              days=args.days, prefix=f"b{lo}-"))
                                       for lo in range(0, args.calls, args.batch)])
        lake_root = Path(ent.storage.lake)
        files_before = sum(len(lake.live_files(f)) for _, f in lake.partitions(lake_root))
        db_file = Path(ent.storage.database.removeprefix("sqlite:///"))
        print(f"built {args.calls:,} calls in {build_s:.1f} s: {files_before:,} lake files "
              f"({size_mb(lake_root):.1f} MB), SQLite {db_file.stat().st_size / 1e6:.1f} MB")

        _, read_s, read_cpu = timed(lambda: pq.read_table([str(f) for _, d in lake.partitions(lake_root)
                                                          for f in lake.live_files(d)]))
        result, comp_s, comp_cpu = timed(lambda: compaction.compact(lake_root, grace_s=0))
        print(f"compact: {result.files_before:,} → {result.files_after:,} files, {result.rows:,} rows: "
              f"{comp_s:.2f} s ({comp_cpu:.2f} CPU s); baseline read-all {read_s:.2f} s ({read_cpu:.2f} CPU s); "
              f"ratio {comp_s / read_s:.1f}x")

        def plain_copy() -> None:
            shutil.copytree(lake_root, root / "plain" / "lake")
            shutil.copy2(db_file, root / "plain" / "callcost.db")

        _, copy_s, copy_cpu = timed(plain_copy)
        manifest, bk_s, bk_cpu = timed(lambda: backup.backup(ent, root / "backup"))
        mb = sum(f["size"] for f in manifest["files"]) / 1e6
        print(f"backup: {manifest['lake']['calls']:,} calls, {len(manifest['files'])} files, {mb:.1f} MB: "
              f"{bk_s:.2f} s ({bk_cpu:.2f} CPU s); baseline plain copy {copy_s:.2f} s ({copy_cpu:.2f} CPU s); "
              f"ratio {bk_s / copy_s:.1f}x")
        res, rs_s, rs_cpu = timed(lambda: backup.restore(root / "backup", root / "restored"))
        print(f"restore: {res.calls:,} calls verified: {rs_s:.2f} s ({rs_cpu:.2f} CPU s); "
              f"ratio to plain copy {rs_s / copy_s:.1f}x")


if __name__ == "__main__":
    main()
