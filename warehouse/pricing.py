"""Price classified calls: actual cost, reference (PSTN) cost and savings (SPEC §5).

This module decides *what* to price and *from where*; ``warehouse.rating`` does the arithmetic.
- actual: outbound and toll-free-inbound calls with the tariff of the trunk's carrier, from the
  trunk's site (its ``main_number`` is the ``origin``, its clock and holidays pick the band) — so a
  tail-end hop-off call is priced as a local call at the far gateway; internal and on-net calls at
  the optional ``[onnet] rate``; inbound and emergency calls cost 0.
- reference: the reference PSTN tariff, from the *originating* site to the final destination (for
  on-net calls: the destination site's ``main_number``); same-site internal calls have no PSTN
  equivalent and reference 0; toll-free inbound: the reference equals the actual (no IPT saving).
- outbound calls to toll-free numbers (the reference tariff's category says so) cost the caller 0.
A call either side cannot price is ``unrated`` with its reason and *no* costs — never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.classify import EMERGENCY, INBOUND, INTERNAL, ONNET, OUTBOUND, TOLLFREE_INBOUND
from warehouse.config import Enterprise
from warehouse.numbering import str_series
from warehouse.rating import SiteClock, rate
from warehouse.tariffs import Tariff, load_tariff


@dataclass
class Pricer:
    """Loads each tariff once and prices batches of classified calls."""

    ent: Enterprise
    _tariffs: dict[str, Tariff] = field(default_factory=dict)

    @cached_property
    def clocks(self) -> dict[str, SiteClock]:
        return {
            s.id: SiteClock(timezone=s.timezone, country=s.holiday_country, subdiv=s.holiday_subdiv)
            for s in self.ent.sites.values()
        }

    @cached_property
    def main_digits(self) -> dict[str, str]:
        return {s.id: s.main_number.lstrip("+") for s in self.ent.sites.values()}

    def tariff(self, carrier: str | None) -> Tariff:
        """The carrier's tariff, or the reference tariff for ``None``."""
        key = carrier or "\0reference"
        if key not in self._tariffs:
            path = self.ent.reference_tariff if carrier is None else self.ent.carriers[carrier].tariff
            self._tariffs[key] = load_tariff(path, scale=self.ent.scale)
        return self._tariffs[key]

    def _rate(self, carrier: str | None, dest: np.ndarray, clock_site: pa.Array, at: pa.Array,
              dur: np.ndarray) -> pa.Table:
        """Rate calls given as Arrow/numpy columns; the engine's result stays Arrow (dictionary-encoded)."""
        split = carrier is not None and self.ent.carriers[carrier].split
        clock_site = _single(clock_site)
        site = pc.dictionary_encode(clock_site)
        origin_of = [self.main_digits.get(v) for v in site.dictionary.to_pylist()]  # per distinct site
        origin = pa.array(origin_of, pa.string()).take(site.indices)
        calls = pa.table({
            "dest": pc.utf8_ltrim(pa.array(dest, type=pa.string(), from_pandas=True), "+"),
            "origin": origin,
            "site": clock_site,
            "at_utc": at,
            "duration_s": pa.array(dur, pa.int64()),
        })
        return rate(self.tariff(carrier), calls, sites=self.clocks, split=split, scale=self.ent.scale).table

    def price(self, df: pd.DataFrame) -> pd.DataFrame:
        """Add the rated columns to a classified frame (see ``warehouse.classify``).

        Working columns are plain numpy arrays written by position (a pandas string column rebuilds
        its whole Arrow array on every masked assignment); they become frame columns once, at the end.
        """
        df = df.copy()
        n = len(df)
        ct = df["call_type"].to_numpy(dtype=object, na_value=None)
        dur = df["duration_s"].astype("int64")
        dur_np = dur.to_numpy()
        answered = dur_np > 0
        at = pa.array(df["answer_utc"].fillna(df["start_utc"]))
        site = df["site"].to_numpy(dtype=object, na_value=None)
        dest_site = df["dest_site"].to_numpy(dtype=object, na_value=None)
        carrier = df["carrier"].to_numpy(dtype=object, na_value=None)
        connected = df["connected_number_e164"].to_numpy(dtype=object, na_value=None)
        did = df["_did_e164"].to_numpy(dtype=object, na_value=None)

        actual = np.zeros(n, np.int64)
        actual_ok = np.zeros(n, bool)
        ref = np.zeros(n, np.int64)
        ref_ok = np.zeros(n, bool)
        reason_a = np.full(n, None, dtype=object)
        reason_r = np.full(n, None, dtype=object)
        info = {c: _Coded(n)
                for c in ("plan", "prefix", "band", "tariff_version", "ref_plan", "ref_prefix", "ref_band",
                          "ref_tariff_version")}
        billable = np.zeros(n, np.int64)
        billable_ok = np.zeros(n, bool)

        free = ~answered | np.isin(ct, [INBOUND, EMERGENCY]) | ((ct == INTERNAL) & _same(dest_site, site))
        actual_ok[free] = True
        ref_ok[free] = True
        billable_ok[~answered] = True

        # internal / on-net: the optional per-minute on-net rate, per second, half-up
        wan = answered & (ct == ONNET)
        actual[wan] = _onnet_cost(dur[wan], self.ent.onnet_rate, self.ent.scale)
        actual_ok[wan] = True
        billable[wan] = dur_np[wan]
        billable_ok[wan] = True
        info["plan"].fill(wan, "onnet")

        # reference for on-net calls: the PSTN call to the destination site's public number
        ref_onnet = wan.copy()
        ref_onnet_dest = pd.Series(dest_site).map(self.main_digits).to_numpy(dtype=object, na_value=None)
        no_dest = ref_onnet & pd.isna(ref_onnet_dest)
        reason_r[no_dest] = "on-net call to an unknown site"
        ref_onnet &= ~no_dest

        # actual for outbound and toll-free inbound: the trunk's carrier
        paid = answered & np.isin(ct, [OUTBOUND, TOLLFREE_INBOUND])
        no_trunk = paid & pd.isna(carrier)
        if no_trunk.any():
            trunk = df["trunk"].to_numpy(dtype=object, na_value=None)[no_trunk]
            reason_a[no_trunk] = [f"unknown trunk '{t or ''}' (no [[trunk]] glob matches)" for t in trunk]
        dest_actual = np.where(ct != TOLLFREE_INBOUND, connected, did)
        no_number = paid & pd.isna(dest_actual) & ~no_trunk
        if no_number.any():
            called = df["called_number"].to_numpy(dtype=object, na_value=None)[no_number]
            reason_a[no_number] = [f"called number '{c or ''}' is not a PSTN number" for c in called]
        reason_r[no_number & (ct == OUTBOUND)] = "called number cannot be normalised"
        to_rate = paid & ~no_trunk & ~no_number
        for name in pd.unique(carrier[to_rate]):
            m = to_rate & (carrier == name)
            rows = np.flatnonzero(m)
            r = self._rate(name, dest_actual[rows], *_at_rows(rows, df["trunk_site"], at, dur_np))
            self._take(r, rows, actual, actual_ok, reason_a, (billable, billable_ok), info, "")

        # reference for outbound calls and on-net calls, from the originating site
        ref_out = answered & (ct == OUTBOUND) & ~no_number
        ref_mask = ref_out | ref_onnet
        category = df["category"].to_numpy(dtype=object, na_value=None)
        if ref_mask.any():
            rows = np.flatnonzero(ref_mask)
            dest_ref = np.where(ct == OUTBOUND, connected, ref_onnet_dest)[rows]
            r = self._rate(None, dest_ref, *_at_rows(rows, df["site"], at, dur_np))
            self._take(r, rows, ref, ref_ok, reason_r, None, info, "ref_")
            unset = rows[pd.isna(category[rows])]
            category[unset] = _objects(r["category"])[pd.isna(category[rows])]
            # calling a toll-free number: the called party pays
            tf = ref_out & (category == "tollfree")
            actual[tf & actual_ok] = 0
            ref[tf & ref_ok] = 0

        # toll-free inbound: no PSTN alternative, so no saving
        tfi = paid & (ct == TOLLFREE_INBOUND)
        ref[tfi], ref_ok[tfi] = actual[tfi], actual_ok[tfi]
        reason_r[tfi] = reason_a[tfi]

        reason = _join_reasons(reason_a, reason_r)
        unrated = ~pd.isna(reason)
        actual_ok &= ~unrated
        ref_ok &= ~unrated
        df["category"] = _series(category, df.index)
        df["rating_status"] = np.where(unrated, "unrated", "rated")
        df["unrated_reason"] = _series(reason, df.index)
        df["_actual_minor"] = _ints(actual, actual_ok, df.index)
        df["_reference_minor"] = _ints(ref, ref_ok, df.index)
        df["_savings_minor"] = _ints(ref - actual, actual_ok & ref_ok, df.index)
        df["billable_s"] = _ints(billable, billable_ok, df.index)
        for col, values in info.items():
            df[col] = values.series(df.index)
        df["currency"] = self.ent.currency
        df["rated_at"] = pd.Timestamp.now(tz="UTC").floor("s")
        return df

    @staticmethod
    def _take(r: pa.Table, rows: np.ndarray, cost: np.ndarray, cost_ok: np.ndarray, reason: np.ndarray,
              billable: tuple[np.ndarray, np.ndarray] | None, info: dict[str, _Coded], prefix: str) -> None:
        """Copy one rating result (the engine's Arrow table) into the call-aligned columns at positions *rows*."""
        ok = _objects(r["status"]) == "rated"
        cost[rows[ok]] = pc.fill_null(r["cost_minor"], 0).to_numpy()[ok]
        cost_ok[rows[ok]] = True
        if (~ok).any():
            reasons = _objects(r["reason"])[~ok]
            reason[rows[~ok]] = [("reference: " if prefix else "") + str(x) for x in reasons]
        if billable is not None:
            values, valid = billable
            values[rows[ok]] = pc.fill_null(r["billable_s"], 0).to_numpy()[ok]
            valid[rows[ok]] = True
        for col in ("plan", "prefix", "band", "tariff_version"):
            info[prefix + col].put(rows, r[col])


class _Coded:
    """A string column written by position as codes into a growing vocabulary: the engine's results are
    dictionary-encoded already, so no Python object per call is made; one Arrow ``take`` decodes it."""

    def __init__(self, n: int) -> None:
        self.codes = np.full(n, -1, dtype=np.int64)  # -1: null
        self.values: list[str | None] = []

    def fill(self, mask: np.ndarray, value: str) -> None:
        self.codes[mask] = len(self.values)
        self.values.append(value)

    def put(self, rows: np.ndarray, col: pa.ChunkedArray | pa.Array) -> None:
        col = _single(col)
        if not pa.types.is_dictionary(col.type):
            col = pc.dictionary_encode(col)
        idx = pc.fill_null(col.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        self.codes[rows] = np.where(idx >= 0, idx + len(self.values), -1)
        self.values.extend(col.dictionary.to_pylist())

    def series(self, index: pd.Index) -> pd.Series:
        if not self.values:
            return str_series(pa.nulls(len(self.codes), pa.string()), index)
        return str_series(pa.array(self.values, pa.string()).take(pa.array(self.codes, mask=self.codes < 0)), index)


def _objects(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow string column (dictionary-encoded or not) as an object array, None for null; a dictionary
    column is decoded by indexing its (few) values, not per row."""
    col = _single(col)
    if pa.types.is_dictionary(col.type):
        values = np.empty(len(col.dictionary) + 1, dtype=object)
        values[:-1] = col.dictionary.to_pylist()
        values[-1] = None
        return values[pc.fill_null(col.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)]
    return col.to_numpy(zero_copy_only=False)


def _at_rows(rows: np.ndarray, site: pd.Series, at: pa.Array, dur: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """The clock site, answer time and duration of the calls at positions *rows*."""
    take = pa.array(rows)
    return _single(pa.array(site, type=pa.string(), from_pandas=True)).take(take), _single(at).take(take), dur[rows]


def _single(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a == b`` where both are set, False where either is missing (as pandas ``str`` columns compare)."""
    return ~(pd.isna(a) | pd.isna(b)) & (a == b)


_STR_MAPPER = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get


def _series(values: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """An object array (None = missing) as a pandas ``str`` column, converted by Arrow (twice pandas' speed)."""
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    return pd.Series(arr.to_pandas(types_mapper=_STR_MAPPER).array, index=index)


def _ints(values: np.ndarray, valid: np.ndarray, index: pd.Index) -> pd.Series:
    """Exact integers with a validity mask as a nullable ``Int64`` column (never a float)."""
    return pd.Series(pd.arrays.IntegerArray(values.astype(np.int64), ~valid), index=index)


def _onnet_cost(dur: pd.Series, rate: Decimal, scale: int) -> np.ndarray:
    """``rate`` per minute × seconds / 60, half-up to the minor unit, in exact integers."""
    rate_micro = int((rate * 1_000_000).to_integral_exact())
    num = dur.to_numpy(dtype="int64") * rate_micro * (10**scale)
    den = 60 * 1_000_000
    return (num + den // 2) // den


def _join_reasons(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The actual and the reference reason, joined with ``; `` where both exist."""
    has_a, has_r = ~pd.isna(a), ~pd.isna(r)
    out = np.where(has_a, a, r)
    both = np.flatnonzero(has_a & has_r)
    out[both] = [f"{x}; {y}" for x, y in zip(a[both], r[both])]
    return out
