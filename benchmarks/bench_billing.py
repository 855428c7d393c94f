"""Billing split throughput: calls per second for a month, against a plain pandas baseline in the same run.

    python benchmarks/bench_billing.py                 # 1M synthetic calls, the sample chargeback rules
    python benchmarks/bench_billing.py --calls 200000

The baseline is the least any split must do — one pandas group-by of cost by extension and call type —
so the ratio says what the attribution labels, trunk allocation, rules and fees cost on top of it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.billing import split_calls
from analytics.chargeback_rules import load_rules

RULES = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "chargeback.toml"
DEPARTMENTS = np.array(["Sales", "Support call centre", "Finance", "Engineering", "Marketing", None], dtype=object)
TRUNKS = np.array(["NYC-PSTN-GW1", "LON-PSTN-GW2", "SIP-ONNET-NYC", None], dtype=object)
TYPES = np.array(["outbound", "inbound", "internal", "onnet", "tollfree_inbound"], dtype=object)


def synthetic_calls(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ext = rng.integers(1000, 1600, n)
    dept = DEPARTMENTS[ext % len(DEPARTMENTS)]
    start = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 31 * 86_400, n), unit="s")
    rated = rng.random(n) > 0.02
    return pd.DataFrame({
        "call_id": np.arange(n).astype(str), "pbx": "nyc-cucm", "site": "NYC", "start_utc": start,
        "extension": ext.astype(str), "user": "u", "department": dept,
        "cost_center": np.where(pd.isna(dept), None, "CC-" + pd.Series(dept).fillna("").str[:3]),
        "call_type": TYPES[rng.integers(0, len(TYPES), n)], "category": "national", "number": "+1",
        "trunk": TRUNKS[rng.integers(0, len(TRUNKS), n)], "duration_s": rng.integers(0, 1800, n),
        "rating_status": np.where(rated, "rated", "unrated"), "unrated_reason": None, "actual_cost": None,
        "currency": "USD", "cost": np.where(rated, rng.integers(0, 500, n), 0),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = ap.parse_args()
    calls = synthetic_calls(args.calls)
    rules = load_rules(RULES, 2)
    best_base = best_split = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        calls.groupby(["extension", "call_type"])["cost"].sum()
        best_base = min(best_base, time.perf_counter() - t)
        t = time.perf_counter()
        split = split_calls(calls, 2, period="2026-10", currency="USD", rules=rules)
        best_split = min(best_split, time.perf_counter() - t)
    print(f"billing split: {args.calls:,} calls in {best_split:.2f}s = {args.calls / best_split:,.0f} calls/s "
          f"({len(split.lines):,} lines, {len(split.cells):,} cells, total {split.to_decimal(split.total):,} USD)")
    print(f"baseline group-by: {best_base:.3f}s; split/baseline = {best_split / best_base:.1f}x")


if __name__ == "__main__":
    main()
