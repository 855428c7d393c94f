"""What the canonical fields' domain check costs each connector's parse (issue 16, defect 2).

    python benchmarks/bench_field_domains.py --cdrs 200000 --runs 5

Writes the sample enterprise's traffic once per format (as ``bench_vendor_parsers.py`` does) and times,
interleaved in the same run, the format's own ``decode``, the domain check alone (``collector.domains.
violations`` over the decoded calls) and ``parse`` (the two together, what every caller runs), median of
``--runs``.  Prints the rates and the check's cost as a share of ``decode``: on a shared, loaded machine
the decode/parse ratio moves by ±15 % from run to run, the check's own time much less.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from collector.connectors.base import PbxContext, registered_connectors
from collector.domains import violations
from collector.simulate.traffic import generate_traffic
from collector.simulate.record_formats import (
    FS_GATEWAY_TEMPLATE, write_asterisk, write_avaya, write_freeswitch, write_smdr,
)
from collector.simulate.cucm_and_canonical_csv import write_canonical_csv, write_cucm_files
from warehouse.config import load_config

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"
TZ = "America/New_York"


def _cases(calls, d: Path) -> dict:
    return {
        "cucm": ("cucm", {}, write_cucm_files(calls, d / "cucm", minutes_per_file=60 * 24 * 31)),
        "canonical csv": ("canonical-csv", {}, [write_canonical_csv(calls, d / "calls.csv")]),
        "avaya customized": ("avaya", {"fields": "yaacc"},
                             [write_avaya(calls, d / "a.bin", timezone=TZ, fields="yaacc", date_format="ddmm")]),
        "asterisk cdr_csv": ("asterisk", {"trunk_channels": ["SIP/*-PSTN-*"]},
                             [write_asterisk(calls, d / "Master.csv", timezone=TZ)]),
        "freeswitch": ("freeswitch", {"template": list(FS_GATEWAY_TEMPLATE)},
                       [write_freeswitch(calls, d / "fs.csv", timezone=TZ)]),
        "smdr ipo": ("smdr", {"layout": "ipo"}, [write_smdr(calls, d / "ipo", layout="ipo", timezone=TZ)]),
        "smdr hipath": ("smdr", {"layout": "hipath"}, [write_smdr(calls, d / "hp", layout="hipath", timezone=TZ)]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cdrs", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    calls = generate_traffic(load_config(SAMPLE), calls=args.cdrs, seed=1)
    print(f"{args.cdrs:,} CDRs per format, median of {args.runs} interleaved runs")
    print(f"  {'format':18s} {'decode':>14s} {'parse':>14s}   {'check alone':>11s}  check / decode")
    with tempfile.TemporaryDirectory() as tmp:
        for label, (kind, options, files) in _cases(calls, Path(tmp)).items():
            blobs = [(p.read_bytes(), str(p)) for p in files]
            connector = registered_connectors()[kind](PbxContext("bench", "NYC", TZ, options=options))
            decoded = [connector.decode(b, s).calls for b, s in blobs]
            rows = sum(t.num_rows for t in decoded)
            steps = {
                "decode": lambda: [connector.decode(b, s) for b, s in blobs],
                "check": lambda: [violations(t) for t in decoded],
                "parse": lambda: [connector.parse(b, s) for b, s in blobs],
            }
            times: dict[str, list[float]] = {name: [] for name in steps}
            for _ in range(args.runs):
                for name, step in steps.items():
                    t0 = time.perf_counter()
                    step()
                    times[name].append(time.perf_counter() - t0)
            med = {name: statistics.median(t) for name, t in times.items()}
            print(f"  {label:18s} {rows / med['decode']:>10,.0f} /s {rows / med['parse']:>10,.0f} /s   "
                  f"{med['check'] * 1000:>8.1f} ms  {med['check'] / med['decode']:6.1%}")


if __name__ == "__main__":
    main()
