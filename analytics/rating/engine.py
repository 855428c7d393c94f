"""The rating engine (SPEC §5): price millions of calls against one tariff, exactly and vectorised.

For each answered call, at its answer instant in the *site's* local time (DST aware, the site's
holidays):

1. the **longest prefix** of ``dest`` with rows in force at the local date whose ``origin`` is empty
   or a prefix of the call's ``origin`` (a matching origin beats the empty one);
2. the **band** among that row set: ``days`` and ``[time_from, time_to)`` at the local wall-clock
   time; on a holiday a ``holiday`` row wins where one covers the time, the weekday rows apply
   elsewhere;
3. ``billable`` from the row's increments and ``cost = connect_fee + rate·billable/60``, rounded
   half-up **once** to the currency's minor unit, in integers (rates are kept at 10⁻⁶).

With ``split=True`` each increment is priced at the band in force at its own start (increment sizes
and the connect fee stay those of the row chosen at answer); the loop runs over *band changes*
(at most a few per call), never over calls or seconds.

A call no row can price is ``unrated`` with a reason and a null cost — never 0.  Unanswered calls
(``duration_s`` ≤ 0) cost 0 and carry no row.

How it is fast: the batch is cut into chunks of ``CHUNK_CALLS`` calls (temporaries of a couple of MB
stay in cache and are reused by the allocator instead of faulting in fresh pages), rated on one
thread per core (numpy and Arrow release the GIL).  Batch-wide work is done once before: the site
clocks over the batch's minutes (``rating_clock``) and, per prefix node, the entry that applies to
every call of the batch's dates (``LookupIndex.resolve_entries``), so most calls need only gathers:
number → node → entry; (site, minute) → local minute code; (entry pattern, code) → band slot → row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.errors import RatingError
from warehouse.money import INTERNAL_SCALE, div_round_half_up
from analytics.rating.clock import DAY_S, ClockTables, SiteClock
from analytics.rating.index import (
    NO_VERSION_CODE,
    REFINE,
    SEARCH,
    LookupIndex,
    lookup_index,
)
from analytics.rating.inputs import (
    CallColumns,
    dest_digits,
    flat,
    origin_codes,
    read_calls,
    single,
    site_codes,
)
from analytics.rating.output import REASONS, RateResult, RatingOutput, row_dictionaries
from analytics.rating.tariffs import Tariff

__all__ = ["SiteClock", "RateResult", "rate", "REASONS"]

NO_PREFIX, NO_VERSION, NO_BAND, UNKNOWN_SITE, NO_TIME, BAD_DURATION = range(1, 7)
MAX_DURATION_S = 366 * DAY_S  # a longer "call" is a broken CDR, not something to price
CHUNK_CALLS = 1 << 18  # calls per unit of work, temporaries ≤ 2 MB each (why: docs/dev/rating-performance.md)
PARALLEL_MIN_CALLS = 200_000  # below this, threads cost more than they save
MAX_CLOCK_CELLS = 16_000_000  # site × minute offset cells per clock table (128 MB); larger batches are windowed


def rate(tariff: Tariff, calls: pa.Table | pd.DataFrame, *, sites: Mapping[str, SiteClock], split: bool = False,
         scale: int) -> RateResult:
    """Price *calls* (columns ``dest``, ``origin``, ``site``, ``at_utc``, ``duration_s``) under *tariff*.

    *scale* is the currency's minor unit (2 for USD); the result is aligned with the input rows.
    """
    if not 0 <= scale <= INTERNAL_SCALE:
        raise RatingError(f"currency scale {scale} outside 0..{INTERNAL_SCALE}")
    cols = read_calls(calls, MAX_DURATION_S)
    n = cols.n
    idx = lookup_index(tariff)
    out = RatingOutput(n, tariff)
    names = list(sites)
    site_index = {name: i for i, name in enumerate(names)}
    site_all = np.empty(n, dtype=np.int16 if len(names) < 2**15 - 1 else np.int32)
    spans = [slice(a, min(a + CHUNK_CALLS, n)) for a in range(0, n, CHUNK_CALLS)]
    workers = min(os.cpu_count() or 1, max(n // PARALLEL_MIN_CALLS, 1))
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else _Inline() as pool:
        scans = list(pool.map(lambda sl: _scan(cols, sl, site_index, site_all, split), spans))
        used = np.flatnonzero(np.any([s.used for s in scans], axis=0)) if scans else np.zeros(0, dtype=np.int64)
        work = [s for s in scans if s.t0 is not None]
        tasks: list[tuple[_Context | None, slice | np.ndarray]]
        if not work or not len(tariff):
            tasks = [(None, sl) for sl in spans]
        else:
            clocks = [sites[names[i]] for i in used]
            site_row = np.full(len(names) + 1, -1, dtype=np.int64)
            site_row[used] = np.arange(len(used))
            t0, t1 = min(s.t0 for s in work), max(s.t1 for s in work)
            tail = max(s.longest for s in work) + DAY_S if split else 0
            tasks = _tasks(idx, clocks, site_row, cols, site_all, spans, t0, t1, tail)
        list(pool.map(lambda task: _rate_chunk(tariff, idx, cols, site_all, task[0], task[1], split, scale, out),
                      tasks))
    return out.result()


class _Inline:
    """A stand-in for the thread pool when the batch is too small to share out."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable, items: Iterable) -> Iterable:
        return map(fn, items)


# ---- batch-wide preparation ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Scan:
    used: np.ndarray  # bool per configured site: some call to price uses it
    t0: int | None  # answer times of the calls to price (None: there are none)
    t1: int | None
    longest: int


def _scan(cols: CallColumns, sl: slice, site_index: Mapping[str, int], site_all: np.ndarray, split: bool) -> _Scan:
    """Decode the chunk's sites; note which sites and times the calls to price need clocks for."""
    site = site_codes(single(cols.table["site"].slice(sl.start, sl.stop - sl.start)), site_index)
    site_all[sl] = site
    dur = cols.duration[sl]
    work = (dur > 0) & cols.dur_ok[sl] & cols.at_ok[sl] & (site >= 0)
    used = np.zeros(len(site_index) + 1, dtype=bool)
    used[site[work]] = True
    if not work.any():
        return _Scan(used[:-1], None, None, 0)
    at = cols.at[sl][work]
    return _Scan(used[:-1], int(at.min()), int(at.max()), int(dur[work].max()) if split else 0)


@dataclass(frozen=True)
class _Context:
    """What the chunks of one time window share: clocks, per-node entries, site → clock row."""

    clocks: ClockTables
    node_entry: np.ndarray
    site_row: np.ndarray


def _context(idx: LookupIndex, clocks: list[SiteClock], site_row: np.ndarray, t0: int, t1: int, tail: int) -> _Context:
    ct = ClockTables(clocks, t0, t1 + tail)
    lo, hi = ct.offset_range
    return _Context(ct, idx.resolve_entries((t0 + lo) // DAY_S, (t1 + hi) // DAY_S), site_row)


def _tasks(idx: LookupIndex, clocks: list[SiteClock], site_row: np.ndarray, cols: CallColumns, site_all: np.ndarray,
           spans: list[slice], t0: int, t1: int, tail: int) -> list[tuple[_Context, slice | np.ndarray]]:
    """Chunks with their context: one window over the whole batch unless its clock table would be too big."""
    n_sites = max(len(clocks), 1)
    budget_min = MAX_CLOCK_CELLS // n_sites - tail // 60 - 4
    if (t1 - t0) // 60 <= budget_min:
        ctx = _context(idx, clocks, site_row, t0, t1, tail)
        return [(ctx, sl) for sl in spans]
    # a long batch: group the calls to price by time window, one clock table per window
    work = np.flatnonzero((cols.duration > 0) & cols.dur_ok & cols.at_ok & (site_row[site_all] >= 0))
    window_s = max(budget_min, 1440) * 60
    slot = (cols.at[work] - t0) // window_s
    order = np.argsort(slot, kind="stable")
    cuts = np.flatnonzero(np.diff(slot[order])) + 1
    tasks: list[tuple[_Context, slice | np.ndarray]] = []
    for group in np.split(order, cuts):
        rows = work[group]
        at = cols.at[rows]
        ctx = _context(idx, clocks, site_row, int(at.min()), int(at.max()), tail)
        tasks += [(ctx, rows[a:a + CHUNK_CALLS]) for a in range(0, len(rows), CHUNK_CALLS)]
    rest = np.ones(cols.n, dtype=bool)
    rest[work] = False  # unanswered or unpriceable calls need no clock: any context will do
    rest_rows = np.flatnonzero(rest)
    tasks += [(tasks[0][0], rest_rows[a:a + CHUNK_CALLS]) for a in range(0, len(rest_rows), CHUNK_CALLS)]
    return tasks


# ---- one chunk ---------------------------------------------------------------------------------------------

def _rate_chunk(tariff: Tariff, idx: LookupIndex, cols: CallColumns, site_all: np.ndarray, ctx: _Context | None,
                rows: slice | np.ndarray, split: bool, scale: int, out: RatingOutput) -> None:
    at, at_ok, dur, dur_ok = cols.at[rows], cols.at_ok[rows], cols.duration[rows], cols.dur_ok[rows]
    m = len(at)
    site = ctx.site_row[site_all[rows]] if ctx is not None else np.where(site_all[rows] >= 0, 0, -1)
    answered = dur > 0
    reason = np.zeros(m, dtype=np.int8)
    if dur_ok.all() and at_ok.all() and site.min(initial=0) >= 0:  # the usual, clean chunk
        billable = np.where(answered, -1, 0)
        pos = np.flatnonzero(answered)
    else:
        reason[~dur_ok] = BAD_DURATION
        reason[answered & dur_ok & ~at_ok] = NO_TIME
        reason[answered & dur_ok & at_ok & (site < 0)] = UNKNOWN_SITE
        billable = np.where(answered | ~dur_ok, -1, 0)
        pos = np.flatnonzero(answered & (reason == 0))
    cost = np.zeros(m, dtype=np.int64)
    row_out = np.full(m, -1, dtype=np.int64)
    combo_out = np.full(m, -1, dtype=np.int64) if split else None
    if pos.size and ctx is None:
        reason[pos] = NO_PREFIX  # an empty tariff
    elif pos.size:
        part = cols.table.slice(rows.start, m) if isinstance(rows, slice) else cols.table.take(rows)
        padded, length = dest_digits(flat(part["dest"]))
        if pos.size < m:
            padded, length = padded[pos], length[pos]
        at, site, dur = at[pos], site[pos], dur[pos]
        clocks = ctx.clocks

        # 1. longest prefix → the entry (row set in force); per call only where origin or date matter
        node = idx.lookup_nodes(padded, length)
        entry = ctx.node_entry[node]
        ask = np.flatnonzero(entry == SEARCH)
        if ask.size:
            ocodes, ovalues = origin_codes(flat(part["origin"]).take(pa.array(pos[ask])))
            day = clocks.local(site[ask], at[ask]) // DAY_S
            entry[ask] = _search_entries(idx, node[ask], day, ocodes, ovalues)
        none = entry < 0
        if none.any():
            reason[pos[none]] = np.where(entry[none] == NO_VERSION_CODE, NO_VERSION, NO_PREFIX)
            keep = ~none
            pos, entry, at, site, dur = pos[keep], entry[keep], at[keep], site[keep], dur[keep]

        # 2. the band at answer
        if split or clocks.minute_code is None or idx.band_minute is None:
            local = clocks.local(site, at)
            day = local // DAY_S
            sod = local - day * DAY_S
            day_type = (day + 3) % 7 + 7 * clocks.is_holiday(site, day)  # 1970-01-01 was a Thursday
            slot, seg_end = idx.band_slots(idx.e_pattern[entry], day_type, sod)
        else:
            code = clocks.minute_code[clocks.minute_index(site, at)]
            slot = idx.band_minute[idx.e_band_base[entry] + code].astype(np.int64)
            fine = np.flatnonzero(slot == REFINE)
            if fine.size:
                local = clocks.local(site[fine], at[fine])
                day = local // DAY_S
                day_type = (day + 3) % 7 + 7 * clocks.is_holiday(site[fine], day)
                slot[fine] = idx.band_slots(idx.e_pattern[entry[fine]], day_type, local - day * DAY_S)[0]
        gap = slot < 0
        if gap.any():
            reason[pos[gap]] = NO_BAND
            keep = ~gap
            pos, entry, at, site, dur, slot = pos[keep], entry[keep], at[keep], site[keep], dur[keep], slot[keep]
            if split:
                seg_end, sod = seg_end[keep], sod[keep]
        row = idx.slot_rows[idx.e_rows_start[entry] + slot]

        # 3. billable seconds and cost, in integers
        first = tariff.first_increment[row]
        inc = tariff.increment[row]
        bill = np.where(dur <= first, first, first + -(-(dur - first) // inc) * inc)
        _check_range(tariff, bill)
        if split:
            numer, combo, failed = _split_numerators(tariff, idx, clocks, at, site, entry, row, seg_end, sod,
                                                     bill, first, inc, out)
            if failed.any():
                reason[pos[failed]] = NO_BAND
                keep = ~failed
                pos, numer, combo, bill, row = pos[keep], numer[keep], combo[keep], bill[keep], row[keep]
            combo_out[pos] = combo
        else:
            numer = tariff.connect_fee[row] * 60 + tariff.rate[row] * bill
        cost[pos] = div_round_half_up(numer, 60 * 10 ** (INTERNAL_SCALE - scale))
        billable[pos] = bill
        row_out[pos] = row
    out.store(rows, reason, cost, billable, row_out, combo_out)


def _search_entries(idx: LookupIndex, node: np.ndarray, day: np.ndarray, ocodes: np.ndarray, ovalues: list) -> np.ndarray:
    """Per call: the first entry up the prefix chain whose origin matches and whose dates hold *day*.

    Returns the entry, or ``-NO_PREFIX`` / ``NO_VERSION_CODE`` (a row applied but not on that date).
    """
    origin_ok = _origin_table(ovalues, idx.origins)
    ocode = ocodes * len(idx.origins)
    entry = np.full(len(node), -1, dtype=np.int64)
    version_miss = np.zeros(len(node), dtype=bool)
    pending = np.flatnonzero(node >= 0)
    cur = node.copy()
    while pending.size:
        nd = cur[pending]
        count = idx.node_entry_count[nd]
        start = idx.node_entry_start[nd]
        found = np.full(len(pending), -1, dtype=np.int64)
        for j in range(idx.max_entries):
            sel = np.flatnonzero((found < 0) & (count > j))
            if not sel.size:
                break
            e = start[sel] + j
            calls = pending[sel]
            o_ok = origin_ok[ocode[calls] + idx.e_origin[e]]
            d = day[calls]
            hit = o_ok & (idx.e_from[e] <= d) & (d <= idx.e_to[e])
            version_miss[calls[o_ok & ~hit]] = True
            found[sel[hit]] = e[hit]
        entry[pending] = found
        miss = pending[found < 0]
        cur[miss] = idx.node_parent[cur[miss]]
        pending = miss[cur[miss] >= 0]
    return np.where(entry >= 0, entry, np.where(version_miss, NO_VERSION_CODE, -NO_PREFIX))


def _origin_table(call_origins: list, tariff_origins: list[str]) -> np.ndarray:
    """Flat bool [call origin × tariff origin]: the tariff origin is empty or a prefix of the call's."""
    table = np.zeros((len(call_origins), len(tariff_origins)), dtype=bool)
    for i, co in enumerate(call_origins):
        co = co or ""
        for j, to in enumerate(tariff_origins):
            table[i, j] = co.startswith(to)
    return table.ravel()


def _check_range(tariff: Tariff, billable: np.ndarray) -> None:
    """Refuse batches whose integer arithmetic could leave int64 (absurd rates × absurd durations)."""
    if billable.size:
        worst = int(tariff.rate.max()) * int(billable.max()) + int(tariff.connect_fee.max()) * 60
        if worst >= 2**62:
            raise RatingError("rate × billable seconds exceeds the exact integer range; check the tariff and durations")


def _split_numerators(tariff: Tariff, idx: LookupIndex, clocks: ClockTables, at: np.ndarray, site: np.ndarray,
                      entry: np.ndarray, row0: np.ndarray, seg_end0: np.ndarray, sod0: np.ndarray,
                      billable: np.ndarray, first: np.ndarray, inc: np.ndarray, out: RatingOutput
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``connect_fee·60 + Σ rate(band at increment start)·seconds`` per call, walking band changes.

    Each pass prices the run of increments whose starts fall before the current band's end (or the
    next UTC-offset change, where the local clock jumps), then moves to the first increment after.
    Returns (numerators, band-name id per call, calls that ran into a time no band covers).
    """
    n = len(at)
    n_inc = np.where(billable <= first, 1, 1 + (billable - first) // inc)
    numer = tariff.connect_fee[row0] * 60
    failed = np.zeros(n, dtype=bool)
    band_code = _band_codes(tariff)
    n_bands = int(band_code.max()) + 1 if band_code.size else 0
    name_id = band_code[row0]  # < n_bands: one band; ≥ n_bands: a sequence in out.band_seqs
    last_band = name_id.copy()

    act = np.arange(n)
    k = np.zeros(n, dtype=np.int64)
    s = np.zeros(n, dtype=np.int64)
    row, seg_end, sod = row0, seg_end0, sod0
    while act.size:
        t = at[act] + s[act]
        boundary = np.minimum(t + (seg_end - sod), clocks.next_change(site[act], t)) - at[act]
        f, i = first[act], inc[act]
        k2 = np.where(boundary <= f, 1, 1 + -(-(boundary - f) // i))
        k2 = np.minimum(np.maximum(k2, k[act] + 1), n_inc[act])
        s2 = f + (k2 - 1) * i
        numer[act] += tariff.rate[row] * (s2 - s[act])
        k[act], s[act] = k2, s2
        code = band_code[row]
        changed = np.flatnonzero(code != last_band[act])
        if changed.size:  # append the new band's name to those calls' sequences (few distinct pairs)
            calls = act[changed]
            uniq, inv = np.unique(name_id[calls] * n_bands + code[changed], return_inverse=True)
            ids = np.array([out.band_sequence(divmod(int(p), n_bands), n_bands) for p in uniq], dtype=np.int64)
            name_id[calls] = ids[inv]
            last_band[calls] = code[changed]
        act = act[k[act] < n_inc[act]]
        if not act.size:
            break
        # the band at the next increment's start
        t = at[act] + s[act]
        local = clocks.local(site[act], t)
        day = local // DAY_S
        sod = local - day * DAY_S
        day_type = (day + 3) % 7 + 7 * clocks.is_holiday(site[act], day)
        slot, seg_end = idx.band_slots(idx.e_pattern[entry[act]], day_type, sod)
        gap = slot < 0
        if gap.any():
            failed[act[gap]] = True
            keep = ~gap
            act, slot, seg_end, sod = act[keep], slot[keep], seg_end[keep], sod[keep]
        row = idx.slot_rows[idx.e_rows_start[entry[act]] + slot]
    return numer, name_id, failed


def _band_codes(tariff: Tariff) -> np.ndarray:
    return row_dictionaries(tariff)["band"][0].astype(np.int64)
