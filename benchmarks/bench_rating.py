"""Benchmark the rating engine against a straightforward DuckDB longest-prefix pricing of the same data.

    python benchmarks/bench_rating.py [--calls 5000000] [--rows 100000] [--split] [--repeat 3]
    python benchmarks/bench_rating.py --calls 10000000 --no-duckdb      # the 10M memory run

Generates a tariff of ~``--rows`` rows (prefix × 5 weekday/weekend/holiday bands, some with an origin
row next to the empty one) and ``--calls`` calls over one month at three sites, times ``rate()`` alone,
then times DuckDB doing the usual SQL: join calls to tariff rows on ``starts_with(dest, prefix)`` via
per-length prefix keys, keep the longest (``QUALIFY row_number()``), and price with the same formula
at the UTC hour (DuckDB has no per-site holiday calendar, so its job is easier).

Prints, for ``rate()``: wall-clock calls/s (median and best of ``--repeat`` runs), the process CPU
seconds per run (user + system, so the figure can be read on a machine shared with other work) and
the load average; DuckDB's time on the same calls in the same run and the ratio (median rate() vs
DuckDB); the process's peak RSS (data generation included) and the peak RSS *during* rate()
(``/proc/self/clear_refs`` resets the high-water mark before the timed runs).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.rating.engine import SiteClock, rate
from analytics.rating.tariffs import load_tariff

SITES = {"NYC": SiteClock("America/New_York", "US", "NY"), "LON": SiteClock("Europe/London", "GB", "ENG"),
         "SHA": SiteClock("Asia/Shanghai", "CN", None)}
MAIN = {"NYC": "12125550000", "LON": "442075550000", "SHA": "862155550000"}
HEADER = ("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,"
          "increment,valid_from,valid_to")
BANDS = [("mon-fri", "08:00", "18:00"), ("mon-fri", "00:00", "08:00"), ("mon-fri", "18:00", "24:00"),
         ("sat-sun", "00:00", "24:00"), ("holiday", "00:00", "24:00")]


def make_tariff(path: Path, rows: int, rng: np.random.Generator) -> list[str]:
    """~rows rows; returns the prefixes (for aiming calls)."""
    n_prefix = rows // len(BANDS)
    lengths = rng.choice([2, 3, 4, 5, 6, 7], size=n_prefix, p=[0.02, 0.08, 0.2, 0.3, 0.25, 0.15])
    prefixes = sorted({str(rng.integers(10 ** (L - 1), 10**L)) for L in lengths} | {"1", "44", "86"})
    incs = [(60, 60), (30, 6), (1, 1)]
    lines = [HEADER]
    for p in prefixes:
        origin = "1212" if p.startswith("1") and rng.random() < 0.05 else ""
        fi, inc = incs[int(rng.integers(0, 3))]
        for days, tf, tt in BANDS:
            rate_ = f"0.{int(rng.integers(1, 99999)):05d}"
            lines.append(f"bench,{origin},{p},D{p},international,{days},{tf},{tt},0.01,{rate_},{fi},{inc},2026-01-01,")
    path.write_text("\n".join(lines) + "\n")
    return prefixes


def make_calls(n: int, prefixes: list[str], rng: np.random.Generator) -> pa.Table:
    """n calls aimed at the tariff's prefixes, built in Arrow (no Python object per call: 10M stay small)."""
    dest = pc.binary_join_element_wise(pa.array(prefixes, pa.string()).take(rng.integers(0, len(prefixes), n)),
                                       pa.array(rng.integers(10**8, 10**9, n)).cast(pa.string()), "")
    dest = pc.utf8_slice_codeunits(dest, 0, 13)
    pick = pa.array(rng.integers(0, len(SITES), n))
    sites = pa.array(list(SITES), pa.string()).take(pick)
    origin = pa.array([MAIN[s] for s in SITES], pa.string()).take(pick)
    at = rng.integers(1_790_812_800, 1_790_812_800 + 31 * 86_400, n)  # October 2026
    dur = np.where(rng.random(n) < 0.2, 0, rng.gamma(1.5, 120, n).astype(np.int64))
    return pa.table({"dest": dest, "origin": origin, "site": sites,
                     "at_utc": pa.array(at, pa.timestamp("s", tz="UTC")), "duration_s": pa.array(dur, pa.int64())})


def duckdb_rate(con: duckdb.DuckDBPyConnection, calls: pa.Table, tariff_path: Path) -> int:
    con.register("calls", calls)
    con.execute(f"""CREATE OR REPLACE TABLE tariff AS
        SELECT prefix, coalesce(origin, '') AS origin, days AS days_kind,
               CAST(split_part(time_from, ':', 1) AS INT) * 3600 AS tf,
               CAST(split_part(time_to, ':', 1) AS INT) * 3600 AS tt,
               CAST(round(CAST(connect_fee AS DECIMAL(18,6)) * 1000000) AS BIGINT) AS connect_fee,
               CAST(round(CAST(rate AS DECIMAL(18,6)) * 1000000) AS BIGINT) AS rate, CAST(first_increment AS BIGINT) AS first_increment, CAST(increment AS BIGINT) AS increment
        FROM read_csv('{tariff_path}', all_varchar=true)
        WHERE days <> 'holiday'""")
    # an equality join per prefix length is how one writes longest-prefix in SQL without a cross join
    lengths = [r[0] for r in con.execute("SELECT DISTINCT length(prefix) FROM tariff").fetchall()]
    con.execute("CREATE OR REPLACE TABLE tariff_k AS SELECT *, length(prefix) AS plen FROM tariff")
    union = " UNION ALL ".join(
        f"SELECT c.id, c.duration_s, t.* FROM c JOIN tariff_k t ON t.plen = {L} AND t.prefix = left(c.dest, {L}) "
        "AND (t.origin = '' OR starts_with(c.origin, t.origin)) "
        "AND t.days_kind = CASE WHEN dayofweek(c.at_utc) IN (0, 6) THEN 'sat-sun' ELSE 'mon-fri' END "
        "AND hour(c.at_utc) * 3600 >= t.tf AND hour(c.at_utc) * 3600 < t.tt" for L in lengths)
    sql = f"""
      WITH c AS (SELECT row_number() OVER () AS id, * FROM calls),
      cand AS ({union}),
      best AS (SELECT * FROM cand QUALIFY row_number() OVER (PARTITION BY id ORDER BY plen DESC, length(origin) DESC) = 1)
      SELECT count(*), sum(CASE WHEN duration_s <= 0 THEN 0 ELSE
         (connect_fee * 60 + rate * (CASE WHEN duration_s <= first_increment THEN first_increment
            ELSE first_increment + CAST(ceil((duration_s - first_increment) / increment) AS BIGINT) * increment END)
          + 300000) // 600000 END) FROM best"""
    return con.execute(sql).fetchone()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=5_000_000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--split", action="store_true", help="price split at band changes")
    ap.add_argument("--repeat", type=int, default=3, help="timed rate() runs (median and best are reported)")
    ap.add_argument("--no-duckdb", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        tpath = Path(tmp) / "bench.csv"
        prefixes = make_tariff(tpath, args.rows, rng)
        t0 = time.perf_counter()
        tariff = load_tariff(tpath, scale=2)
        t_load = time.perf_counter() - t0
        calls = make_calls(args.calls, prefixes, rng)
        t0 = time.perf_counter()
        rate(tariff, calls.slice(0, 1000), sites=SITES, split=args.split, scale=2)  # build the index once
        t_index = time.perf_counter() - t0
        print(f"tariff rows {len(tariff):,}  load {t_load:.2f} s, lookup index {t_index:.2f} s (once); "
              f"calls table {calls.nbytes / 2**20:,.0f} MB, process RSS {_rss_mb():,.0f} MB before rating")
        peak_reset = _reset_peak()
        walls, cpus, loads = [], [], []
        out = None
        for _ in range(max(args.repeat, 1)):
            out = None  # the previous result's memory goes back before the next run
            loads.append(os.getloadavg()[0])
            c0, t0 = _cpu(), time.perf_counter()
            out = rate(tariff, calls, sites=SITES, split=args.split, scale=2)
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
        peak_rate = _peak_mb()
        rated = pc.sum(pc.equal(out["status"].cast(pa.string()), "rated")).as_py()
        med, best = statistics.median(walls), min(walls)
        print(f"rate(): {args.calls:,} calls ({rated:,} rated), split={args.split}, cpus={os.cpu_count()}, "
              f"{len(walls)} runs")
        print(f"  wall  median {med:.2f} s = {args.calls / med / 1e6:.2f} M calls/s, "
              f"best {best:.2f} s = {args.calls / best / 1e6:.2f} M calls/s  "
              f"(runs: {', '.join(f'{w:.2f}' for w in walls)} s)")
        print(f"  CPU   median {statistics.median(cpus):.2f} s user+sys = "
              f"{args.calls / statistics.median(cpus) / 1e6:.2f} M calls per CPU-second "
              f"(load average 1 min at each start: {', '.join(f'{x:.1f}' for x in loads)})")
        print(f"  peak RSS while rating {peak_rate:,.0f} MB" + ("" if peak_reset else " (process peak: could not reset)"))
        if not args.no_duckdb:
            con = duckdb.connect()
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            n, total = duckdb_rate(con, calls, tpath)
            t_duck = time.perf_counter() - t0
            print(f"DuckDB longest-prefix SQL: {n:,} priced in {t_duck:.2f} s = {args.calls / t_duck / 1e6:.2f} M calls/s "
                  f"(load {load:.1f})  → rate() is {t_duck / med:.1f}× DuckDB (median run; best {t_duck / best:.1f}×)")
            con.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the process (data generation{'' if args.no_duckdb else ', DuckDB'} included) "
              f"{peak:,.0f} MB")


if __name__ == "__main__":
    main()
