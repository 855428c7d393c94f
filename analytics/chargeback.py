"""Chargeback: turn a period's usage into what each billing line is charged, in a fixed, documented order.

Why a fixed order: markup on a trunk share gives a different figure than a trunk share on a markup;
finance must be able to recompute any line by hand.  For each *cell* (billing line × call type):

1. ``usage`` — the sum of the rated calls' actual costs (each already rounded per call, SPEC §5);
2. ``trunk_share`` — each fixed monthly trunk charge spread over the cells whose calls used the trunk,
   pro rata by talk seconds (largest remainder; a charge with no calls lands on an unassigned line);
3. ``markup`` — ``markup_pct`` of (usage + trunk share), half-up to the minor unit;
4. ``surcharge_calls`` — ``surcharge_per_call`` × answered rated calls, half-up;
5. ``surcharge_minutes`` — ``surcharge_per_minute`` × rated talk seconds / 60, half-up;

then, per billing line:

6. ``fixed_extension`` — the extension's own ``[[extension]]`` charges plus its department's
   ``fixed_per_extension`` seat fee, once per extension and month, on the extension's latest line
   that has a department (an extension that moved mid-month pays where it sits at the end);
7. ``fixed_department`` — each department's ``fixed_monthly`` spread over the lines of that department
   *and its sub-departments*, pro rata by talk seconds (largest remainder);

``total`` = 1 + … + 7.  Rates (markup, surcharges, seat fee, client) are inherited down the
department hierarchy; calls without a directory entry (the unassigned line) get no rule at all —
they are for finance to chase, not to bill.  Unrated calls carry no money until re-rated, but their
talk time still takes its share of a trunk's rental (they used the trunk).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics.allocation import half_up_product, largest_remainder
from analytics.chargeback_rules import PCT_SCALE, RATE_SCALE, ChargebackRules, ResolvedRule

__all__ = ["ChargebackResult", "apply_chargeback"]

_NO_RULE = ResolvedRule()
_CELL_MONEY = ("usage", "trunk_share", "markup", "surcharge_calls", "surcharge_minutes")
_COUNTS = ("calls", "answered", "seconds", "unrated_calls", "rated_answered", "rated_seconds")


@dataclass(frozen=True)
class ChargebackResult:
    cells: pd.DataFrame
    lines: pd.DataFrame
    trunk_charges: pd.DataFrame


class _Lines:
    """The billing lines, plus lines created for charges that no call carries (never dropped)."""

    def __init__(self, meta: pd.DataFrame, unassigned: str, no_extension: str) -> None:
        self.meta = meta.set_index("line_id")
        self.extra: list[dict] = []
        self.unassigned, self.no_extension = unassigned, no_extension

    def add(self, site: str, extension: str, user: str, department: str, cost_center: str) -> int:
        line_id = int(len(self.meta) + len(self.extra))
        self.extra.append({"line_id": line_id, "site": site, "extension": extension, "user": user,
                           "department": department, "cost_center": cost_center, "last_start": pd.NaT})
        return line_id

    def frame(self) -> pd.DataFrame:
        if not self.extra:
            return self.meta
        extra = pd.DataFrame(self.extra).set_index("line_id")
        dtype = self.meta["last_start"].dtype
        extra["last_start"] = pd.Series(pd.NaT, index=extra.index,
                                        dtype=dtype if isinstance(dtype, pd.DatetimeTZDtype) else "datetime64[s, UTC]")
        return pd.concat([self.meta, extra])


def _resolver(rules: ChargebackRules | None, unassigned: str):
    cache: dict[str, ResolvedRule] = {}

    def resolve(department: str) -> ResolvedRule:
        if department not in cache:
            cache[department] = _NO_RULE if rules is None or department == unassigned else rules.resolve(department)
        return cache[department]
    return resolve


def _trunk_shares(calls: pd.DataFrame, cells: pd.DataFrame, rules: ChargebackRules | None,
                  lines: _Lines) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spread each trunk charge over the cells whose calls used the trunk; add cells for unused charges.

    *calls* are groups of calls of one cell, pbx and trunk (``analytics.billing.GROUP_KEYS``): ``calls``
    counts them, ``duration_s`` is their talk seconds — the charge's weights are sums, so a group is as good
    as its calls.
    """
    cells = cells.assign(trunk_share=np.int64(0))
    charges = rules.trunk_charges if rules else ()
    summary = []
    members = []
    # Match each *distinct* trunk name once, then broadcast by its code: vectorised over the calls.
    trunk_codes, trunk_names = pd.factorize(calls["trunk"], use_na_sentinel=True)
    for i, charge in enumerate(charges):
        hits = np.array([fnmatch.fnmatchcase(str(name), charge.match) for name in trunk_names] + [False])
        mask = pd.Series(hits[trunk_codes], index=calls.index)  # code -1 (no trunk) reads the final False
        if charge.pbx:
            mask &= calls["pbx"].eq(charge.pbx)
        used = calls.loc[mask].groupby("cell_id")["duration_s"].sum()
        summary.append({"name": charge.name, "match": charge.match, "pbx": charge.pbx or "", "amount": charge.amount,
                        "calls": int(calls.loc[mask, "calls"].sum()), "seconds": int(used.sum()), "allocated_to": "calls"})
        if used.empty:
            line_id = lines.add("", lines.no_extension, f"trunk charge '{charge.name}': no calls", lines.unassigned,
                                lines.unassigned)
            cells = pd.concat([cells, pd.DataFrame([{"line_id": line_id, "call_type": "(no calls)"}])],
                              ignore_index=True)
            used = pd.Series([0], index=[len(cells) - 1])
            summary[-1]["allocated_to"] = "unassigned line (no calls used the trunk)"
        members.append(pd.DataFrame({"pool": i, "cell": used.index.to_numpy(), "weight": used.to_numpy()}))
    cells = cells.fillna({c: 0 for c in (*_COUNTS, "usage", "trunk_share")}).astype(
        {c: np.int64 for c in (*_COUNTS, "usage", "trunk_share")})
    if members:
        pairs = pd.concat(members, ignore_index=True)
        amounts = np.array([c.amount for c in charges], dtype=np.int64)
        pairs["share"] = largest_remainder(amounts, pairs["pool"].to_numpy(), pairs["weight"].to_numpy())
        cells["trunk_share"] = pairs.groupby("cell")["share"].sum().reindex(cells.index, fill_value=0).astype(np.int64)
    columns = ["name", "match", "pbx", "amount", "calls", "seconds", "allocated_to"]
    return cells, pd.DataFrame(summary, columns=columns)


def _rates(cells: pd.DataFrame, departments: pd.Series, resolve, scale: int) -> pd.DataFrame:
    """Steps 3–5 per cell, vectorised: the rule of each cell's department as integer arrays."""
    rule = [resolve(d) for d in departments.to_numpy()]  # one lookup per cell (cached per department)
    pct = np.array([r.markup_pct for r in rule], dtype=np.int64)
    per_call = np.array([r.surcharge_per_call for r in rule], dtype=np.int64)
    per_minute = np.array([r.surcharge_per_minute for r in rule], dtype=np.int64)
    to_minor = 10 ** (RATE_SCALE - scale)
    cells = cells.copy()
    cells["markup"] = half_up_product((cells["usage"] + cells["trunk_share"]).to_numpy(), pct, 100 * 10**PCT_SCALE)
    cells["surcharge_calls"] = half_up_product(cells["rated_answered"].to_numpy(), per_call, to_minor)
    cells["surcharge_minutes"] = half_up_product(cells["rated_seconds"].to_numpy(), per_minute, 60 * to_minor)
    cells["total"] = cells[list(_CELL_MONEY)].sum(axis=1).astype(np.int64)
    return cells


def _latest_line(lines: pd.DataFrame, no_extension: str, unassigned: str) -> pd.DataFrame:
    """Each (site, extension)'s most recent line with a department (else its most recent line at all):
    where its monthly fees go if it moved mid-month."""
    real = lines[lines["extension"] != no_extension].reset_index()
    real["_assigned"] = real["department"] != unassigned
    real = real.sort_values(["_assigned", "last_start", "line_id"], na_position="first")
    return real.drop_duplicates(["site", "extension"], keep="last").set_index(["site", "extension"])


def _directory_row(directory: pd.DataFrame | None, extension: str, site: str | None, day: date) -> dict | None:
    if directory is None or directory.empty:
        return None
    at = pd.Timestamp(day)
    rows = directory[(directory["extension"] == extension) & (directory["valid_from"] <= at)
                     & (at <= directory["valid_to"])]
    if site:
        rows = rows[rows["site"] == site]
    return None if rows.empty else rows.sort_values("valid_from").iloc[-1].to_dict()


def _fixed_extension(lines: _Lines, resolve, rules: ChargebackRules | None, period_end: date,
                     directory: pd.DataFrame | None) -> pd.Series:
    """Step 6: seat fees and explicit extension charges, once per extension, on its latest line."""
    fees: dict[int, int] = {}
    frame = lines.frame()
    latest = _latest_line(frame, lines.no_extension, lines.unassigned)
    seat = np.array([resolve(d).fixed_per_extension for d in latest["department"].to_numpy()], dtype=np.int64)
    for line_id, fee in zip(latest["line_id"].to_numpy(), seat):
        if fee:
            fees[int(line_id)] = fees.get(int(line_id), 0) + int(fee)
    for charge in rules.extensions if rules else ():
        candidates = latest.xs(charge.extension, level="extension", drop_level=False) \
            if charge.extension in latest.index.get_level_values("extension") else latest.iloc[0:0]
        if charge.site:
            candidates = candidates[candidates.index.get_level_values("site") == charge.site]
        if len(candidates):
            line_id = int(candidates.sort_values(["_assigned", "last_start", "line_id"]).iloc[-1]["line_id"])
        else:  # no calls this month: the fee is still due; attribute it by the directory at period end
            row = _directory_row(directory, charge.extension, charge.site, period_end)
            line_id = lines.add(charge.site or (row or {}).get("site") or "", charge.extension,
                                (row or {}).get("user") or "", (row or {}).get("department") or lines.unassigned,
                                (row or {}).get("cost_center") or lines.unassigned)
        fees[line_id] = fees.get(line_id, 0) + charge.amount
    return pd.Series(fees, dtype=np.int64)


def _fixed_department(lines: _Lines, rules: ChargebackRules | None) -> pd.Series:
    """Step 7: each department's fixed fee spread over its subtree's lines by talk seconds."""
    if rules is None:
        return pd.Series(dtype=np.int64)
    fixed = [(name, r.fixed_monthly) for name, r in rules.departments.items() if r.fixed_monthly]
    if not fixed:
        return pd.Series(dtype=np.int64)
    names = [n for n, _ in fixed]
    frame = lines.frame()
    chains = {d: set(rules.chain(d)) for d in frame["department"].unique() if d != lines.unassigned}
    pairs = []
    for pool, name in enumerate(names):
        depts = [d for d, chain in chains.items() if name in chain]
        members = frame.index[frame["department"].isin(depts)]
        if members.empty:
            members = pd.Index([lines.add("", lines.no_extension, "department fixed charge", name, lines.unassigned)])
        pairs.append(pd.DataFrame({"pool": pool, "line_id": members.to_numpy()}))
    out = pd.concat(pairs, ignore_index=True)
    seconds = lines.frame()["seconds"]  # lines added for fees have no calls: NaN → weight 0
    weights = seconds.reindex(out["line_id"]).fillna(0).to_numpy(dtype=np.int64)
    out["share"] = largest_remainder(np.array([a for _, a in fixed], dtype=np.int64), out["pool"].to_numpy(), weights)
    return out.groupby("line_id")["share"].sum()


def apply_chargeback(calls: pd.DataFrame, cells: pd.DataFrame, line_meta: pd.DataFrame,
                     rules: ChargebackRules | None, *, scale: int, period_end: date,
                     directory: pd.DataFrame | None, unassigned: str, no_extension: str) -> ChargebackResult:
    """Apply steps 1–7 (module docstring) to the cells and lines of one period."""
    if scale > RATE_SCALE:
        raise ValueError(f"currencies with more than {RATE_SCALE} decimals are not supported")
    lines = _Lines(line_meta, unassigned, no_extension)
    resolve = _resolver(rules, unassigned)
    cells, trunk_summary = _trunk_shares(calls, cells, rules, lines)
    departments = lines.frame()["department"].reindex(cells["line_id"])
    cells = _rates(cells, departments.reset_index(drop=True).set_axis(cells.index), resolve, scale)

    sums = cells.groupby("line_id")[[*_COUNTS, *_CELL_MONEY, "total"]].sum()
    lines.meta = lines.meta.join(sums.reindex(lines.meta.index))
    fixed_ext = _fixed_extension(lines, resolve, rules, period_end, directory)
    fixed_dept = _fixed_department(lines, rules)
    out = lines.frame()
    for col in (*_COUNTS, *_CELL_MONEY, "total"):
        out[col] = sums[col].reindex(out.index).fillna(0).astype(np.int64)
    out["fixed_extension"] = fixed_ext.reindex(out.index).fillna(0).astype(np.int64)
    out["fixed_department"] = fixed_dept.reindex(out.index).fillna(0).astype(np.int64)
    out["total"] = out["total"] + out["fixed_extension"] + out["fixed_department"]
    out["client"] = [resolve(d).client or "" for d in out["department"].to_numpy()]
    out["parent"] = [(rules.parent_of(d) or "") if rules and d != unassigned else "" for d in out["department"]]
    order = ["line_id", "site", "extension", "user", "department", "cost_center", "client", "parent", *_COUNTS,
             *_CELL_MONEY, "fixed_extension", "fixed_department", "total", "last_start"]
    out = out.reset_index()[order].sort_values(["department", "site", "extension", "line_id"], kind="stable")
    return ChargebackResult(cells=cells, lines=out.reset_index(drop=True), trunk_charges=trunk_summary)
