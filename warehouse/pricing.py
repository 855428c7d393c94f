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

from warehouse.classify import EMERGENCY, INBOUND, INTERNAL, ONNET, OUTBOUND, TOLLFREE_INBOUND
from warehouse.config import Enterprise
from warehouse.rating import SiteClock, rate
from warehouse.tariffs import Tariff, load_tariff

RESULT_COLUMNS = ["cost_minor", "status", "reason", "plan", "prefix", "category", "band", "tariff_version", "billable_s"]


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

    def _rate(self, carrier: str | None, dest: pd.Series, clock_site: pd.Series, at: pd.Series, dur: pd.Series) -> pd.DataFrame:
        split = carrier is not None and self.ent.carriers[carrier].split
        frame = pd.DataFrame({
            "dest": dest.str.lstrip("+"),
            "origin": clock_site.map(self.main_digits),
            "site": clock_site,
            "at_utc": at,
            "duration_s": dur.astype("int64"),
        })
        result = rate(self.tariff(carrier), frame, sites=self.clocks, split=split, scale=self.ent.scale)
        return _as_frame(result, frame.index)

    def price(self, df: pd.DataFrame) -> pd.DataFrame:
        """Add the rated columns to a classified frame (see ``warehouse.classify``)."""
        df = df.copy()
        n = len(df)
        idx = df.index
        ct = df["call_type"]
        dur = df["duration_s"].astype("int64")
        answered = dur > 0
        at = df["answer_utc"].fillna(df["start_utc"])

        actual = pd.Series(pd.NA, index=idx, dtype="Int64")
        ref = pd.Series(pd.NA, index=idx, dtype="Int64")
        reason_a = pd.Series(pd.NA, index=idx, dtype="str")
        reason_r = pd.Series(pd.NA, index=idx, dtype="str")
        info = {c: pd.Series(pd.NA, index=idx, dtype="str") for c in ("plan", "prefix", "band", "tariff_version",
                                                                       "ref_plan", "ref_prefix", "ref_band", "ref_tariff_version")}
        billable = pd.Series(pd.NA, index=idx, dtype="Int64")

        free = ~answered | ct.isin([INBOUND, EMERGENCY]) | ((ct == INTERNAL) & (df["dest_site"] == df["site"]).fillna(True))
        actual[free] = 0
        ref[free] = 0
        billable[~answered] = 0

        # internal / on-net: the optional per-minute on-net rate, per second, half-up
        wan = answered & (ct == ONNET)
        actual[wan] = _onnet_cost(dur[wan], self.ent.onnet_rate, self.ent.scale)
        billable[wan] = dur[wan]
        info["plan"][wan] = "onnet"

        # reference for on-net calls: the PSTN call to the destination site's public number
        ref_onnet = answered & (ct == ONNET)
        ref_onnet_dest = df["dest_site"].map(self.main_digits)
        no_dest = ref_onnet & ref_onnet_dest.isna()
        reason_r[no_dest] = "on-net call to an unknown site"
        ref_onnet &= ~no_dest

        # actual for outbound and toll-free inbound: the trunk's carrier
        paid = answered & ct.isin([OUTBOUND, TOLLFREE_INBOUND])
        no_trunk = paid & df["carrier"].isna()
        reason_a[no_trunk] = "unknown trunk '" + df["trunk"].fillna("").astype("str") + "' (no [[trunk]] glob matches)"
        dest_actual = df["connected_number_e164"].where(ct != TOLLFREE_INBOUND, df["_did_e164"])
        no_number = paid & dest_actual.isna() & ~no_trunk
        reason_a[no_number] = "called number '" + df["called_number"].fillna("").astype("str") + "' is not a PSTN number"
        reason_r[no_number & (ct == OUTBOUND)] = "called number cannot be normalised"
        to_rate = paid & ~no_trunk & ~no_number
        for carrier in df.loc[to_rate, "carrier"].unique():
            m = to_rate & (df["carrier"] == carrier)
            r = self._rate(carrier, dest_actual[m], df.loc[m, "trunk_site"], at[m], dur[m])
            self._take(r, m, actual, reason_a, billable, info, "")

        # reference for outbound calls and on-net calls, from the originating site
        ref_out = answered & (ct == OUTBOUND) & ~no_number
        ref_mask = ref_out | ref_onnet
        if ref_mask.any():
            dest_ref = df["connected_number_e164"].where(ct == OUTBOUND, ref_onnet_dest)
            r = self._rate(None, dest_ref[ref_mask], df.loc[ref_mask, "site"], at[ref_mask], dur[ref_mask])
            self._take(r, ref_mask, ref, reason_r, None, info, "ref_")
            cat = df["category"].copy()
            cat[ref_mask & cat.isna()] = r["category"]
            df["category"] = cat
            # calling a toll-free number: the called party pays
            tf = ref_out & (df["category"] == "tollfree").fillna(False)
            actual[tf & actual.notna()] = 0
            ref[tf & ref.notna()] = 0

        # toll-free inbound: no PSTN alternative, so no saving
        tfi = paid & (ct == TOLLFREE_INBOUND)
        ref[tfi] = actual[tfi]
        reason_r[tfi] = reason_a[tfi]

        reason = _join_reasons(reason_a, reason_r)
        unrated = reason.notna()
        actual[unrated] = pd.NA
        ref[unrated] = pd.NA
        df["rating_status"] = np.where(unrated, "unrated", "rated")
        df["unrated_reason"] = reason
        df["_actual_minor"] = actual
        df["_reference_minor"] = ref
        df["_savings_minor"] = ref - actual
        df["billable_s"] = billable
        for col, series in info.items():
            df[col] = series
        df["currency"] = self.ent.currency
        df["rated_at"] = pd.Timestamp.now(tz="UTC").floor("s")
        return df

    @staticmethod
    def _take(r: pd.DataFrame, mask: pd.Series, cost: pd.Series, reason: pd.Series,
              billable: pd.Series | None, info: dict[str, pd.Series], prefix: str) -> None:
        """Copy one rating result into the call-aligned columns."""
        ok = (r["status"] == "rated").to_numpy()
        rows = mask[mask].index
        cost[rows[ok]] = r["cost_minor"].to_numpy()[ok]
        reason[rows[~ok]] = (("reference: " if prefix else "") + r["reason"].astype("str")).to_numpy()[~ok]
        if billable is not None:
            billable[rows[ok]] = r["billable_s"].to_numpy()[ok]
        for col in ("plan", "prefix", "band", "tariff_version"):
            info[prefix + col][rows] = r[col].to_numpy()


def _onnet_cost(dur: pd.Series, rate: Decimal, scale: int) -> np.ndarray:
    """``rate`` per minute × seconds / 60, half-up to the minor unit, in exact integers."""
    rate_micro = int((rate * 1_000_000).to_integral_exact())
    num = dur.to_numpy(dtype="int64") * rate_micro * (10**scale)
    den = 60 * 1_000_000
    return (num + den // 2) // den


def _join_reasons(a: pd.Series, r: pd.Series) -> pd.Series:
    both = a.notna() & r.notna()
    out = a.fillna(r)
    out[both] = a[both] + "; " + r[both]
    return out


def _as_frame(result, index: pd.Index) -> pd.DataFrame:
    """The rating engine's result as a frame aligned with the rated calls."""
    if isinstance(result, pd.DataFrame):
        frame = result
    elif hasattr(result, "to_pandas"):
        frame = result.to_pandas()
    else:
        frame = pd.DataFrame({c: getattr(result, c) for c in RESULT_COLUMNS})
    frame = frame.reset_index(drop=True)
    frame.index = index
    return frame
