"""Live TCP ingest (issue 4): many PBXs connected at once → parse → rate → store; CDRs/s sustained, 0 lost.

    python benchmarks/bench_collect_tcp.py [--senders 200] [--cdrs 400000] [--scale 0.1] [--postgres-url URL]

A separate process plays the PBXs: *senders* TCP connections to one ``tcp:`` source, each streaming
its share of canonical-CSV CDRs as fast as TCP flow control lets it.  The collector runs in this process
exactly as ``callcost collect`` does (raw dump, bounded queues, batching, SQLite + Parquet lake).
Printed: CDRs/s from the first byte sent to the last call stored, the receive rate, peak RSS, lost
(= sent − stored in the DB, must be 0), and the ratio to the issue's target (50,000 CDRs/s) and to a
baseline measured in the same run: the same CDRs imported as one file through ``import_files``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

TARGET = 50_000


def payloads(senders: int, per: int) -> list[bytes]:
    from collectorkit import HEADER, csv_records

    return [HEADER + csv_records(per, prefix=f"s{k}-") for k in range(senders)]


def play_pbxs(address: tuple[str, int], senders: int, per: int, go, done) -> None:
    """In a child process: open every connection, wait for *go*, send everything, report the send time."""
    data = payloads(senders, per)

    async def main() -> float:
        conns = [await asyncio.open_connection(*address) for _ in range(senders)]
        go.wait()
        t0 = time.time()

        async def send(writer: asyncio.StreamWriter, blob: bytes) -> None:
            for k in range(0, len(blob), 65536):
                writer.write(blob[k:k + 65536])
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        await asyncio.gather(*(send(w, blob) for (_, w), blob in zip(conns, data)))
        return t0

    t0 = asyncio.run(main())
    done.put((t0, time.time()))


def run(senders: int, cdrs: int, db_url: str | None, batch_records: int = 100_000, queue_mb: int = 64) -> dict:
    from collectorkit import enterprise_with, running

    per = max(cdrs // senders, 1)
    total = per * senders
    tmp = Path(tempfile.mkdtemp(prefix="bench-tcp-"))
    ent = enterprise_with(tmp, {"lon-csv": "tcp:127.0.0.1:0"},
                          collector=f"batch_records = {batch_records}\nbatch_ms = 1000\nqueue_mb = {queue_mb}")
    url = db_url or f"sqlite:///{tmp}/bench.db"
    ctx = mp.get_context("spawn")
    go, done = ctx.Event(), ctx.Queue()
    with running(ent, url, pbx_ids=["lon-csv"]) as svc:
        proc = ctx.Process(target=play_pbxs, args=(svc.transports["lon-csv"].address, senders, per, go, done))
        proc.start()
        m = svc.pipeline.metrics["lon-csv"]
        while m.sessions_open < senders:
            time.sleep(0.01)
        go.set()
        first_sent, last_sent = done.get(timeout=3600)
        received_at = time.time()
        while m.stored + m.quarantined < total:
            time.sleep(0.01)
        stored_at = time.time()
        proc.join()
        max_queue = svc.pipeline.parts.capacity
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        in_db = conn.execute(sa.text("select count(*) from calls")).scalar_one()
    engine.dispose()
    return {"cdrs": total, "send_s": last_sent - first_sent, "total_s": stored_at - first_sent,
            "received_s": received_at - first_sent, "in_db": in_db, "lost": total - in_db,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "queue_cap_mb": max_queue / 2**20,
            "root": tmp}


def baseline(cdrs: int) -> float:
    """The same CDRs as one file through the batch importer (same parse, rate and store)."""
    from collectorkit import HEADER, csv_records, enterprise_with

    from collector.importer import import_files
    from warehouse.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="bench-base-"))
    ent = enterprise_with(tmp, {})
    f = tmp / "all.csv"
    f.write_bytes(HEADER + csv_records(cdrs))
    store = Store(ent, database_url=f"sqlite:///{tmp}/base.db")
    t = time.perf_counter()
    report = import_files(ent, "lon-csv", [f], store=store)
    elapsed = time.perf_counter() - t
    store.db.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return report.stored / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--cdrs", type=int, default=400_000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --cdrs (0.1 for a quick run)")
    ap.add_argument("--postgres-url", default=None)
    args = ap.parse_args()
    cdrs = int(args.cdrs * args.scale)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.senders} senders, {cdrs:,} CDRs", flush=True)
    r = run(args.senders, cdrs, args.postgres_url)
    rate = r["cdrs"] / r["total_s"]
    print(f"live TCP: {r['cdrs']:,} CDRs stored in {r['total_s']:.2f}s = {rate:,.0f} CDRs/s sustained "
          f"(all bytes received after {r['received_s']:.2f}s = {r['cdrs'] / r['received_s']:,.0f} CDRs/s); "
          f"lost {r['lost']}; peak RSS {r['peak_rss_mb']:.0f} MB")
    shutil.rmtree(r["root"], ignore_errors=True)
    base = baseline(r["cdrs"])
    print(f"baseline (same CDRs, one file, import_files): {base:,.0f} CDRs/s")
    print(f"ratio to target {TARGET:,}/s: {rate / TARGET:.2f}; ratio to file-import baseline: {rate / base:.2f}")
    if r["lost"]:
        sys.exit(f"LOST {r['lost']} CDRs")


if __name__ == "__main__":
    main()
