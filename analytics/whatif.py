"""What-if and least-cost routing: what a month's PSTN traffic would cost under every configured carrier.

Why: the question after "what did we save?" is "could we save more by moving traffic to another
carrier?".  Each carrier's tariff prices the *same* calls — the period's outbound (PSTN-bound) calls
from the lake — with the same rating engine as the actual cost (``analytics.rating.engine.rate``, one
vectorised pass over the whole table per carrier, never a per-call loop), so the figures compare
like for like:

* a call is priced as if it had left through the chosen carrier **at the same breakout site** it used
  (``trunk_site``, else the originating site): the site's ``main_number`` is the tariff ``origin``,
  its clock and holidays choose the band, the carrier's ``split`` setting applies.  So the carrier
  that did carry a call prices it exactly as the actual cost (unless the tariff changed since);
* a call to a toll-free number (stored ``category = tollfree``) costs 0 under any carrier that has a
  row for it, as in ``analytics.rating.pricing``;
* a call a carrier cannot price (no prefix, no band, no version in force) is **counted** in that
  carrier's ``unrated_calls`` and left out of its cost — never priced as 0; deltas against the actual
  cost are taken over the calls both priced, so a carrier never looks cheaper by pricing fewer calls.

Money is ``Decimal`` at the currency's minor unit, summed from integer minor units.

    >>> from analytics.notebook import open_enterprise
    >>> from analytics.whatif import carrier_whatif, least_cost, whatif_figure
    >>> ent = open_enterprise()                                  # doctest: +SKIP
    >>> carrier_whatif(ent, "2026-10")                           # doctest: +SKIP
    >>> least_cost(ent, "2026-10", by="category")                # doctest: +SKIP
"""

from __future__ import annotations

import os
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.compute as pc

from analytics import duck
from analytics.calls import calls_relation, month_range
from warehouse.config import Enterprise
from warehouse.money import decimal128_to_minor
from analytics.rating.pricing import Pricer
from analytics.rating.engine import rate

__all__ = ["ACTUAL", "GROUPINGS", "REFERENCE", "carrier_whatif", "least_cost", "whatif_figure"]

#: Labels of the two rows of :func:`carrier_whatif` that are not a carrier's tariff.
ACTUAL, REFERENCE = "(actual)", "(reference)"
#: What :func:`least_cost` can group by.
GROUPINGS = ("dest_country", "category")
NO_VALUE = "(none)"

_COLUMNS = ("call_id", "site", "trunk_site", "connected_number_e164", "dest_country", "category", "duration_s",
            "rating_status", "actual_cost", "reference_cost")


class _Traffic:
    """The period's outbound calls with, per carrier, each call's cost in minor units (valid mask apart)."""

    def __init__(self, ent: Enterprise, period: str, lake: str | os.PathLike[str] | None) -> None:
        self.ent = ent
        self.scale = ent.scale
        self.calls = _outbound_calls(lake if lake is not None else ent.storage.lake, period)
        n = self.calls.num_rows
        self.duration = pc.fill_null(self.calls["duration_s"], 0).to_numpy(zero_copy_only=False).astype(np.int64)
        rated = pc.fill_null(pc.equal(self.calls["rating_status"], "rated"), False).to_numpy(zero_copy_only=False)
        self.actual, ok = _minor(self.calls["actual_cost"], n)
        self.actual_ok = rated & ok
        self.reference, ok = _minor(self.calls["reference_cost"], n)
        self.reference_ok = rated & ok
        self.cost: dict[str, np.ndarray] = {}
        self.cost_ok: dict[str, np.ndarray] = {}
        if n:
            self._price_each_carrier()

    def _price_each_carrier(self) -> None:
        pricer = Pricer(self.ent)
        breakout = pc.coalesce(self.calls["trunk_site"], self.calls["site"])
        # A call whose breakout site is missing or no longer configured has no origin (null), not NaN.
        mains = pricer.main_digits
        where = pc.index_in(breakout, value_set=pa.array(list(mains), pa.string()))
        origin = pc.take(pa.array(list(mains.values()), pa.string()), where)
        frame = pa.table({
            "dest": pc.utf8_ltrim(pc.fill_null(self.calls["connected_number_e164"], ""), "+"),
            "origin": origin, "site": breakout, "at_utc": self.calls["at_utc"], "duration_s": self.calls["duration_s"],
        })
        tollfree = pc.fill_null(pc.equal(self.calls["category"], "tollfree"), False).to_numpy(zero_copy_only=False)
        for cid, carrier in self.ent.carriers.items():
            result = rate(pricer.tariff(cid), frame, sites=pricer.clocks, split=carrier.split, scale=self.scale)
            cost = result["cost_minor"]
            ok = pc.is_valid(cost).to_numpy(zero_copy_only=False)
            values = pc.fill_null(cost, 0).to_numpy(zero_copy_only=False).astype(np.int64)
            self.cost[cid] = np.where(tollfree, 0, values)
            self.cost_ok[cid] = ok

    def keys(self, by: str) -> np.ndarray:
        return pc.fill_null(self.calls[by], NO_VALUE).to_numpy(zero_copy_only=False).astype(object)

    def money(self, minor: int) -> Decimal:
        return Decimal(int(minor)).scaleb(-self.scale)


def _outbound_calls(lake: str | os.PathLike[str], period: str) -> pa.Table:
    start, end = month_range(period)
    relation = calls_relation(lake, start, end)
    select = ", ".join(_COLUMNS)
    if relation is None:
        empty = {c: pa.array([], pa.string()) for c in _COLUMNS}
        empty.update(duration_s=pa.array([], pa.int32()), actual_cost=pa.array([], pa.decimal128(18, 2)),
                     reference_cost=pa.array([], pa.decimal128(18, 2)),
                     at_utc=pa.array([], pa.timestamp("s", tz="UTC")))
        return pa.table(empty)
    sql = (f"SELECT {select}, coalesce(answer_utc, start_utc) AS at_utc FROM {relation} "
           f"WHERE call_type = 'outbound' ORDER BY start_utc, call_id")
    with duck.connect() as con:
        return con.sql(sql).to_arrow_table()


def _minor(col: pa.ChunkedArray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    return decimal128_to_minor(col)


def _minutes(seconds: int) -> Decimal:
    return (Decimal(int(seconds)) / 60).quantize(Decimal("0.01"))


def carrier_whatif(ent: Enterprise, period: str, *, lake: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The period's outbound traffic priced under every configured carrier, plus the actual and reference cost.

    One row per carrier (config order), then ``(actual)`` and ``(reference)``.  Columns: ``carrier``,
    ``kind`` (carrier / actual / reference), ``calls`` (outbound calls of the period), ``minutes`` (their
    talk minutes), ``priced_calls``, ``cost`` (Decimal, over the calls that row prices),
    ``unrated_calls`` (calls it cannot price — counted, never priced as 0), ``delta_vs_actual``
    (Decimal: its cost minus the actual cost over the calls both price; negative = cheaper) and
    ``compared_calls`` (how many calls that delta covers).  *lake* defaults to ``ent.storage.lake``.
    """
    t = _Traffic(ent, period, lake)
    n = t.calls.num_rows
    seconds = int(t.duration.sum())
    rows = []

    def row(name: str, kind: str, cost: np.ndarray, ok: np.ndarray) -> dict:
        both = ok & t.actual_ok
        return {"carrier": name, "kind": kind, "calls": n, "minutes": _minutes(seconds),
                "priced_calls": int(ok.sum()), "cost": t.money(cost[ok].sum()), "unrated_calls": int((~ok).sum()),
                "delta_vs_actual": t.money(cost[both].sum() - t.actual[both].sum()) if both.any() else None,
                "compared_calls": int(both.sum())}

    for cid in ent.carriers:
        rows.append(row(cid, "carrier", t.cost.get(cid, np.zeros(n, np.int64)), t.cost_ok.get(cid, np.zeros(n, bool))))
    rows.append(row(ACTUAL, "actual", t.actual, t.actual_ok))
    rows.append(row(REFERENCE, "reference", t.reference, t.reference_ok))
    return pd.DataFrame(rows, columns=["carrier", "kind", "calls", "minutes", "priced_calls", "cost", "unrated_calls",
                                       "delta_vs_actual", "compared_calls"])


def least_cost(ent: Enterprise, period: str, *, lake: str | os.PathLike[str] | None = None,
               by: str = "dest_country") -> pd.DataFrame:
    """The cheapest carrier per destination group (``dest_country`` or ``category``) for the period's outbound calls.

    Index: the group (``(none)`` when empty).  Columns: ``calls``, ``minutes``, ``actual_cost`` and
    ``actual_unrated`` (the stored actual cost of the rated calls, and how many are unrated), then per
    carrier ``cost_<carrier>`` (Decimal, the calls it prices) and ``unrated_<carrier>``; ``cheapest`` —
    the carrier with the lowest cost among those that price *every* call of the group (None if none
    does; ties go to the first in config order), ``cheapest_cost`` and ``saving_vs_actual`` (actual
    minus the cheapest carrier's cost over the calls with an actual cost; positive = money to save; None
    when no call of the group has an actual cost).
    """
    if by not in GROUPINGS:
        raise ValueError(f"cannot group least-cost by '{by}' (one of {', '.join(GROUPINGS)})")
    t = _Traffic(ent, period, lake)
    carriers = list(ent.carriers)
    cost_cols = [f"cost_{c}" for c in carriers]
    unrated_cols = [f"unrated_{c}" for c in carriers]
    columns = ["calls", "minutes", "actual_cost", "actual_unrated", *[x for pair in zip(cost_cols, unrated_cols)
                                                                      for x in pair],
               "cheapest", "cheapest_cost", "saving_vs_actual"]
    if t.calls.num_rows == 0:
        return pd.DataFrame(columns=columns).rename_axis(by)
    data = {"key": t.keys(by), "calls": np.ones(t.calls.num_rows, dtype=np.int64), "seconds": t.duration,
            "actual": np.where(t.actual_ok, t.actual, 0), "actual_unrated": (~t.actual_ok).astype(np.int64)}
    for c in carriers:
        ok = t.cost_ok[c]
        data[f"c_{c}"] = np.where(ok, t.cost[c], 0)
        data[f"u_{c}"] = (~ok).astype(np.int64)
        data[f"x_{c}"] = np.where(ok & t.actual_ok, t.cost[c], 0)  # over calls with an actual cost
        data[f"n_{c}"] = (ok & t.actual_ok).astype(np.int64)
    sums = pd.DataFrame(data).groupby("key", sort=True).sum()

    out = pd.DataFrame(index=sums.index.rename(by))
    out["calls"] = sums["calls"].astype("int64")
    out["minutes"] = [_minutes(s) for s in sums["seconds"]]
    out["actual_cost"] = [t.money(v) for v in sums["actual"]]
    out["actual_unrated"] = sums["actual_unrated"].astype("int64")
    for c in carriers:
        out[f"cost_{c}"] = [t.money(v) for v in sums[f"c_{c}"]]
        out[f"unrated_{c}"] = sums[f"u_{c}"].astype("int64")
    if carriers:
        full = np.column_stack([sums[f"u_{c}"].to_numpy() == 0 for c in carriers])
        costs = np.column_stack([sums[f"c_{c}"].to_numpy() for c in carriers]).astype(np.int64)
        costs[~full] = np.iinfo(np.int64).max  # only carriers that price the whole group compete
        best = np.argmin(costs, axis=1)
        has = full.any(axis=1)
    else:
        best = np.zeros(len(sums), dtype=np.int64)
        has = np.zeros(len(sums), dtype=bool)
    cheapest, cheapest_cost, saving = [], [], []
    for i, (b, ok) in enumerate(zip(best, has)):  # one iteration per group, not per call
        c = carriers[int(b)] if ok else None
        cheapest.append(c)
        cheapest_cost.append(t.money(sums[f"c_{c}"].iloc[i]) if c else None)
        compared = bool(c) and sums[f"n_{c}"].iloc[i] > 0
        saving.append(t.money(sums["actual"].iloc[i] - sums[f"x_{c}"].iloc[i]) if compared else None)
    out["cheapest"] = pd.Series(cheapest, index=out.index, dtype=object)
    out["cheapest_cost"] = pd.Series(cheapest_cost, index=out.index, dtype=object)
    out["saving_vs_actual"] = pd.Series(saving, index=out.index, dtype=object)
    return out[columns]


def whatif_figure(df: pd.DataFrame, *, currency: str | None = None) -> go.Figure:
    """A bar per row of :func:`carrier_whatif`: each carrier's cost beside the actual and the reference cost.

    Bars of carriers that cannot price every call are hatched and labelled with the calls they miss.
    Decimals become floats here and only here: a chart draws, it does not account.
    """
    unit = f" ({currency})" if currency else ""
    colours = {"carrier": "#3b6ea5", "actual": "#2e8b57", "reference": "#9aa5b1"}
    labels = [str(c) for c in df["carrier"]] if len(df) else []
    fig = go.Figure()
    fig.add_bar(
        x=labels, y=[float(v) for v in df["cost"]] if len(df) else [],
        marker_color=[colours.get(k, "#3b6ea5") for k in df["kind"]] if len(df) else [],
        marker_pattern_shape=["/" if u else "" for u in df["unrated_calls"]] if len(df) else [],
        text=[f"{u:,} not priced" if u else "" for u in df["unrated_calls"]] if len(df) else [],
        textposition="outside", name="cost")
    fig.update_layout(title=f"Outbound traffic under each carrier's tariff{unit}", yaxis_title=f"cost{unit}",
                      xaxis_title="tariff", showlegend=False, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig
