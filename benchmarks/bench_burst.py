"""A PBX dumping its buffer (issue 4): 3.5M CDRs arriving within one minute — absorbed, 0 lost, peak memory.

    python benchmarks/bench_burst.py [--cdrs 3500000] [--links 20] [--queue-mb 64] [--scale 0.1]

*links* connections (CM primary/secondary links, several PBXs reconnecting after an outage) send their
whole backlog at once, as fast as TCP allows.  "Absorbed" means: every byte was taken in (raw-dumped,
then queued: in memory up to ``queue_mb``, beyond that *spilled* — the queue keeps only its raw-dump
location and the parser reads it back) — the senders never saw a refused or reset link — and every
CDR ends up stored.  The figure that matters for "within a minute" is how long until every byte was
taken in; the peak RSS (sampled) shows that memory stays bounded by ``queue_mb`` and the batch size,
not by the burst.  Printed with the ratio of the take-in time to the 60 s the burst is allowed to take,
the spilled megabytes and CPU per CDR by stage (see ``bench_collect_tcp.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_collect_tcp import cpu_line, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cdrs", type=int, default=3_500_000)
    ap.add_argument("--links", type=int, default=20)
    ap.add_argument("--queue-mb", type=int, default=64, help="[collector] queue_mb: the in-memory burst buffer")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --cdrs (0.1 for a quick run)")
    ap.add_argument("--batch-records", type=int, default=250_000, help="[collector] batch_records")
    args = ap.parse_args()
    cdrs = int(args.cdrs * args.scale)
    print(f"load average {os.getloadavg()[0]:.2f}; burst of {cdrs:,} CDRs over {args.links} links", flush=True)
    r = run(args.links, cdrs, None, batch_records=args.batch_records, queue_mb=args.queue_mb)
    print(f"handed over by the PBXs in {r['send_s']:.2f}s; every byte taken in after {r['received_s']:.2f}s "
          f"({r['cdrs'] / r['received_s']:,.0f} CDRs/s; ratio to the 60 s allowed: {r['received_s'] / 60:.2f}); "
          f"up to {r['spilled_mb']:.0f} MB waited in the raw dump instead of memory")
    print(f"all stored after {r['total_s']:.2f}s ({r['cdrs'] / r['total_s']:,.0f} CDRs/s); lost {r['lost']}; "
          f"peak RSS {r['peak_rss_mb']:.0f} MB (parse queue bound {r['queue_cap_mb']:.0f} MB, "
          f"batch_records {args.batch_records:,})")
    print(cpu_line(r))
    shutil.rmtree(r["root"], ignore_errors=True)
    if r["lost"]:
        sys.exit(f"LOST {r['lost']} CDRs")


if __name__ == "__main__":
    main()
