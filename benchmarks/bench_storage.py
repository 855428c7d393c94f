"""Storage throughput: rows/s of ``Database.insert_calls`` (SQLite ADBC vs executemany, PostgreSQL COPY vs executemany) and ``lake.write_calls``.

    python benchmarks/bench_storage.py [--rows 200000] [--fast] [--sqlite-only]

Starts its own PostgreSQL server (``benchmarks/support/pgserver.py``, as the test suite does), with the server's
default durability (fsync on) unless ``--fast`` is given.  Each figure is one fresh insert of
*rows* synthetic rated calls (``benchmarks/support/factories.py``) and then a re-insert of the same rows (all
skipped: the cost of idempotence).  Prints a table — wall seconds, rows/s and this process's CPU µs
per row (the store thread's cost; a shared machine moves wall-clock figures, CPU much less) — and the
CPU ratio of SQLite's ADBC path to its ``executemany`` path, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))  # the harness shared with tests

from factories import rated_calls  # noqa: E402  (benchmarks/support is put on the path above)
from pgserver import FAST, PgServer  # noqa: E402

from warehouse import lake  # noqa: E402
from warehouse.database import Database  # noqa: E402


def timed(fn: Callable[[], int]) -> tuple[int, float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return n, time.perf_counter() - start, time.process_time() - cpu


def bench_db(label: str, url: str, table, **kw) -> list[tuple[str, int, float, float]]:
    db = Database(url, scale=2, **kw)
    db.create_schema()
    try:
        first = timed(lambda: db.insert_calls(table))
        again = timed(lambda: db.insert_calls(table))
        assert first[0] == table.num_rows and again[0] == 0 and db.count_calls() == table.num_rows
    finally:
        db.close()
    return [(f"{label} insert", *first), (f"{label} re-insert (all skipped)", table.num_rows, *again[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--fast", action="store_true", help="PostgreSQL with fsync off, as in the tests")
    ap.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL and the lake")
    args = ap.parse_args()
    table = rated_calls(args.rows, days=7)
    results: list[tuple[str, int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += bench_db("sqlite (WAL, executemany)", f"sqlite:///{tmp}/bench_many.db", table, sqlite_adbc=False)
        results += bench_db("sqlite (WAL, ADBC stage)", f"sqlite:///{tmp}/bench_adbc.db", table)
        if not args.sqlite_only:
            with PgServer(settings=FAST if args.fast else "") as server:
                results += bench_db("postgresql COPY", server.create_database("bench_copy"), table)
                results += bench_db("postgresql executemany", server.create_database("bench_many"), table,
                                    pg_copy=False)
            first = timed(lambda: lake.write_calls(Path(tmp) / "lake", table).new_rows)
            again = timed(lambda: lake.write_calls(Path(tmp) / "lake", table).new_rows)
            results += [("lake write_calls (7 partitions)", *first),
                        ("lake write_calls re-write (all skipped)", table.num_rows, *again[1:])]
    width = max(len(r[0]) for r in results)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':{width}}  {'rows':>9}  {'seconds':>8}  {'rows/s':>9}  {'CPU µs/row':>10}")
    for label, rows, seconds, cpu in results:
        print(f"{label:{width}}  {rows:>9,}  {seconds:>8.2f}  {rows / seconds:>9,.0f}  {cpu / rows * 1e6:>10.1f}")
    many, adbc = results[0][3], results[2][3]
    print(f"SQLite insert, ADBC stage vs executemany: {many / adbc:.2f}x less CPU "
          f"({many / args.rows * 1e6:.1f} -> {adbc / args.rows * 1e6:.1f} µs/row)")


if __name__ == "__main__":
    main()
