"""What a language costs a report: the monthly savings report and a 100,000-call listing, English vs Chinese.

    python benchmarks/bench_report_languages.py                  # 20,000 calls in the lake, a 100,000-row listing
    python benchmarks/bench_report_languages.py --calls 50000 --listing 200000

The baseline is the same render in English (the message ids: no lookup changes a text), so the ratio
is what translating titles, headers, labels and notes and formatting through CLDR (Babel) adds.  The
listing is the slow part of a billing statement: its rows are written a column at a time
(``analytics/reporting/xlsx.py: _listing_xml``), with "not priced" in the reader's language.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

from lakefactory import random_calls, write_lake  # noqa: E402
from analytics.reporting import Listing, ReportData, run_report  # noqa: E402
from analytics.reporting.renderers import render  # noqa: E402
from analytics.reporting.i18n import N_  # noqa: E402


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def listing_data(n: int, lang: str) -> ReportData:
    rng = np.random.default_rng(5)
    cost = [None if u else Decimal(int(c)).scaleb(-2) for u, c in zip(rng.random(n) < 0.02, rng.integers(0, 5000, n))]
    frame = pd.DataFrame({"start_utc": pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s"),
                          "extension": rng.integers(1000, 2000, n).astype(str), "duration_s": rng.integers(0, 900, n),
                          "actual_cost": pd.Series(cost, dtype=object), "department": "Sales"})
    columns = (("start_utc", N_("Start (UTC)"), "text"), ("extension", N_("Extension"), "text"),
               ("duration_s", N_("Seconds"), "count"), ("actual_cost", N_("Cost"), "money"))
    return ReportData("bench", N_("Billing statement"), "2026-10", "USD", 2, (), {}, lang=lang,
                      listings={"calls": Listing(N_("Calls"), frame, columns, sheet_by="department")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--listing", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_lake(root / "lake", random_calls(args.calls, seed=7))
        results = {}
        for lang in ("en", "zh_CN"):
            results[("monthly-savings xlsx+html+txt", lang)] = _best(
                lambda: run_report("monthly-savings", root / "lake", "2026-10", ["xlsx", "html", "txt"],
                                   root / "out", "USD", lang=lang), args.repeat)
            data = listing_data(args.listing, lang)
            results[(f"listing of {args.listing:,} calls, xlsx", lang)] = _best(
                lambda: render(data, "xlsx", root / f"listing-{lang}.xlsx"), args.repeat)
    for what in dict.fromkeys(k for k, _ in results):
        en, zh = results[(what, "en")], results[(what, "zh_CN")]
        print(f"{what:<40} en {en:7.3f} s   zh_CN {zh:7.3f} s   ratio zh_CN/en {zh / en:5.2f}")


if __name__ == "__main__":
    main()
