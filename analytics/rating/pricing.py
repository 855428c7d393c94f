"""Price classified calls: actual cost, reference (PSTN) cost and savings (SPEC §5).

This module decides *what* to price and *from where*; ``analytics.rating.engine`` does the arithmetic.
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

import time
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.rating.classify import (
    CT_EMERGENCY, CT_INBOUND, CT_INTERNAL, CT_ONNET, CT_OUTBOUND, CT_TOLLFREE_INBOUND, Classified, codes_of, decode,
)
from warehouse.config import Enterprise
from warehouse.money import minor_to_decimal128
from analytics.rating.numbering import true_mask
from analytics.rating.engine import SiteClock, rate
from warehouse.schema import TS
from analytics.rating.tariffs import Tariff, load_tariff


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

    def _rate(self, carrier: str | None, dest: pa.Array, clock_site: pa.Array, at: pa.Array,
              dur: np.ndarray) -> pa.Table:
        """Rate calls given as Arrow/numpy columns; the engine's result stays Arrow (dictionary-encoded)."""
        split = carrier is not None and self.ent.carriers[carrier].split
        clock_site = _single(clock_site)
        site = pc.dictionary_encode(clock_site)
        origin_of = [self.main_digits.get(v) for v in site.dictionary.to_pylist()]  # per distinct site
        origin = pa.array(origin_of, pa.string()).take(site.indices)
        calls = pa.table({
            "dest": pc.utf8_ltrim(_single(dest), "+"),
            "origin": origin,
            "site": clock_site,
            "at_utc": at,
            "duration_s": pa.array(dur, pa.int64()),
        })
        return rate(self.tariff(carrier), calls, sites=self.clocks, split=split, scale=self.ent.scale).table

    def price(self, c: Classified, parsed: pa.Table) -> dict[str, pa.Array]:
        """The rated columns (``calls_schema`` names) of a classified batch, call-aligned.

        Everything per call is a numpy array written by position — integer codes for call type, site,
        carrier and category, integers for money — so no string is compared or built per call; the
        string columns are decoded from their codes once, at the end, by Arrow ``take``.
        """
        n = c.n
        ct = c.call_type
        dur_np = pc.fill_null(_single(parsed.column("duration_s")), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        answered = dur_np > 0
        at = _single(pc.coalesce(parsed.column("answer_utc"), parsed.column("start_utc")))
        site, dest_site, carrier = c.site_code, c.dest_site_code, c.carrier_code
        outbound, tollfree_in = ct == CT_OUTBOUND, ct == CT_TOLLFREE_INBOUND

        actual = np.zeros(n, np.int64)
        actual_ok = np.zeros(n, bool)
        ref = np.zeros(n, np.int64)
        ref_ok = np.zeros(n, bool)
        reason_a = np.full(n, None, dtype=object)
        reason_r = np.full(n, None, dtype=object)
        info = {col: _Coded(n)
                for col in ("plan", "prefix", "band", "tariff_version", "ref_plan", "ref_prefix", "ref_band",
                            "ref_tariff_version")}
        billable = np.zeros(n, np.int64)
        billable_ok = np.zeros(n, bool)

        same_site = (ct == CT_INTERNAL) & (dest_site >= 0) & (dest_site == site)
        free = ~answered | (ct == CT_INBOUND) | (ct == CT_EMERGENCY) | same_site
        actual_ok[free] = True
        ref_ok[free] = True
        billable_ok[~answered] = True

        # internal / on-net: the optional per-minute on-net rate, per second, half-up
        wan = answered & (ct == CT_ONNET)
        actual[wan] = _onnet_cost(dur_np[wan], self.ent.onnet_rate, self.ent.scale)
        actual_ok[wan] = True
        billable[wan] = dur_np[wan]
        billable_ok[wan] = True
        info["plan"].fill(wan, "onnet")

        # reference for on-net calls: the PSTN call to the destination site's public number
        mains = pa.array([self.main_digits.get(sid) for sid in c.site_ids] + [None], pa.string())
        ref_onnet_dest = mains.take(pa.array(np.where(dest_site >= 0, dest_site, len(c.site_ids))))
        no_dest = wan & true_mask(pc.is_null(ref_onnet_dest))
        reason_r[no_dest] = "on-net call to an unknown site"
        ref_onnet = wan & ~no_dest

        # actual for outbound and toll-free inbound: the trunk's carrier
        paid = answered & (outbound | tollfree_in)
        no_trunk = paid & (carrier < 0)
        if no_trunk.any():
            trunk = _single(parsed.column("trunk")).take(pa.array(np.flatnonzero(no_trunk))).to_pylist()
            reason_a[no_trunk] = [f"unknown trunk '{t or ''}' (no [[trunk]] glob matches)" for t in trunk]
        dest_actual = _single(pc.if_else(pa.array(~tollfree_in), c.e164, c.did_e164))
        no_number = paid & true_mask(pc.is_null(dest_actual)) & ~no_trunk
        if no_number.any():
            called = _single(parsed.column("called_number")).take(pa.array(np.flatnonzero(no_number))).to_pylist()
            reason_a[no_number] = [f"called number '{x or ''}' is not a PSTN number" for x in called]
        reason_r[no_number & outbound] = "called number cannot be normalised"
        to_rate = paid & ~no_trunk & ~no_number
        for code in np.unique(carrier[to_rate]).tolist():
            rows = np.flatnonzero(to_rate & (carrier == code))
            take = pa.array(rows)
            r = self._rate(c.carriers[code], dest_actual.take(take), decode(c.trunk_site_code[rows], c.site_ids),
                           at.take(take), dur_np[rows])
            self._take(r, rows, actual, actual_ok, reason_a, (billable, billable_ok), info, "")

        # reference for outbound calls and on-net calls, from the originating site
        ref_out = answered & outbound & ~no_number
        ref_mask = ref_out | ref_onnet
        category = c.category.copy()
        if ref_mask.any():
            rows = np.flatnonzero(ref_mask)
            take = pa.array(rows)
            dest_ref = _single(pc.if_else(pa.array(outbound), c.e164, ref_onnet_dest)).take(take)
            r = self._rate(None, dest_ref, decode(site[rows], c.site_ids), at.take(take), dur_np[rows])
            self._take(r, rows, ref, ref_ok, reason_r, None, info, "ref_")
            unset = category[rows] < 0
            category[rows[unset]] = codes_of(r["category"], c.categories)[unset]
            # calling a toll-free number: the called party pays
            if "tollfree" in c.categories:
                tf = ref_out & (category == c.categories.index("tollfree"))
                actual[tf & actual_ok] = 0
                ref[tf & ref_ok] = 0

        # toll-free inbound: no PSTN alternative, so no saving
        tfi = paid & tollfree_in
        ref[tfi], ref_ok[tfi] = actual[tfi], actual_ok[tfi]
        reason_r[tfi] = reason_a[tfi]

        reason = _join_reasons(reason_a, reason_r)
        unrated = ~pd.isna(reason)
        actual_ok &= ~unrated
        ref_ok &= ~unrated
        scale = self.ent.scale
        out = {
            "category": decode(category, c.categories),
            "rating_status": decode(unrated.astype(np.int32), ["rated", "unrated"]),
            "unrated_reason": pa.array(reason, type=pa.string(), from_pandas=True),
            "actual_cost": _money(actual, actual_ok, scale),
            "reference_cost": _money(ref, ref_ok, scale),
            "savings": _money(ref - actual, actual_ok & ref_ok, scale),
            "billable_s": pa.array(np.where(billable_ok, billable, 0), pa.int64(), mask=~billable_ok).cast(pa.int32()),
            "currency": pa.array([self.ent.currency], pa.string()).take(pa.array(np.zeros(n, np.int32))),
            "rated_at": pa.array(np.full(n, int(time.time()), np.int64)).cast(TS),
        }
        for col, values in info.items():
            out[col] = values.array()
        return out

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

    def array(self) -> pa.Array:
        return decode(self.codes, self.values)


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


def _single(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _money(minor: np.ndarray, valid: np.ndarray, scale: int) -> pa.Array:
    """Integer minor units → exact ``decimal128(18, scale)`` (null where not *valid*)."""
    return minor_to_decimal128(np.where(valid, minor, 0), scale, valid)


def _onnet_cost(dur: np.ndarray, rate: Decimal, scale: int) -> np.ndarray:
    """``rate`` per minute × seconds / 60, half-up to the minor unit, in exact integers."""
    rate_micro = int((rate * 1_000_000).to_integral_exact())
    num = np.asarray(dur, dtype=np.int64) * rate_micro * (10**scale)
    den = 60 * 1_000_000
    return (num + den // 2) // den


def _join_reasons(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The actual and the reference reason, joined with ``; `` where both exist."""
    has_a, has_r = ~pd.isna(a), ~pd.isna(r)
    out = np.where(has_a, a, r)
    both = np.flatnonzero(has_a & has_r)
    out[both] = [f"{x}; {y}" for x, y in zip(a[both], r[both])]
    return out
