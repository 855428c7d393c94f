"""``GET /api/v1/summary`` at 10M calls over real HTTP: cold (a new server, empty cache) and warm, against
``analytics.summary`` called directly.

    python benchmarks/bench_api.py                    # 10M calls in one month
    python benchmarks/bench_api.py --calls 1000000

The lake is built as bench_dashboards builds one (a 20k-call seed copied by DuckDB into date partitions).
Each cold run starts a new ``dashboard_server`` (the real one, waitress on port 0, with a bearer token from
a real user store) after a warm-up on a tiny lake, so imports and DuckDB's first use are not counted;
the request's time is measured by the client (token check, parameter checks, the one cube scan,
JSON).  Warm is the median of 20 repeats (the cube is cached by the lake's contents).  The baseline,
same run: ``analytics.summary(lake, period)`` directly (headline and four breakdowns: five scans),
best of --repeat.  Also a NYC manager's cold summary (the scope narrows the scan).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "support"))
sys.path.insert(0, str(REPO / "benchmarks"))

from analytics.savings import summary  # noqa: E402
from bench_dashboards import build_lake, warm_up  # noqa: E402
from dashboards.auth.serving import dashboard_server  # noqa: E402
from warehouse.users import UserStore  # noqa: E402

PERIOD = "2026-10"
PASSWORD = "benchmark password"


def timed_get(session: requests.Session, url: str, **params) -> tuple[float, dict]:
    t = time.perf_counter()
    resp = session.get(url, params=params, timeout=600)
    elapsed = time.perf_counter() - t
    resp.raise_for_status()
    return elapsed, resp.json()


def cold(lake: Path, database: str, token: str, repeat: int, **params) -> tuple[float, dict]:
    """Best of *repeat* first requests, each to a new server (an empty cache)."""
    best, body = float("inf"), {}
    for _ in range(repeat):
        server = dashboard_server(lake, "USD", "127.0.0.1", 0, database=database).start()
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {token}"
            elapsed, body = timed_get(s, f"{server.url}/api/v1/summary", period=PERIOD, **params)
        server.shutdown()
        best = min(best, elapsed)
    return best, body


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=10_000_000)
    ap.add_argument("--lake", type=Path, help="an existing lake to use instead of building one")
    ap.add_argument("--repeat", type=int, default=3, help="cold runs; the best is reported")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.lake:
            lake = args.lake
        else:
            t = time.perf_counter()
            lake = build_lake(root, args.calls)
            print(f"lake: {args.calls:,} calls built in {time.perf_counter() - t:.1f}s", flush=True)
        database = f"sqlite:///{root}/users.db"
        with UserStore(database) as store:
            store.add("admin", "admin", PASSWORD)
            store.add("nyc", "manager", PASSWORD, sites=["NYC"])
            admin, nyc = store.new_token("admin"), store.new_token("nyc")
        warm_up(root)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared)")

        api_cold, body = cold(lake, database, admin, args.repeat)
        server = dashboard_server(lake, "USD", "127.0.0.1", 0, database=database).start()
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {admin}"
            timed_get(s, f"{server.url}/api/v1/summary", period=PERIOD)
            warm = statistics.median(timed_get(s, f"{server.url}/api/v1/summary", period=PERIOD)[0]
                                     for _ in range(20))
        server.shutdown()
        nyc_cold, nyc_body = cold(lake, database, nyc, args.repeat)
        direct = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            s_ = summary(lake, PERIOD)
            direct = min(direct, time.perf_counter() - t)
        assert body["calls"] == s_.calls and body["savings"] == str(s_.savings), "the API disagrees with analytics"
        print(f"calls in {PERIOD}: {body['calls']:,} (NYC manager: {nyc_body['calls']:,})")
        print(f"/api/v1/summary cold {api_cold:.3f}s (goal < 1 s); warm {warm * 1000:.1f} ms; "
              f"NYC manager cold {nyc_cold:.3f}s")
        print(f"baseline: analytics.summary() directly {direct:.3f}s; API cold / direct = {api_cold / direct:.2f}x, "
              f"warm / direct = {warm / direct:.3f}x")


if __name__ == "__main__":
    main()
