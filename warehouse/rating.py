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
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.errors import RatingError
from warehouse.money import INTERNAL_SCALE, div_round_half_up
from warehouse.rating_clock import DAY_S, ClockTables, SiteClock
from warehouse.rating_index import WIDTH, LookupIndex, lookup_index
from warehouse.tariffs import Tariff

__all__ = ["SiteClock", "RateResult", "rate", "explain", "REASONS"]

#: unrated reasons, by code (0 = priced)
REASONS = [None, "no prefix", "no tariff version in force", "no band", "unknown site", "no answer time",
           "implausible duration"]
NO_PREFIX, NO_VERSION, NO_BAND, UNKNOWN_SITE, NO_TIME, BAD_DURATION = range(1, 7)
MAX_DURATION_S = 366 * DAY_S  # a longer "call" is a broken CDR, not something to price
PARALLEL_MIN_CALLS = 400_000  # below this, threads cost more than they save
MAX_CLOCK_CELLS = 16_000_000  # site × minute offset cells per clock table (128 MB); larger batches are windowed
_DICT_COLUMNS = ("plan", "prefix", "category", "destination", "band", "tariff_version")


@dataclass(frozen=True)
class RateResult:
    """Rating output aligned with the input calls; string columns are dictionary-encoded.

    Columns: ``cost_minor`` (int64 minor units, null when unrated), ``status`` (rated/unrated),
    ``reason``, ``plan``, ``prefix``, ``category``, ``destination``, ``band`` (split: the bands used,
    joined with ``+``), ``tariff_version``, ``billable_s``, ``row`` (tariff row index, for explain).
    """

    table: pa.Table

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def column_names(self) -> list[str]:
        return self.table.column_names

    def __getitem__(self, name: str) -> pa.ChunkedArray:
        return self.table[name]

    def to_pandas(self) -> pd.DataFrame:
        """Plain string columns and nullable ``Int64`` integers (no float ever stands in for a cost)."""
        cols = {}
        for name in self.table.column_names:
            col = self.table[name]
            if pa.types.is_dictionary(col.type):
                col = col.cast(pa.string())
            cols[name] = col
        return pa.table(cols).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def rate(tariff: Tariff, calls: pa.Table | pd.DataFrame, *, sites: Mapping[str, SiteClock], split: bool = False,
         scale: int) -> RateResult:
    """Price *calls* (columns ``dest``, ``origin``, ``site``, ``at_utc``, ``duration_s``) under *tariff*.

    *scale* is the currency's minor unit (2 for USD); the result is aligned with the input rows.
    """
    if not 0 <= scale <= INTERNAL_SCALE:
        raise RatingError(f"currency scale {scale} outside 0..{INTERNAL_SCALE}")
    inp = _Inputs.read(calls, sites)
    idx = lookup_index(tariff)
    n = inp.n
    out = _Out(n)
    answered = inp.duration > 0
    out.cost[~answered & inp.dur_ok] = 0
    out.billable[~answered & inp.dur_ok] = 0
    out.reason[~inp.dur_ok] = BAD_DURATION
    out.reason[answered & inp.dur_ok & ~inp.at_ok] = NO_TIME
    out.reason[answered & inp.dur_ok & inp.at_ok & (inp.site < 0)] = UNKNOWN_SITE
    work = np.flatnonzero(answered & inp.dur_ok & inp.at_ok & (inp.site >= 0))
    if work.size and len(tariff):
        parts = [chunk for part in _windows(inp, work, split) for chunk in _chunks(part)]
        if len(parts) == 1:
            _rate_part(tariff, idx, inp, parts[0], sites, split, scale, out)
        else:  # numpy releases the GIL in the heavy loops; chunks write disjoint rows of `out`
            with ThreadPoolExecutor(max_workers=min(len(parts), os.cpu_count() or 1)) as pool:
                for f in [pool.submit(_rate_part, tariff, idx, inp, p, sites, split, scale, out) for p in parts]:
                    f.result()
    elif work.size:
        out.reason[work] = NO_PREFIX
    return out.result(tariff, split)


# ---- inputs --------------------------------------------------------------------------------------------

@dataclass
class _Inputs:
    n: int
    padded: np.ndarray  # int64 dest digits right-padded with zeros to WIDTH digits
    length: np.ndarray  # int64 number of dest digits (0 when not digits)
    origin_code: np.ndarray  # int64 index into origin_values
    origin_values: list[str]
    site: np.ndarray  # int64 index into site_clocks, -1 unknown
    site_clocks: list[SiteClock]
    at: np.ndarray  # int64 UTC seconds
    at_ok: np.ndarray
    duration: np.ndarray  # int64
    dur_ok: np.ndarray

    @classmethod
    def read(cls, calls: pa.Table | pd.DataFrame, sites: Mapping[str, SiteClock]) -> _Inputs:
        if isinstance(calls, pd.DataFrame):
            calls = pa.Table.from_pandas(calls, preserve_index=False)
        missing = {"dest", "origin", "site", "at_utc", "duration_s"} - set(calls.column_names)
        if missing:
            raise RatingError(f"calls lack column(s) {', '.join(sorted(missing))}")
        n = calls.num_rows
        padded, length = _digits(_flat(calls["dest"]))
        origin = _flat(calls["origin"])
        origin = pc.fill_null(origin.cast(pa.string()) if not pa.types.is_string(origin.type) else origin, "")
        ocodes, ovalues = _codes(origin)
        site_col = _flat(calls["site"])
        scodes, svalues = _codes(site_col.cast(pa.string()) if not pa.types.is_string(site_col.type) else site_col)
        known = [v for v in svalues if v is not None and v in sites]
        site_map = np.array([known.index(v) if v in sites else -1 for v in svalues] + [-1], dtype=np.int64)
        site = site_map[np.where(scodes < 0, len(svalues), scodes)]
        at, at_ok = _utc_seconds(_flat(calls["at_utc"]))
        dur = _flat(calls["duration_s"])
        dur_ok = dur.is_valid().to_numpy(zero_copy_only=False)
        duration = pc.fill_null(dur.cast(pa.int64()), 0).to_numpy()
        dur_ok &= duration <= MAX_DURATION_S
        return cls(n, padded, length, ocodes, ovalues, site, [sites[v] for v in known], at, at_ok, duration, dur_ok)


def _flat(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
        col = col.cast(pa.string())
    return col


def _codes(arr: pa.Array) -> tuple[np.ndarray, list]:
    """Dictionary codes (-1 for null) and the distinct values."""
    enc = pc.dictionary_encode(arr)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    codes = np.where(enc.indices.is_valid().to_numpy(zero_copy_only=False), idx, -1) if enc.null_count else idx
    return np.asarray(codes, dtype=np.int64), enc.dictionary.to_pylist()


def _digits(dest: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """E.164 digit strings → (right-zero-padded WIDTH-digit int64, digit count); non-digits → length 0."""
    if not pa.types.is_string(dest.type):
        dest = dest.cast(pa.string())
    length = pc.fill_null(pc.utf8_length(dest), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = pc.fill_null(pc.ascii_is_decimal(dest), False)
    if dest.null_count or not pc.all(valid).as_py():
        dest = pc.if_else(valid, dest, "0")
        length = np.where(valid.to_numpy(zero_copy_only=False), length, 0)
    if length.size and length.max() > WIDTH:
        dest = pc.utf8_slice_codeunits(dest, 0, WIDTH)
        length = np.minimum(length, WIDTH)
    value = pc.cast(dest, pa.int64()).to_numpy(zero_copy_only=False)
    pow10 = 10 ** np.arange(WIDTH, -1, -1, dtype=np.int64)  # pow10[L] = 10**(WIDTH-L)
    return value * pow10[length], length


def _utc_seconds(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_string(col.type):
        try:
            col = pc.cast(col, pa.timestamp("s", tz="UTC"))
        except pa.ArrowInvalid as exc:
            raise RatingError(f"at_utc is not a timestamp: {exc}") from None
    if not pa.types.is_timestamp(col.type):
        raise RatingError(f"at_utc must be a UTC timestamp, got {col.type}")
    per_s = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[col.type.unit]
    ok = col.is_valid().to_numpy(zero_copy_only=False)
    raw = pc.fill_null(col.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    return raw // per_s, ok  # floor: a billing second starts when it starts


# ---- the engine ----------------------------------------------------------------------------------------

class _Out:
    def __init__(self, n: int) -> None:
        self.cost = np.full(n, -1, dtype=np.int64)  # -1 = null
        self.reason = np.zeros(n, dtype=np.int8)
        self.row = np.full(n, -1, dtype=np.int64)
        self.billable = np.full(n, -1, dtype=np.int64)
        self.band_combo = np.full(n, -1, dtype=np.int64)  # split: band-name id (see band_sequence)
        self.band_seqs: list[tuple[int, ...]] = []  # id n_bands + j → band codes used, in order
        self._seq_id: dict[tuple[int, ...], int] = {}
        self._lock = threading.Lock()

    def band_sequence(self, pair: tuple[int, int], n_bands: int) -> int:
        """Id of (name id so far, next band code): single bands are their own code, sequences follow."""
        base, band = pair
        with self._lock:  # chunks rated on several threads share the sequence table
            key = (self.band_seqs[base - n_bands] if base >= n_bands else (base,)) + (band,)
            if key not in self._seq_id:
                self._seq_id[key] = n_bands + len(self.band_seqs)
                self.band_seqs.append(key)
            return self._seq_id[key]

    def result(self, tariff: Tariff, split: bool) -> RateResult:
        rated = self.reason == 0
        dicts = _row_dictionaries(tariff)
        has_row = rated & (self.row >= 0)
        row_idx = np.where(has_row, self.row, 0)
        cols: dict[str, pa.Array] = {
            "cost_minor": pa.array(self.cost, mask=~rated),
            "status": pa.DictionaryArray.from_arrays(pa.array((~rated).astype(np.int32)),
                                                     pa.array(["rated", "unrated"])),
            "reason": pa.DictionaryArray.from_arrays(
                pa.array(self.reason.astype(np.int32), mask=rated), pa.array(REASONS, pa.string())),
        }
        for name in _DICT_COLUMNS:
            codes, values = dicts[name]
            idx = codes[row_idx] if len(codes) else np.zeros(len(row_idx), dtype=np.int32)
            if name == "band" and split:
                idx = np.where(self.band_combo >= 0, self.band_combo, idx)
                if self.band_seqs:
                    names = values.to_pylist()
                    extra = ["+".join(names[b] for b in seq) for seq in self.band_seqs]
                    values = pa.array(names + extra, pa.string())
            cols[name] = pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32), mask=~has_row), values)
        cols["billable_s"] = pa.array(self.billable, mask=self.billable < 0)
        cols["row"] = pa.array(self.row, mask=~has_row)
        return RateResult(pa.table(cols))


def _row_dictionaries(tariff: Tariff) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Per output string column: a code for every tariff row and the distinct values (cached)."""
    cached = tariff._cache.get("dicts")
    if cached is None:
        source = {"plan": tariff.plan, "prefix": tariff.prefix, "category": tariff.rows["category"].to_numpy(),
                  "destination": tariff.rows["destination"].to_numpy(), "band": tariff.band,
                  "tariff_version": tariff.version}
        cached = {}
        for name, values in source.items():
            codes, uniq = pd.factorize(np.asarray(values, dtype=object))
            cached[name] = (codes.astype(np.int32), pa.array(list(uniq), pa.string()))
        tariff._cache["dicts"] = cached
    return cached


def _windows(inp: _Inputs, work: np.ndarray, split: bool) -> list[np.ndarray]:
    """Split the batch by time so each clock table stays under MAX_CLOCK_CELLS."""
    at = inp.at[work]
    t0, t1 = int(at.min()), int(at.max())
    tail = int(inp.duration[work].max()) + DAY_S if split else 0
    sites = max(len(inp.site_clocks), 1)
    budget_min = MAX_CLOCK_CELLS // sites - tail // 60 - 4
    if (t1 - t0) // 60 <= budget_min:
        return [work]
    window_s = max(budget_min, 1440) * 60
    slot = (at - t0) // window_s
    order = np.argsort(slot, kind="stable")
    cuts = np.flatnonzero(np.diff(slot[order])) + 1
    return [work[g] for g in np.split(order, cuts)]


def _chunks(work: np.ndarray) -> list[np.ndarray]:
    """Contiguous slices of the batch, one per core, when the batch is large enough to be worth it."""
    k = min(os.cpu_count() or 1, len(work) // PARALLEL_MIN_CALLS)
    return [work] if k <= 1 else np.array_split(work, k)


def _rate_part(tariff: Tariff, idx: LookupIndex, inp: _Inputs, w: np.ndarray, sites: Mapping[str, SiteClock],
               split: bool, scale: int, out: _Out) -> None:
    at = inp.at[w]
    site = inp.site[w]
    tail = int(inp.duration[w].max()) + DAY_S if split else 0
    clocks = ClockTables(inp.site_clocks, int(at.min()), int(at.max()) + tail)
    local = clocks.local(site, at)
    day = local // DAY_S
    sod = local - day * DAY_S
    day_type = (day + 3) % 7 + 7 * clocks.is_holiday(site, day)  # 1970-01-01 was a Thursday

    # 1. longest prefix with a row set in force for this origin and date
    node = idx.lookup_nodes(inp.padded[w], inp.length[w])
    origin_ok = _origin_table(inp.origin_values, idx.origins)
    ocode = inp.origin_code[w] * len(idx.origins)
    entry = np.full(len(w), -1, dtype=np.int64)
    version_miss = np.zeros(len(w), dtype=bool)
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
    no_entry = entry < 0
    out.reason[w[no_entry]] = np.where(version_miss[no_entry], NO_VERSION, NO_PREFIX)

    # 2. the band at answer
    ok = np.flatnonzero(~no_entry)
    e = entry[ok]
    slot, seg_end = idx.band_slots(idx.e_pattern[e], day_type[ok], sod[ok])
    no_band = slot < 0
    out.reason[w[ok[no_band]]] = NO_BAND
    ok, e, slot, seg_end = ok[~no_band], e[~no_band], slot[~no_band], seg_end[~no_band]
    row = idx.slot_rows[idx.e_rows_start[e] + slot]

    # 3. billable seconds and cost, in integers
    d = inp.duration[w[ok]]
    first = tariff.first_increment[row]
    inc = tariff.increment[row]
    billable = np.where(d <= first, first, first + -(-(d - first) // inc) * inc)
    fee = tariff.connect_fee[row]
    _check_range(tariff, billable)
    if split:
        numer, combo, failed = _split_numerators(tariff, idx, clocks, at[ok], site[ok], e, row, seg_end, sod[ok],
                                                 billable, first, inc, out)
        out.band_combo[w[ok]] = combo
        out.reason[w[ok[failed]]] = NO_BAND
    else:
        numer = fee * 60 + tariff.rate[row] * billable
        failed = np.zeros(len(ok), dtype=bool)
    cost = div_round_half_up(numer, 60 * 10 ** (INTERNAL_SCALE - scale))
    good = w[ok[~failed]]
    out.cost[good] = cost[~failed]
    out.billable[good] = billable[~failed]
    out.row[good] = row[~failed]


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
                      billable: np.ndarray, first: np.ndarray, inc: np.ndarray, out: _Out
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
    return _row_dictionaries(tariff)["band"][0].astype(np.int64)


def explain(tariff: Tariff, call: Mapping, sites: Mapping[str, SiteClock], split: bool, scale: int) -> list[str]:
    """Step-by-step account of how one call is priced (rows with file lines, billable, rounding)."""
    from warehouse.rating_explain import explain_call

    return explain_call(tariff, call, sites, split, scale)
