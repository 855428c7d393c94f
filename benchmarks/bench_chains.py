"""Chain stitching throughput (issue 17): legs per second of ``analytics.rating.chains.stitch``.

    python benchmarks/bench_chains.py --legs 1000000 --runs 3
    python benchmarks/bench_chains.py --legs 5000000 --runs 1 --open-chains

Builds a one-site enterprise in a temporary folder and ``--legs`` CUCM-like legs: most conversations are
one leg, ``--chained`` of them (default 30 %) are a blind transfer of an outbound PSTN call (original,
consultation with its own GlobalCallID, final segment sharing the trunk-side leg), i.e. three legs, one
chain, one carrier call priced once and shared.  The legs are rated without chains once (untimed), then
``stitch`` is timed on the whole batch (wall clock, median of ``--runs``), beside the rating it follows
(``RatingStage.rate_legs``, the baseline of the same run) so the ratio says what chaining adds to a batch.

``--open-chains`` also reports the memory open chains take at a ``--window-hours`` window (default 48) for
``--extensions`` extensions (default 10,000) making ``--calls-per-day`` legs each: the collector keeps no
chain state in memory between batches — the open chains *are* the stored legs (``chains_store``) — so the
figure is the Arrow size of every rated leg in the window, the most a ``join_stored`` lookup can hold.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from analytics.rating.chains import ChainPolicy, stitch
from analytics.rating.stage import RatingStage
from warehouse.config import load_config
from warehouse.schema import PARSED_SCHEMA, TS

CONFIG = """
[enterprise]
name = "Bench"
currency = "USD"
[storage]
lake = "lake"
database = "sqlite:///bench.db"
[[site]]
id = "NYC"
timezone = "America/New_York"
country = "US"
holidays = "US-NY"
main_number = "+12125550000"
dids = ["+12125550000-+12125559999"]
extensions = ["1000-1999"]
access_code = "9"
[[pbx]]
id = "cucm"
type = "cucm"
site = "NYC"
[[trunk]]
pbx = "cucm"
match = "NYC-PSTN-*"
carrier = "acme"
[[carrier]]
id = "acme"
tariff = "acme.csv"
[reference]
tariff = "pstn.csv"
"""
HEADER = ("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,"
          "increment,valid_from,valid_to\n")


def enterprise(folder: Path):
    (folder / "acme.csv").write_text(HEADER + "acme,,1,US,national,all,00:00,24:00,0.05,0.0200,60,60,2026-01-01,\n")
    (folder / "pstn.csv").write_text(HEADER + "pstn,,1,US,national,all,00:00,24:00,0.00,0.0500,60,60,2026-01-01,\n")
    (folder / "callcost.toml").write_text(CONFIG)
    return load_config(folder / "callcost.toml")


def legs(n: int, chained: float, seed: int = 7) -> pa.Table:
    """*n* parsed legs: single outbound calls, and transfers of three legs (a share *chained* of the legs)."""
    rng = np.random.default_rng(seed)
    n_chains = int(n * chained) // 3
    n_single = n - 3 * n_chains
    t0 = 1_791_900_000  # mid-October 2026
    # single calls: leg i, GlobalCallID i, trunk leg id 2i+1
    s_start = t0 + rng.integers(0, 30 * 86_400, n_single)
    s_dur = rng.integers(1, 600, n_single)
    # chains: original (gcid g, legs a→t), consultation (gcid g', legs c→d), final (gcid g, legs t→d)
    c_start = t0 + rng.integers(0, 30 * 86_400, n_chains)
    d1, d3 = rng.integers(10, 300, n_chains), rng.integers(10, 600, n_chains)
    base = 10 * n
    gid = np.arange(n_chains) * 2 + base
    leg = np.arange(n_chains) * 4 + 4 * base

    def cat(*parts):
        return np.concatenate(parts)

    start = cat(s_start, c_start, c_start + d1, c_start + d1 + 5)
    answer = cat(s_start + 3, c_start + 2, np.zeros(n_chains, np.int64), c_start + d1 + 8)
    dur = cat(s_dur, d1, np.zeros(n_chains, np.int64), d3)
    end = np.where(dur > 0, answer + dur, start + 5)
    group = cat(np.arange(n_single), gid, gid + 1, gid).astype(str)
    leg_id = cat(np.arange(n_single) * 2 + 2 * n, leg, leg + 2, leg + 1).astype(str)
    peer = cat(np.arange(n_single) * 2 + 2 * n + 1, leg + 1, leg + 3, leg + 3).astype(str)
    trunk_leg = np.where(np.arange(n) < n_single, peer, "")
    trunk_leg[n_single:n_single + n_chains] = peer[n_single:n_single + n_chains]
    trunk_leg[n_single + 2 * n_chains:] = leg_id[n_single + 2 * n_chains:]
    number = (12_126_660_000 + rng.integers(0, 9_999, n)).astype(str)
    far = np.concatenate([number[:n_single], np.tile(number[n_single:n_single + n_chains], 3)])
    ext = (1000 + rng.integers(0, 999, n)).astype(str)
    internal = np.zeros(n, bool)
    internal[n_single + n_chains:n_single + 2 * n_chains] = True
    inbound = np.zeros(n, bool)
    inbound[n_single + 2 * n_chains:] = True
    calling = np.where(inbound, far, ext)
    called = np.where(internal, ext, np.where(inbound, ext, np.char.add("9", far)))
    direction = np.where(internal, "internal", np.where(inbound, "inbound", "outbound"))
    feature = np.where(inbound, "transferred", None)
    split = np.where((np.arange(n) >= n_single) & (np.arange(n) < n_single + 2 * n_chains), "transfer", None)
    order = rng.permutation(n)
    cols = {
        "call_id": np.char.add("cucm:", np.arange(n).astype(str)), "pbx": np.full(n, "cucm"),
        "source_format": np.full(n, "cucm"), "start_utc": start, "answer_utc": answer, "end_utc": end,
        "duration_s": dur, "calling_number": calling, "called_number": called, "direction": direction,
        "trunk": np.where(internal, None, "NYC-PSTN-GW"), "chain_id": np.char.add("cucm:1:", group),
        "call_group": np.char.add("cucm:1:", group), "leg_id": leg_id, "peer_leg_id": peer,
        "trunk_leg_id": np.where(trunk_leg == "", None, trunk_leg), "leg_feature": feature, "split_feature": split,
    }
    arrays = []
    for f in PARSED_SCHEMA:
        if f.name not in cols:
            arrays.append(pa.nulls(n, f.type))
            continue
        v = cols[f.name][order]
        if f.type == TS:
            mask = v <= 0 if f.name == "answer_utc" else None
            arrays.append(pa.array(v.astype(np.int64), pa.int64(), mask=mask).cast(TS))
        elif f.type == pa.int32():
            arrays.append(pa.array(v.astype(np.int64)).cast(pa.int32()))
        else:
            arrays.append(pa.array(v.tolist() if v.dtype == object else v, pa.string()))
    return pa.Table.from_arrays(arrays, schema=PARSED_SCHEMA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--legs", type=int, default=1_000_000)
    ap.add_argument("--chained", type=float, default=0.3, help="share of the legs that are in 3-leg transfers")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--open-chains", action="store_true", help="also report the memory of open chains")
    ap.add_argument("--extensions", type=int, default=10_000)
    ap.add_argument("--calls-per-day", type=float, default=20.0, help="legs per extension per day")
    ap.add_argument("--window-hours", type=int, default=48)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ent = enterprise(Path(tmp))
        stage = RatingStage(ent)
        parsed = legs(args.legs, args.chained)
        rated = stage.rate_legs(parsed)
        policy = ChainPolicy()
        rate_s, chain_s = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            stage.rate_legs(parsed)
            rate_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = stitch(rated, policy, stage.rate_legs, marks_features=True)  # CUCM marks its legs
            chain_s.append(time.perf_counter() - t0)
        chains = len(set(out["chain_id"].to_pylist()))
        carrier = out["carrier_call_id"].drop_null()
        print(f"{args.legs:,} legs ({args.chained:.0%} in 3-leg transfers): {chains:,} chains, "
              f"{len(set(carrier.to_pylist())):,} carrier calls of several legs")
        chain, rate = statistics.median(chain_s), statistics.median(rate_s)
        print(f"  stitch (chains, roles, carrier calls, shares)  {chain:6.2f} s  {args.legs / chain:12,.0f} legs/s")
        print(f"  rate_legs (the rating it follows, baseline)    {rate:6.2f} s  {args.legs / rate:12,.0f} legs/s")
        print(f"  chaining adds {chain / rate:.2f}× the rating time")
        if args.open_chains:
            open_chains(stage, policy, args)


def open_chains(stage: RatingStage, policy: ChainPolicy, args: argparse.Namespace) -> None:
    """The Arrow bytes of every rated, stitched leg in one open-chain window (the stored state's size)."""
    n = int(args.extensions * args.calls_per_day * args.window_hours / 24)
    window = stitch(stage.rate_legs(legs(n, args.chained)), policy, stage.rate_legs, marks_features=True)
    size = window.nbytes
    print(f"open chains at a {args.window_hours} h window, {args.extensions:,} extensions × "
          f"{args.calls_per_day:g} legs/day: {n:,} legs, {size / 2**20:,.1f} MiB as Arrow "
          f"({size / n:,.0f} B/leg, {size / args.extensions / 1024:,.1f} KiB/extension); held in the database, "
          "not in collector memory")


if __name__ == "__main__":
    main()
