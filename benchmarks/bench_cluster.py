"""Scale-out (issue 21): import and re-rate on a Dask LocalCluster of 1 and 2 workers; standby takeover after kill -9.

    python benchmarks/bench_cluster.py [--cdrs 1000000] [--workers 1,2] [--no-standby]

Generates CUCM flat files of the sample enterprise's traffic (as ``bench_import.py``), then, on a fresh
lake and a fresh database of a throw-away PostgreSQL server for every run:

* **into the lake** — the import tasks alone (parse, rate, ``lake.write_calls`` on the workers, results
  gathered, no database): wall-clock CDRs/s, and *per worker* CDRs/s = CDRs / the workers' summed task
  time (goal ≥ 100,000 per worker);
* **lake + PostgreSQL** — ``import_on_cluster`` end to end (the coordinator joins chains, COPYs into
  PostgreSQL and keeps the ingest account), with 1 and 2 workers and the scaling ratio (goal ≥ 1.7×),
  next to the one-process ``import_files`` into the same kind of store (the baseline);
* **re-rate** — after a tariff change, every stored call re-rated by ``rerate`` in this process and,
  after a second change, by ``rerate_on_cluster`` on ``local:2``: calls/s of each and the ratio;
* **standby** — two ``callcost collect`` processes on one PostgreSQL, a TCP PBX sending; kill -9 of the
  active one: seconds until the standby holds the link, and calls lost / doubled (goal < 10 s, 0, 0).

The LocalCluster's start (≈2 s) and the workers' first config load are outside the timings.  The
machine's cores are shared (``os.cpu_count()`` and the load are printed): with 2 cores, 2 workers, the
coordinator and PostgreSQL compete for them, so the scaling ratio measured here is a floor.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

from clusterkit import PBX, cucm_files, enterprise_at, kill_the_active  # noqa: E402
from pgserver import PgServer  # noqa: E402

from analytics.cluster_rerate import rerate_on_cluster  # noqa: E402
from analytics.rerate import rerate  # noqa: E402
from collector.cluster_import import TASK_BYTES, _worker_state, import_on_cluster, import_task  # noqa: E402
from collector.importer import import_files  # noqa: E402
from warehouse import cluster  # noqa: E402
from warehouse.config import Enterprise, load_config  # noqa: E402
from warehouse.store import Store  # noqa: E402

PER_WORKER_GOAL = 100_000
SCALING_GOAL = 1.7
TAKEOVER_GOAL_S = 10.0


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def warm(config: str, path: str) -> int:
    """On a worker: load the config and rate one file's calls (the first ``rate_batch`` builds lookups), write nothing."""
    from collector.importer import BUNDLE_BYTES, _parsed_batches

    _ent, stage, connector = _worker_state(config, PBX)
    [batch] = list(_parsed_batches(connector, [Path(path)], 1 << 62, BUNDLE_BYTES))
    return stage.rate_batch(batch.calls).num_rows


def warm_all(client, ent: Enterprise, files: list[Path]) -> None:
    client.run(warm, str(ent.path), str(files[0]))


def lake_only(ent: Enterprise, files: list[Path], client) -> tuple[int, float, float, float]:
    """The import tasks alone: (CDRs, wall seconds, summed task seconds and CPU seconds on the workers)."""
    groups = cluster.chunks(files, cluster.file_sizes(files), TASK_BYTES, at_least=4 * cluster.worker_count(client))
    t0 = time.perf_counter()
    futures = [client.submit(import_task, str(ent.path), PBX, [str(p) for p in g], pure=False) for g in groups]
    n, busy, cpu = 0, 0.0, 0.0
    for f in futures:
        out = f.result()
        f.release()
        n += out.calls.num_rows if out.calls is not None else 0
        busy += out.seconds
        cpu += out.cpu_s
    return n, time.perf_counter() - t0, busy, cpu


def import_runs(files: list[Path], root: Path, server: PgServer, workers: list[int]) -> dict[int, float]:
    """Per worker count, the lake-only and the lake + PostgreSQL figures; returns workers → lake+PG CDRs/s."""
    rates: dict[int, float] = {}
    lake_rates: dict[int, float] = {}
    for n in workers:
        with cluster.connect(f"local:{n}") as client:
            ent = enterprise_at(root / f"lake{n}")
            warm_all(client, ent, files)  # tariffs loaded and lookups built once per worker, outside the timing
            cdrs, wall, busy, cpu = lake_only(ent, files, client)
            lake_rates[n] = cdrs / wall
            print(f"into the lake, local:{n}:        {cdrs:>9,} CDRs in {wall:6.2f}s = {cdrs / wall:>9,.0f} CDRs/s; "
                  f"per worker {cdrs / busy:>9,.0f} CDRs/s wall = {cdrs / busy / PER_WORKER_GOAL:.2f}× goal, "
                  f"{cdrs / cpu:>9,.0f} CDRs per CPU-s = {cdrs / cpu / PER_WORKER_GOAL:.2f}× goal; load {load()}")
            ent = enterprise_at(root / f"pg{n}", server.create_database(f"pg{n}"))
            warm_all(client, ent, files)
            store = Store(ent)
            rep = import_on_cluster(ent, PBX, files, store=store, client=client)
            store.db.close()
            assert rep.stored == rep.parsed and not rep.quarantined, rep
            rates[n] = rep.parsed / rep.seconds
            print(f"lake + PostgreSQL, local:{n}:   {rep.parsed:>9,} CDRs in {rep.seconds:6.2f}s = "
                  f"{rates[n]:>9,.0f} CDRs/s; load {load()}")
    if 1 in rates and 2 in rates:
        print(f"scaling 1 → 2 workers: into the lake {lake_rates[2] / lake_rates[1]:.2f}×, lake + PostgreSQL "
              f"{rates[2] / rates[1]:.2f}× (goal {SCALING_GOAL}×)")
    return rates


def baseline(files: list[Path], root: Path, server: PgServer) -> tuple[Enterprise, float]:
    """The one-process import into lake + PostgreSQL; the enterprise it fills is re-rated next."""
    from analytics.rating.stage import RatingStage
    from collector.connectors.base import connector_for
    from collector.importer import pbx_context

    ent = enterprise_at(root / "single", server.create_database("single"))
    stage = RatingStage(ent)  # warmed like the workers: outside the timing
    stage.rate_batch(connector_for("cucm", pbx_context(ent, PBX)).parse(files[0].read_bytes(), str(files[0])).calls)
    store = Store(ent)
    rep = import_files(ent, PBX, files, store=store, stage=stage)
    store.db.close()
    print(f"one process (import_files), lake + PostgreSQL: {rep.parsed:>9,} CDRs in {rep.seconds:6.2f}s = "
          f"{rep.parsed / rep.seconds:>9,.0f} CDRs/s (the baseline); load {load()}")
    return ent, rep.parsed / rep.seconds


def rerate_runs(ent: Enterprise) -> None:
    """Re-rate every stored call after a tariff change: in this process, then (after another change) on local:2."""
    lo, hi = date(2020, 1, 1), date(2030, 12, 31)
    tariff = ent.root / "tariffs" / "acme.csv"
    figures = {}
    for label, old, new in (("one process", ",0.0120,", ",0.0190,"), ("local:2", ",0.0190,", ",0.0230,")):
        tariff.write_text(tariff.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        ent = load_config(ent.path)
        if label == "local:2":
            with cluster.connect("local:2") as client:
                t0 = time.perf_counter()
                result = rerate_on_cluster(ent, lo, hi, client=client)
                seconds = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            result = rerate(ent, lo, hi)
            seconds = time.perf_counter() - t0
        figures[label] = result.calls / seconds
        print(f"re-rate, {label:12s} {result.calls:>9,} calls ({result.changed:,} changed) in {seconds:6.2f}s = "
              f"{figures[label]:>9,.0f} calls/s; load {load()}")
    print(f"re-rate local:2 / one process: {figures['local:2'] / figures['one process']:.2f}×")


def standby_run(root: Path, server: PgServer) -> None:
    """kill -9 of the active collector mid-TCP-stream: takeover seconds, calls lost and doubled."""
    out = kill_the_active(root, server.create_database("standby"))
    t = out.tally
    print(f"standby takeover after kill -9: {out.takeover_s:.2f}s (goal < {TAKEOVER_GOAL_S:.0f}s = "
          f"{out.takeover_s / TAKEOVER_GOAL_S:.2f}× the goal); {t.sent:,} calls sent, lost {t.lost}, doubled "
          f"{t.duplicated} (database), lake lost {t.lake_lost}, doubled {t.lake_duplicated}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cdrs", type=int, default=1_000_000, help="CUCM CDRs to generate and import")
    ap.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    ap.add_argument("--no-rerate", action="store_true")
    ap.add_argument("--no-standby", action="store_true")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        files = cucm_files(enterprise_at(root / "files"), args.cdrs)
        size = sum(p.stat().st_size for p in files)
        print(f"generated {len(files):,} CUCM files, {size / 1e6:,.0f} MB, in {time.perf_counter() - t:.1f}s; "
              f"cores {os.cpu_count()}, load {load()}")
        server = PgServer().start()
        try:
            rates = import_runs(files, root, server, workers)
            single, base = baseline(files, root, server)
            for n, rate in rates.items():
                print(f"lake + PostgreSQL, local:{n} / one process: {rate / base:.2f}×")
            if not args.no_rerate:
                rerate_runs(single)
            if not args.no_standby:
                standby_run(root, server)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
