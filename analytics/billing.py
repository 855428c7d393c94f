"""The billing split of a period: every extension's calls and totals by call type, rolled up to
department and cost centre, with chargeback rules applied — and every part adds up to the whole.

Why this shape: a call centre bills each extension, department or outsourced client for its calls.
The unit that is billed is a *billing line* — one (site, extension, user, department, cost centre)
as attributed by the directory in force when each call started, so an agent who moved from Sales to
Marketing on the 15th has two lines, each with the calls of its own half of the month.  Calls with no
directory entry go to an explicit ``(unassigned)`` line, never dropped.  Each line is broken down by
call type into *cells*; money is rounded once, in a cell, and every total above a cell is a plain
integer sum, so extensions, departments, cost centres and the grand total agree to the cent.  Where
money is spread pro rata (trunk rental, a department's fixed fee) the split is largest-remainder, so
the shares add up to the amount exactly (:mod:`analytics.allocation`).  Rules and their order:
:mod:`analytics.chargeback`, ``docs/billing.md``.

Money is int64 *minor units* inside (cents: exact, vectorised); :meth:`BillingSplit.decimal` gives
any table with ``Decimal`` money for display.  All work is DuckDB/pandas group-bys: no per-call loop.

    >>> from analytics.billing import billing_split
    >>> split = billing_split("callcost-demo/lake", "2026-10")           # doctest: +SKIP
    >>> split.decimal(split.departments())                              # doctest: +SKIP
    >>> split.total == split.lines.total.sum()                          # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics import duck
from analytics.calls import calls_relation, month_range
from analytics.chargeback import apply_chargeback
from analytics.chargeback_rules import ChargebackRules
from analytics.rating.directory import attribute
from warehouse.money import decimal128_to_minor, scaled_to_decimal

__all__ = ["CELL_COUNTS", "GROUP_KEYS", "LINE_KEYS", "MONEY_COLUMNS", "NO_EXTENSION", "UNASSIGNED",
           "BillingSplit", "billing_split", "billing_summary", "load_period_calls", "load_period_groups",
           "split_calls", "split_groups"]

#: What identifies a billing line (the directory's attribution of a call).
LINE_KEYS = ("site", "extension", "user", "department", "cost_center")
#: Label of the line that holds calls without a directory entry (no department / cost centre).
UNASSIGNED = "(unassigned)"
#: Label for calls that name no extension at all (e.g. inbound calls to a DID nobody answered).
NO_EXTENSION = "(none)"
#: Counters of a cell/line; ``seconds`` are talk seconds of every call, rated or not.
CELL_COUNTS = ("calls", "answered", "seconds", "unrated_calls", "rated_answered", "rated_seconds")
#: Money columns (int64 minor units) in the order they are applied; ``total`` is their sum.
MONEY_COLUMNS = ("usage", "trunk_share", "markup", "surcharge_calls", "surcharge_minutes", "fixed_extension",
                 "fixed_department", "total")

_CALL_COLUMNS = ('call_id', 'pbx', 'site', 'start_utc', 'extension', '"user"', 'department', 'cost_center',
                 'call_type', 'category', 'coalesce(connected_number_e164, called_number) AS number', 'trunk',
                 'duration_s', 'rating_status', 'unrated_reason', 'actual_cost', 'currency')


def load_period_calls(lake: str | os.PathLike[str], period: str) -> tuple[pd.DataFrame, int, str | None]:
    """The period's calls (UTC date partitions, like every monthly report) with the columns billing needs.

    Returns ``(calls, scale, currency)``: ``cost`` is the actual cost in int64 minor units (0 where
    unrated — see ``rated``), ``actual_cost`` the exact ``Decimal`` for call lists.
    """
    start, end = month_range(period)
    relation = calls_relation(lake, start, end)
    if relation is None:
        frame = pd.DataFrame({c.split(" AS ")[-1].strip('"'): pd.Series(dtype=object) for c in _CALL_COLUMNS})
        frame["start_utc"] = pd.Series(dtype="datetime64[s, UTC]")
        frame["duration_s"] = pd.Series(dtype="int64")
        frame["cost"] = pd.Series(dtype="int64")
        return frame, 2, None
    with duck.connect() as con:
        table = con.sql(f"SELECT {', '.join(_CALL_COLUMNS)} FROM {relation} ORDER BY start_utc, call_id").to_arrow_table()
    money = table.column("actual_cost")
    scale = money.type.scale if pa.types.is_decimal(money.type) else 2
    minor, _ = decimal128_to_minor(money.cast(pa.decimal128(18, scale)))
    currencies = [c for c in table.column("currency").unique().to_pylist() if c]
    frame = table.to_pandas()
    frame["cost"] = minor
    return frame, scale, (currencies[0] if currencies else None)


@dataclass(frozen=True)
class BillingSplit:
    """One period's split.  Money columns are int64 minor units; :meth:`decimal` converts for display.

    * ``calls`` — every call of the period with its ``line_id`` (the call list of a statement); ``None``
      from :func:`billing_summary`, which sums calls in DuckDB and never loads them;
    * ``cells`` — one row per (line, call type): counts and the money steps of ``MONEY_COLUMNS``;
    * ``lines`` — one row per billing line: the cells' sums plus the line's fixed charges;
    * ``trunk_charges`` — each fixed trunk charge, the talk seconds it was spread over, and where.
    """

    period: str
    start: date
    end: date
    currency: str
    scale: int
    calls: pd.DataFrame | None = field(repr=False)
    cells: pd.DataFrame = field(repr=False)
    lines: pd.DataFrame = field(repr=False)
    trunk_charges: pd.DataFrame = field(repr=False)
    rules: ChargebackRules | None = field(default=None, repr=False)

    @property
    def total(self) -> int:
        """The whole: the grand total in minor units (the sum of every line)."""
        return int(self.lines["total"].sum())

    def to_decimal(self, minor: int) -> Decimal:
        return scaled_to_decimal(int(minor), self.scale)

    def decimal(self, frame: pd.DataFrame) -> pd.DataFrame:
        """*frame* with its money columns as exact ``Decimal`` (for notebooks, reports, JSON)."""
        out = frame.copy()
        for col in (*MONEY_COLUMNS, "amount"):  # ``amount``: the trunk charges' table
            if col in out:
                out[col] = [scaled_to_decimal(int(v), self.scale) for v in out[col].to_numpy()]
        return out

    def rollup(self, by: str | list[str]) -> pd.DataFrame:
        """Line totals summed by *by* (columns of ``lines``): exact integer sums, so parts add up to the whole."""
        keys = [by] if isinstance(by, str) else list(by)
        cols = [*CELL_COUNTS, *MONEY_COLUMNS]
        out = self.lines.groupby(keys, sort=True, dropna=False)[cols].sum()
        out.insert(0, "extensions", self.lines[self.lines.extension != NO_EXTENSION]
                   .groupby(keys, dropna=False)["extension"].nunique().reindex(out.index, fill_value=0))
        return out

    def departments(self) -> pd.DataFrame:
        """Per department (its client and parent as columns), ``(unassigned)`` included."""
        out = self.rollup("department")
        meta = self.lines.drop_duplicates("department").set_index("department")[["client", "parent"]]
        return meta.reindex(out.index).join(out)

    def cost_centers(self) -> pd.DataFrame:
        """Per cost centre, ``(unassigned)`` included."""
        return self.rollup("cost_center")

    def by_call_type(self) -> pd.DataFrame:
        """Cells summed by call type over every line."""
        return self.cells.groupby("call_type", sort=True)[[*CELL_COUNTS, *MONEY_COLUMNS[:5], "total"]].sum()

    def minutes(self, seconds: int) -> Decimal:
        """Talk seconds as minutes to 0.01 (display only; charges use the exact seconds)."""
        return (Decimal(int(seconds)) / 60).quantize(Decimal("0.01"))


def _line_labels(calls: pd.DataFrame) -> pd.DataFrame:
    """Null or empty attribution becomes an explicit label, so group-bys never drop a call."""
    out = calls
    for col, label in _LABELS:
        values = out[col].fillna(label)
        out[col] = values.mask(values == "", label)
    return out


#: The label of a null or empty attribution column (the same in pandas and in SQL).
_LABELS = (("department", UNASSIGNED), ("cost_center", UNASSIGNED), ("extension", NO_EXTENSION),
           ("user", ""), ("site", ""), ("call_type", "(unknown)"))
#: What a *group* of calls is keyed by: its billing line, call type, and the trunk it used (trunk charges).
GROUP_KEYS = (*LINE_KEYS, "call_type", "pbx", "trunk")


def _call_groups(calls: pd.DataFrame) -> pd.DataFrame:
    """Prepared calls summed per :data:`GROUP_KEYS` — everything the chargeback needs of the calls.

    :func:`load_period_groups` computes the same frame in DuckDB without loading the calls.
    """
    rated = calls["rating_status"].eq("rated").to_numpy()
    answered = (calls["duration_s"] > 0).to_numpy()
    work = calls[list(GROUP_KEYS)].assign(
        calls=np.int64(1), answered=answered.astype(np.int64), seconds=calls["duration_s"],
        unrated_calls=(~rated).astype(np.int64), rated_answered=(rated & answered).astype(np.int64),
        rated_seconds=np.where(rated, calls["duration_s"], 0), usage=calls["cost"], last_start=calls["start_utc"])
    sums = {c: (c, "sum") for c in (*CELL_COUNTS, "usage")}
    return work.groupby(list(GROUP_KEYS), sort=True, dropna=False).agg(
        **sums, last_start=("last_start", "max")).reset_index()


def split_calls(calls: pd.DataFrame, scale: int, *, period: str, currency: str,
                rules: ChargebackRules | None = None, directory: pd.DataFrame | None = None) -> BillingSplit:
    """The billing split of *calls* (a frame from :func:`load_period_calls`).

    With *directory* (``analytics.rating.directory.load_directory``) calls are attributed afresh with the
    row in force when each started — e.g. after a directory correction not yet re-rated; without it,
    the attribution stored in the lake at rating time is used (also the directory in force then).
    """
    calls = calls.copy()
    if directory is not None:
        calls = attribute(calls, directory)
    calls = _line_labels(calls)
    calls["start_utc"] = pd.to_datetime(calls["start_utc"], utc=True)
    calls["duration_s"] = calls["duration_s"].fillna(0).astype(np.int64)
    rated = calls["rating_status"].eq("rated").to_numpy()
    calls["cost"] = np.where(rated, calls["cost"].fillna(0).astype(np.int64), 0)
    split = split_groups(_call_groups(calls), scale, period=period, currency=currency, rules=rules,
                         directory=directory)
    calls["line_id"] = calls.groupby(list(LINE_KEYS), sort=True).ngroup().astype(np.int64)  # = the groups' ids
    return replace(split, calls=calls)


def split_groups(groups: pd.DataFrame, scale: int, *, period: str, currency: str,
                 rules: ChargebackRules | None = None, directory: pd.DataFrame | None = None) -> BillingSplit:
    """The billing split of call *groups* (:func:`load_period_groups`); ``calls`` of the result is ``None``.

    Why groups: every rule needs only sums over calls of one line, call type and trunk, so a month of
    10M calls is a few thousand rows here — and :func:`split_calls` goes through this same function,
    so both give the same split to the cent.
    """
    start, end = month_range(period)
    groups = groups.reset_index(drop=True)
    groups["line_id"] = groups.groupby(list(LINE_KEYS), sort=True).ngroup().astype(np.int64)
    cells = groups.groupby(["line_id", "call_type"], sort=True)[list(CELL_COUNTS) + ["usage"]].sum().reset_index()
    cells = cells.astype({c: np.int64 for c in (*CELL_COUNTS, "usage")})
    line_meta = groups.groupby("line_id", sort=True).agg(
        **{k: (k, "first") for k in LINE_KEYS}, last_start=("last_start", "max"))
    groups["cell_id"] = cells.reset_index().set_index(["line_id", "call_type"])["index"].reindex(
        pd.MultiIndex.from_frame(groups[["line_id", "call_type"]])).to_numpy()
    groups["duration_s"] = groups["seconds"]  # the trunk shares' weight: talk seconds on the trunk

    result = apply_chargeback(groups, cells, line_meta.reset_index(), rules, scale=scale, period_end=end,
                              directory=directory, unassigned=UNASSIGNED, no_extension=NO_EXTENSION)
    return BillingSplit(period=period, start=start, end=end, currency=currency, scale=scale,
                        calls=None, cells=result.cells, lines=result.lines,
                        trunk_charges=result.trunk_charges, rules=rules)


def _label_sql(column: str, label: str) -> str:
    quoted = f'"{column}"'
    return f"coalesce(nullif({quoted}, ''), '{label}') AS {quoted}"


def load_period_groups(lake: str | os.PathLike[str], period: str) -> tuple[pd.DataFrame, int, str | None]:
    """The period's calls summed per :data:`GROUP_KEYS` by DuckDB: ``(groups, scale, currency)``.

    The same frame as :func:`load_period_calls` then the grouping in :func:`split_calls` (labels,
    counts, talk seconds, usage as the exact integer sum of minor units, the latest start), without
    bringing one row per call into Python.
    """
    start, end = month_range(period)
    relation = calls_relation(lake, start, end)
    counts = {c: pd.Series(dtype="int64") for c in (*CELL_COUNTS, "usage")}
    if relation is None:
        frame = pd.DataFrame({**{k: pd.Series(dtype=object) for k in GROUP_KEYS}, **counts})
        frame["last_start"] = pd.Series(dtype="datetime64[s, UTC]")
        return frame, 2, None
    with duck.connect() as con:
        money = con.sql(f"SELECT actual_cost FROM {relation} LIMIT 0").to_arrow_table().schema.field(0).type
        scale = money.scale if pa.types.is_decimal(money) else 2
        labels = dict(_LABELS)
        raw = ", ".join(f'"{k}"' for k in GROUP_KEYS)
        keys = ", ".join(_label_sql(k, labels[k]) if k in labels else k for k in GROUP_KEYS)
        # Group by the raw columns and two flags first (one cheap hash aggregate over the calls), then
        # label and regroup the few thousand rows: labelling every call first costs twice the scan.
        sql = f"""
            WITH raw AS (
                SELECT {raw}, rating_status = 'rated' AS rated, coalesce(duration_s, 0) > 0 AS answered,
                       count(*) AS n, sum(coalesce(duration_s, 0)) AS s,
                       sum(CAST(actual_cost AS DECIMAL(18, {scale}))) AS money, max(start_utc) AS last_start
                FROM {relation} GROUP BY ALL)
            SELECT {keys}, sum(n) AS calls, coalesce(sum(n) FILTER (answered), 0) AS answered,
                   sum(s) AS seconds, coalesce(sum(n) FILTER (rated IS NOT TRUE), 0) AS unrated_calls,
                   coalesce(sum(n) FILTER (rated AND answered), 0) AS rated_answered,
                   coalesce(sum(s) FILTER (rated), 0) AS rated_seconds,
                   CAST(coalesce(sum(money) FILTER (rated), 0) * {10 ** scale} AS HUGEINT) AS usage,
                   max(last_start) AS last_start
            FROM raw GROUP BY {", ".join(str(i + 1) for i in range(len(GROUP_KEYS)))}"""
        table = con.sql(sql).to_arrow_table()
        currency = con.sql(f"SELECT currency FROM {relation} WHERE currency IS NOT NULL AND currency <> '' "
                           "ORDER BY start_utc, call_id LIMIT 1").fetchall()
    frame = table.to_pandas()
    for col in (*CELL_COUNTS, "usage"):
        frame[col] = frame[col].astype(np.int64)
    return frame, scale, (currency[0][0] if currency else None)


def billing_split(lake: str | os.PathLike[str], period: str, rules: ChargebackRules | None = None, *,
                  directory: pd.DataFrame | None = None, currency: str | None = None) -> BillingSplit:
    """Load *period* (``YYYY-MM``) from *lake* and split it (see :func:`split_calls`).

    >>> split = billing_split(ent.storage.lake, "2026-10", rules_for_enterprise(ent))   # doctest: +SKIP
    >>> split.decimal(split.cost_centers())[["calls", "usage", "total"]]               # doctest: +SKIP
    """
    calls, scale, lake_currency = load_period_calls(lake, period)
    return split_calls(calls, scale, period=period, currency=currency or lake_currency or "", rules=rules,
                       directory=directory)


def billing_summary(lake: str | os.PathLike[str], period: str, rules: ChargebackRules | None = None, *,
                    currency: str | None = None) -> BillingSplit:
    """:func:`billing_split` without the call list (``calls`` is ``None``): cells, lines and trunk charges
    from calls summed in DuckDB (:func:`load_period_groups`) — what the dashboard shows, in well under a
    second at 10M calls where loading the calls takes a minute.  The attribution is the lake's (no
    *directory*: re-attributing needs each call's start, so use :func:`billing_split` for that).
    """
    groups, scale, lake_currency = load_period_groups(lake, period)
    return split_groups(groups, scale, period=period, currency=currency or lake_currency or "", rules=rules)
