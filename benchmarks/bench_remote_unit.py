"""Remote unit → centre over HTTPS vs the same CDRs straight into the centre over TCP.

Both runs use SQLite + lake on this machine. The remote run goes PBX → unit (raw dump, parse, outbox
fsync) → HTTPS (TLS, Arrow IPC + zstd) → centre (rate, store). The figure is wall time from the first
byte sent to the last call stored at the centre; the ratio is remote / direct, measured in the same run.
Also printed: the wire size of one batch against the CSV bytes, and the CPU time to encode and decode it.

Example: python benchmarks/bench_remote_unit.py --calls 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))  # the harness shared with tests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("CALLCOST_REMOTE_TOKEN", "bench-token")

    from collectorkit import HEADER, csv_records, enterprise_with, running, wait_for
    from remotekit import centre_config, free_port, make_tls, running_unit, unit_config

    from collector.connectors.base import PbxContext, connector_for
    from collector import wire
    from warehouse.config import load_config

    n = args.calls
    payload = HEADER + csv_records(n)
    calls = wire.parsed_columns(connector_for("canonical-csv", PbxContext("lon-csv", "LON", "Europe/London", {}))
                                .parse(payload, "bench.csv").calls)
    encode_s, decode_s = [], []
    for _ in range(5):
        t0 = time.process_time()
        body = wire.encode(wire.RemoteBatch("bench", 1, calls))
        t1 = time.process_time()
        wire.decode(body)
        encode_s.append(t1 - t0)
        decode_s.append(time.process_time() - t1)
    print(f"one batch of {n:,} calls: CSV {len(payload):,} B, wire {len(body):,} B (Arrow uncompressed "
          f"{calls.nbytes:,} B); encode {1000 * min(encode_s):.0f} ms CPU, decode {1000 * min(decode_s):.0f} ms CPU "
          "(best of 5)")

    def slower(path: Path) -> None:  # the tests' helpers use short batches and timeouts
        path.write_text(path.read_text().replace("batch_ms = 100", "batch_ms = 1000").replace("timeout_s = 3", "timeout_s = 60"))

    direct, remote = [], []
    for k in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="bench-remote-"))
        tls = make_tls(tmp)
        ent = enterprise_with(tmp / "direct", {"lon-csv": "tcp:127.0.0.1:0"}, collector="batch_ms = 1000")
        with running(ent, f"sqlite:///{tmp}/direct.db", pbx_ids=["lon-csv"]) as svc:
            start = time.perf_counter()
            with socket.create_connection(svc.transports["lon-csv"].address) as s:
                s.sendall(payload)
                wait_for(lambda svc=svc: svc.pipeline.metrics["lon-csv"].stored >= n, timeout=1200)
            direct.append(time.perf_counter() - start)
        port = free_port()
        centre = centre_config(tmp / "centre", port, tls)
        slower(centre.path)
        unit = unit_config(tmp / "unit", port, tls["ca"])
        slower(unit.path)
        with running(load_config(centre.path), f"sqlite:///{tmp}/centre.db", pbx_ids=["lon-csv"]) as c, \
                running_unit(load_config(unit.path)) as u:
            start = time.perf_counter()
            with socket.create_connection(u.transports["lon-csv"].address) as s:
                s.sendall(payload)
                wait_for(lambda c=c: c.pipeline.metrics["lon-csv"].stored >= n, timeout=1200)
            remote.append(time.perf_counter() - start)
        print(f"run {k + 1}: direct {direct[-1]:.2f} s, remote {remote[-1]:.2f} s")
    d, r = statistics.median(direct), statistics.median(remote)
    print(f"median of {args.repeat}: direct TCP {n / d:,.0f} CDRs/s, via remote unit {n / r:,.0f} CDRs/s, "
          f"ratio remote/direct time {r / d:.2f}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
