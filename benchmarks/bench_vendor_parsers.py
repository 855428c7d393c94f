"""Parse throughput of the record-oriented connectors (issue 4), against the CUCM parser in the same run.

    python benchmarks/bench_vendor_parsers.py --cdrs 200000 --runs 3

Generates the sample enterprise's traffic, writes it once per format with ``collector/simulate`` writers
(CUCM flat files as the baseline, Avaya CM customized and teleseer streams, Asterisk cdr_csv, FreeSWITCH
example+gateway, SMDR IP Office / HiPath / Panasonic / NEC) and times ``connector.parse`` over the bytes
(median of ``--runs``), printing CDRs/s and the ratio to CUCM.  The NEC section decoder walks records in
Python (a serial-rate format); every other path is column-wise.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from collector.connectors.base import PbxContext, registered_connectors
from collector.simulate.traffic import generate_traffic
from collector.simulate.record_formats import (
    FS_GATEWAY_TEMPLATE, write_asterisk, write_avaya, write_freeswitch, write_smdr,
)
from collector.simulate.cucm_and_canonical_csv import write_cucm_files
from warehouse.config import load_config

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"
TZ = "America/New_York"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cdrs", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    calls = generate_traffic(load_config(SAMPLE), calls=args.cdrs, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cases = {
            "cucm (baseline)": ("cucm", {}, write_cucm_files(calls, d / "cucm", minutes_per_file=60 * 24 * 31)),
            "avaya customized": ("avaya", {"fields": "yaacc"},
                                 [write_avaya(calls, d / "a.bin", timezone=TZ, fields="yaacc", date_format="ddmm")]),
            "avaya teleseer": ("avaya", {"layout": "teleseer", "reference_date": "2026-10-15"},
                               [write_avaya(calls, d / "t.bin", timezone=TZ, layout="teleseer")]),
            "asterisk cdr_csv": ("asterisk", {"trunk_channels": ["SIP/*-PSTN-*"]},
                                 [write_asterisk(calls, d / "Master.csv", timezone=TZ)]),
            "freeswitch": ("freeswitch", {"template": list(FS_GATEWAY_TEMPLATE)},
                           [write_freeswitch(calls, d / "fs.csv", timezone=TZ)]),
            "smdr ipo": ("smdr", {"layout": "ipo"}, [write_smdr(calls, d / "ipo", layout="ipo", timezone=TZ)]),
            "smdr hipath": ("smdr", {"layout": "hipath"}, [write_smdr(calls, d / "hp", layout="hipath", timezone=TZ)]),
            "smdr panasonic": ("smdr", {"layout": "panasonic"},
                               [write_smdr(calls, d / "pa", layout="panasonic", timezone=TZ)]),
            "smdr nec": ("smdr", {"layout": "nec"}, [write_smdr(calls, d / "nec", layout="nec", timezone=TZ)]),
        }
        base = None
        print(f"{args.cdrs:,} CDRs per format, median of {args.runs} runs")
        for label, (kind, options, files) in cases.items():
            blobs = [(p.read_bytes(), str(p)) for p in files]
            times, parsed = [], 0
            for _ in range(args.runs):
                connector = registered_connectors()[kind](PbxContext("bench", "NYC", TZ, options=options))
                t0 = time.perf_counter()
                parsed = sum(connector.parse(b, s).calls.num_rows for b, s in blobs)
                times.append(time.perf_counter() - t0)
            rate = parsed / statistics.median(times)
            base = base or rate
            print(f"  {label:18s} {rate:>12,.0f} CDRs/s   ratio to CUCM {rate / base:5.2f}   ({parsed:,} calls)")


if __name__ == "__main__":
    main()
