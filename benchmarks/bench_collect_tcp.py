"""Live TCP ingest (issue 4): many PBXs connected at once → parse → rate → store; CDRs/s sustained, 0 lost.

    python benchmarks/bench_collect_tcp.py [--senders 200] [--cdrs 400000] [--scale 0.1] [--batch-records N]
                                           [--postgres-url URL]

A separate process plays the PBXs: *senders* TCP connections to one ``tcp:`` source, each streaming
its share of canonical-CSV CDRs as fast as TCP flow control lets it.  The collector runs in this process
exactly as ``callcost collect`` does (raw dump, bounded queues, batching, SQLite + Parquet lake).
Printed: CDRs/s from the first byte sent to the last call stored, how long until every byte was taken
in (raw-dumped and queued, in memory or spilled to the dump), peak RSS, lost (= sent − stored in the
DB, must be 0), the load average, CPU per CDR in total and per stage (thread CPU from ``/proc``:
the receiving loop, parse, rate, store; "other" is short-lived threads such as the lake writer and the
main thread), and the ratio to the issue's target (50,000 CDRs/s) and to a baseline measured in the
same run: the same CDRs imported as one file through ``import_files``.  The machine may be shared:
compare CPU per CDR, and wall-clock figures only at a similar load.
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
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))  # the harness shared with tests

TARGET = 50_000


def payloads(senders: int, per: int) -> list[bytes]:
    from collectorkit import HEADER, csv_records

    return [HEADER + csv_records(per, prefix=f"s{k}-") for k in range(senders)]


def play_pbxs(address: tuple[str, int], senders: int, per: int, go, done) -> None:
    """In a child process: say how many bytes it will send, open every connection, wait for *go*, send
    everything, report the send time."""
    data = payloads(senders, per)
    done.put(sum(len(d) for d in data))

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


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of every live thread of this process, by native thread id."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def stage_of(name: str) -> str:
    for stage in ("parse", "rate", "store"):
        if name.startswith(f"collector-{stage}"):
            return stage
    return "other"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def loop_thread_id(svc) -> int:
    """Native id of the thread running the service's event loop (the receiving stage)."""
    ready = threading.Event()
    box: dict = {}
    loop = svc.transports["lon-csv"].server.get_loop()
    loop.call_soon_threadsafe(lambda: (box.update(tid=threading.get_native_id()), ready.set()))
    ready.wait(10)
    return box["tid"]


def run(senders: int, cdrs: int, db_url: str | None, batch_records: int | None = None, queue_mb: int = 64) -> dict:
    from collectorkit import enterprise_with, running

    from collector.settings import DEFAULTS

    batch_records = batch_records or int(DEFAULTS["batch_records"])  # the product's default unless asked
    per = max(cdrs // senders, 1)
    total = per * senders
    tmp = Path(tempfile.mkdtemp(prefix="bench-tcp-"))
    ent = enterprise_with(tmp, {"lon-csv": "tcp:127.0.0.1:0"},
                          collector=f"batch_records = {batch_records}\nbatch_ms = 1000\nqueue_mb = {queue_mb}")
    url = db_url or f"sqlite:///{tmp}/bench.db"
    ctx = mp.get_context("spawn")
    go, done = ctx.Event(), ctx.Queue()
    peak_rss = peak_spilled = 0.0
    with running(ent, url, pbx_ids=["lon-csv"]) as svc:
        proc = ctx.Process(target=play_pbxs, args=(svc.transports["lon-csv"].address, senders, per, go, done))
        proc.start()
        total_bytes = done.get(timeout=3600)
        m = svc.pipeline.metrics["lon-csv"]
        while m.sessions_open < senders:
            time.sleep(0.01)
        receiver = loop_thread_id(svc)
        load_before = os.getloadavg()[0]
        cpu_before, threads_before = time.process_time(), thread_cpu()
        go.set()
        received_at = None
        while m.stored + m.quarantined < total:
            time.sleep(0.02)
            if received_at is None and m.bytes_received >= total_bytes:
                received_at = time.time()
            peak_rss = max(peak_rss, rss_mb())
            peak_spilled = max(peak_spilled, getattr(svc.pipeline, "spilled", 0))
        stored_at = time.time()
        cpu = time.process_time() - cpu_before
        threads_after = thread_cpu()
        names = {t.native_id: t.name for t in threading.enumerate()}
        load_after = os.getloadavg()[0]
        first_sent, last_sent = done.get(timeout=3600)
        proc.join()
        max_queue = svc.pipeline.parts.capacity
    stages = {"receive": 0.0, "parse": 0.0, "rate": 0.0, "store": 0.0}
    for tid, after in threads_after.items():
        stage = "receive" if tid == receiver else stage_of(names.get(tid, ""))
        if stage != "other":
            stages[stage] += after - threads_before.get(tid, 0.0)
    stages["other"] = max(cpu - sum(stages.values()), 0.0)  # ended threads (lake writers, to_thread), main
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        in_db = conn.execute(sa.text("select count(*) from calls")).scalar_one()
    engine.dispose()
    return {"cdrs": total, "send_s": last_sent - first_sent, "total_s": stored_at - first_sent,
            "received_s": (received_at or stored_at) - first_sent, "in_db": in_db, "lost": total - in_db,
            "peak_rss_mb": max(peak_rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "queue_cap_mb": max_queue / 2**20, "spilled_mb": peak_spilled / 2**20,
            "cpu_us_per_cdr": cpu / total * 1e6, "stage_us_per_cdr": {k: v / total * 1e6 for k, v in stages.items()},
            "load": (load_before + load_after) / 2, "root": tmp}


def cpu_line(r: dict) -> str:
    per = ", ".join(f"{k} {v:.1f}" for k, v in r["stage_us_per_cdr"].items())
    return (f"CPU {r['cpu_us_per_cdr']:.1f} µs/CDR ({per}); load average {r['load']:.1f} "
            f"on {os.cpu_count()} cores during the run")


def baseline(cdrs: int) -> tuple[float, float]:
    """The same CDRs as one file through the batch importer (same parse, rate and store): CDRs/s, CPU µs/CDR."""
    from collectorkit import HEADER, csv_records, enterprise_with

    from collector.importer import import_files
    from warehouse.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="bench-base-"))
    ent = enterprise_with(tmp, {})
    f = tmp / "all.csv"
    f.write_bytes(HEADER + csv_records(cdrs))
    store = Store(ent, database_url=f"sqlite:///{tmp}/base.db")
    t, cpu = time.perf_counter(), time.process_time()
    report = import_files(ent, "lon-csv", [f], store=store)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    store.db.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return report.stored / elapsed, cpu / report.stored * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--cdrs", type=int, default=400_000)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --cdrs (0.1 for a quick run)")
    ap.add_argument("--batch-records", type=int, default=None,
                    help="[collector] batch_records (default: the collector's default)")
    ap.add_argument("--postgres-url", default=None)
    args = ap.parse_args()
    cdrs = int(args.cdrs * args.scale)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.senders} senders, {cdrs:,} CDRs", flush=True)
    r = run(args.senders, cdrs, args.postgres_url, batch_records=args.batch_records)
    rate = r["cdrs"] / r["total_s"]
    print(f"live TCP: {r['cdrs']:,} CDRs stored in {r['total_s']:.2f}s = {rate:,.0f} CDRs/s sustained "
          f"(every byte taken in after {r['received_s']:.2f}s); lost {r['lost']}; peak RSS {r['peak_rss_mb']:.0f} MB")
    print(cpu_line(r), flush=True)
    shutil.rmtree(r["root"], ignore_errors=True)
    base, base_cpu = baseline(r["cdrs"])
    print(f"baseline (same CDRs, one file, import_files): {base:,.0f} CDRs/s, CPU {base_cpu:.1f} µs/CDR")
    print(f"ratio to target {TARGET:,}/s: {rate / TARGET:.2f}; ratio to file-import baseline: {rate / base:.2f} "
          f"(CPU per CDR: {r['cpu_us_per_cdr'] / base_cpu:.2f})")
    if r["lost"]:
        sys.exit(f"LOST {r['lost']} CDRs")


if __name__ == "__main__":
    main()
