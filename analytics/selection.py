"""A lazy, filtered slice of the lake — "October, NYC, acme, outbound" — that every question starts from.

Why a selection object and not a DataFrame: a month of a large enterprise is millions of calls.
:func:`select` only decides *which* partition files and *which* rows (a DuckDB relation as SQL
text); nothing is read until a question is asked (:mod:`analytics.breakdowns`,
:mod:`analytics.timeseries`, :mod:`analytics.export`), and each question reads only the columns it
needs.  ``sel.frame()`` gives the calls as pandas when a notebook really wants rows.

Filters are checked against what exists (the config's sites and carriers, the known call types, the
values present in the period), so a typo (``site="NCY"``) is a :class:`FilterValueError` naming the
filter and the values that would match, never a silently empty result.

    >>> from analytics.selection import select
    >>> sel = select(ent, "2026-10", site="NYC", call_type=["outbound", "onnet"])   # doctest: +SKIP
    >>> sel.count()                                                                 # doctest: +SKIP
    5321
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from analytics import duck
from analytics.chain_view import chain_legs, chains
from analytics.calls import (
    FILTER_COLUMNS,
    DateLike,
    Filter,
    PeriodError,
    as_date,
    calls_relation,
    month_range,
    partition_files,
)
from analytics.messages import Msg, N_
from analytics.rating.classify import CALL_TYPES  # every call type is a valid filter, even when absent
from warehouse.config import Enterprise
from warehouse.errors import CallcostError
from warehouse.schema import calls_schema

__all__ = ["CALL_TYPES", "CallSelection", "FilterValueError", "select", "sql_literal"]

_DEFAULT_SCALE = 2


class FilterValueError(CallcostError, ValueError):
    """A filter names a value that neither the config nor the period's calls know (``site='NCY'``)."""


def sql_literal(value: str) -> str:
    """A string as a SQL literal (quotes doubled): the selection composes into sub-queries, so no ``?``.

    Example::

        from analytics.selection import sql_literal
        assert sql_literal("O'Brien") == "'O''Brien'"
    """
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class CallSelection:
    """Calls of *lake* from *start* to *end* (UTC partition dates, inclusive) matching *filters*.

    Build one with :func:`select`.  ``timezones`` maps a site to its IANA zone (from the config), for
    questions asked in the site's local time; ``scale`` is the money scale (the currency's minor unit).
    """

    lake: Path
    start: date | None
    end: date | None
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    timezones: Mapping[str, str] = field(default_factory=dict)
    currency: str | None = None
    scale: int = _DEFAULT_SCALE

    # --- what the selection is -------------------------------------------------------------------

    def describe(self) -> str:
        """``2026-10-01 … 2026-10-31, site NYC, call_type outbound|onnet`` — for titles and error messages."""
        span = f"{self.start or 'first call'} … {self.end or 'last call'}"
        parts = [f"{k} {'|'.join(v)}" for k, v in self.filters.items()]
        return ", ".join([span, *parts])

    def __repr__(self) -> str:
        return f"CallSelection({self.describe()}; lake={self.lake})"

    def where(self) -> str:
        """The filters as a SQL ``WHERE`` clause (empty when there are none)."""
        terms = [f'"{col}" IN ({", ".join(sql_literal(v) for v in values)})' if values else "FALSE"
                 for col, values in self.filters.items()]
        return (" WHERE " + " AND ".join(terms)) if terms else ""

    def local_time_sql(self, column: str = "start_utc") -> str:
        """SQL for *column* as the wall-clock time at the call's site (sites not in the config: UTC)."""
        if not self.timezones:
            return f"timezone('UTC', {column})"
        cases = " ".join(f"WHEN {sql_literal(s)} THEN {sql_literal(tz)}" for s, tz in sorted(self.timezones.items()))
        return f"timezone(CASE site {cases} ELSE 'UTC' END, {column})"

    # --- reading ---------------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        """True when no partition of the period holds a data file (an empty lake, a month without calls):
        a question can then answer with its typed empty result without asking DuckDB."""
        return not partition_files(self.lake, self.start, self.end)

    @contextmanager
    def open(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
        """A DuckDB connection and the selection as a table expression to query, e.g.
        ``con.sql(f"SELECT count(*) FROM {calls}")``.  An empty lake or period is an empty table of the
        lake's columns, so every question gives a typed empty answer rather than an error."""
        with duck.connect() as con:
            _no_progress_bar(con)
            relation = calls_relation(self.lake, self.start, self.end)
            if relation is None:
                empty = calls_schema(self.scale).append(pa.field("date", pa.date32())).empty_table()
                con.register("_no_calls", empty)
                relation = "_no_calls"
            yield con, f"(SELECT * FROM {relation}{self.where()})"

    def query(self, sql: str) -> pa.Table:
        """Run *sql* with ``{calls}`` standing for the selection; the answer as an Arrow table."""
        with self.open() as (con, calls):
            return con.sql(sql.format(calls=calls)).to_arrow_table()

    def count(self) -> int:
        """How many calls the selection holds (one aggregate, no rows read into Python)."""
        return int(self.query("SELECT count(*) AS n FROM {calls}").column("n")[0].as_py())

    def frame(self, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """The calls as pandas (money as ``Decimal``), ordered by ``start_utc, call_id``.

        Reads everything selected: for a big period prefer the aggregate functions, or name *columns*.
        """
        cols = "*" if columns is None else ", ".join(f'"{c}"' for c in columns)
        return self.query(f"SELECT {cols} FROM {{calls}} ORDER BY start_utc, call_id").to_pandas()

    def chains(self) -> pa.Table:
        """One row per conversation (call chain): legs, roles, extensions, carrier calls and the summed
        shares — see :mod:`analytics.chain_view`."""
        return chains(self)

    def chain_legs(self, chain_id: str) -> pa.Table:
        """The legs of one conversation, in time order, with their roles and shares."""
        return chain_legs(self, chain_id)

    def _repr_html_(self) -> str:  # a notebook shows what was selected, not a dataclass dump
        return f"<b>Calls</b> {self.describe()} <small>({self.lake})</small>"


def _no_progress_bar(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB draws its own progress bar on stdout for a long query — inside a CLI's output or an
    export's stdout.  Inside Jupyter without ipywidgets DuckDB refuses to touch the setting at all
    (and draws nothing there), which is fine: that refusal is ignored."""
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass


def _period(period: str | None, start: DateLike, end: DateLike) -> tuple[date | None, date | None]:
    if period is not None:
        if start is not None or end is not None:
            raise PeriodError(N_("give either a period or start/end dates, not both"))
        text = str(period).strip()
        if len(text) == 10:  # one day, YYYY-MM-DD
            day = as_date(text, "period")
            return day, day
        return month_range(text)
    lo, hi = as_date(start, "start"), as_date(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise PeriodError(Msg("start {start} is after end {end}", start=lo, end=hi))
    return lo, hi


def _known_in_config(ent: Enterprise | None, column: str) -> set[str]:
    if column == "call_type":
        return set(CALL_TYPES)
    if ent is None:
        return set()
    if column == "site":
        return set(ent.sites)
    if column == "carrier":
        return set(ent.carriers)
    return set()


def _check_values(sel: CallSelection, ent: Enterprise | None) -> None:
    """Every filter value must be known to the config or present in the period (one query per filter)."""
    unfiltered = CallSelection(sel.lake, sel.start, sel.end, {}, sel.timezones, sel.currency, sel.scale)
    with unfiltered.open() as (con, calls):
        for column, values in sel.filters.items():
            known = _known_in_config(ent, column)
            missing = [v for v in values if v not in known]
            if not missing:
                continue
            present = {r[0] for r in con.sql(f'SELECT DISTINCT "{column}" FROM {calls} '
                                             f'WHERE "{column}" IS NOT NULL').fetchall()}
            unknown = [v for v in missing if v not in present]
            if unknown:
                choices = sorted(known | present)
                shown = ", ".join(choices[:25]) + (f", … ({len(choices)} in all)" if len(choices) > 25 else "")
                fields = {"column": column, "values": ", ".join(repr(v) for v in unknown),
                          "start": sel.start or "the first call", "end": sel.end or "the last call",
                          "known": shown or "nothing: the period has no calls"}
                raise FilterValueError(
                    Msg("filter {column}: unknown value {values} — no such {column} in the config and no calls "
                        "with it from {start} to {end} (expected one of: {known})", **fields) if len(unknown) == 1
                    else Msg("filter {column}: unknown values {values} — no such {column} in the config and no "
                             "calls with it from {start} to {end} (expected one of: {known})", **fields))


def _scale_of(lake: Path, start: date | None, end: date | None) -> int:
    relation = calls_relation(lake, start, end)
    if relation is None:
        return _DEFAULT_SCALE
    with duck.connect() as con:
        kind = con.execute(f"DESCRIBE SELECT savings FROM {relation}").fetchall()[0][1]
    return int(kind.rstrip(")").split(",")[1]) if kind.startswith("DECIMAL(") else _DEFAULT_SCALE


def select(
    source: Enterprise | str | os.PathLike[str],
    period: str | None = None,
    *,
    start: DateLike = None,
    end: DateLike = None,
    site: Filter = None,
    carrier: Filter = None,
    department: Filter = None,
    extension: Filter = None,
    call_type: Filter = None,
    timezones: Mapping[str, str] | None = None,
    check: bool = True,
) -> CallSelection:
    """Select calls lazily: nothing is read but the file list (and, with *check*, the filter values).

    *source* is the enterprise (``open_enterprise()``; gives site time zones, currency, known sites and
    carriers) or just a lake folder.  *period* is a month ``YYYY-MM`` or a day ``YYYY-MM-DD``; or give
    *start* / *end* dates (inclusive; leave both out for the whole lake).  Each filter is a value or a
    list of values.  Dates are the lake's UTC partition dates, as in :func:`analytics.calls.month_range`.
    *timezones* (site → IANA zone) overrides the config's, or gives them to a bare lake.

    Example (against the demo lake)::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        ent = open_enterprise()
        sel = select(ent, "2026-10", site="NYC", call_type="outbound")
        sel.count(), sel.frame(["call_id", "actual_cost"]).head()
    """
    lo, hi = _period(period, start, end)
    given = {"site": site, "carrier": carrier, "department": department, "extension": extension,
             "call_type": call_type}
    filters: dict[str, tuple[str, ...]] = {}
    for column, value in given.items():
        if value is None:
            continue
        if column not in FILTER_COLUMNS:  # pragma: no cover - FILTER_COLUMNS and the parameters agree
            raise ValueError(f"cannot filter on '{column}'")
        filters[column] = (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)
    if isinstance(source, Enterprise):
        ent: Enterprise | None = source
        lake = Path(source.storage.lake)
        zones = {s.id: s.timezone for s in source.sites.values()} | dict(timezones or {})
        sel = CallSelection(lake, lo, hi, filters, zones, source.currency, source.scale)
    else:
        ent, lake = None, Path(source)
        sel = CallSelection(lake, lo, hi, filters, dict(timezones or {}), None, _scale_of(lake, lo, hi))
    if check and filters:
        _check_values(sel, ent)
    return sel
