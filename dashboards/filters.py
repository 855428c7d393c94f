"""The filters every page shares — period, site, carrier, department, call type — read from the URL query.

Why the URL: a manager sends a link and the recipient sees the same view, so the query string is the
one source of the filters (the filter bar only rewrites it).  A value the lake and the config do not
know (``?site=NCY``, ``?month=2026-13``, ``?colour=red``) is a visible message naming it and what
would be valid — never silently replaced by a default, which would show figures for something else.

:func:`resolve` turns a query into a :class:`View`: the chosen period, the filters, a lazy
:class:`analytics.selection.CallSelection` (nothing read yet), and the messages.  A :class:`Scope`
(the sites and departments a user may see) narrows every selection; the login issue passes one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from analytics.calls import PeriodError, available_months, month_range
from analytics.messages import Msg, N_
from analytics.selection import CALL_TYPES, CallSelection, FilterValueError, select
from warehouse.config import Enterprise

__all__ = ["FILTER_KEYS", "PERIOD_KEYS", "Scope", "View", "previous_period", "query_string", "resolve"]

#: Column filters, in the order the filter bar shows them (``extension`` is set by drilling down).
FILTER_KEYS = ("site", "carrier", "department", "call_type", "extension")
#: The period: a month, or a start and end date (inclusive).
PERIOD_KEYS = ("month", "start", "end")


@dataclass(frozen=True)
class Scope:
    """What one viewer may see: ``None`` = everything; otherwise only these sites / departments."""

    sites: frozenset[str] | None = None
    departments: frozenset[str] | None = None

    def key(self) -> tuple:
        return (tuple(sorted(self.sites)) if self.sites is not None else None,
                tuple(sorted(self.departments)) if self.departments is not None else None)


@dataclass(frozen=True)
class View:
    """One page view: its period, filters, extra page parameters, the selection and the messages."""

    month: str | None = None
    start: date | None = None
    end: date | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    months: tuple[str, ...] = ()
    selection: CallSelection | None = None
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the view can be computed: a period with a selection and no unknown value."""
        return self.selection is not None and not self.errors

    @property
    def period_label(self) -> str:
        if self.month:
            return self.month
        if self.start and self.end:
            return f"{self.start} … {self.end}"
        return "no period"

    def query(self, **changes: str | None) -> dict[str, str]:
        """The view's query (period, filters, extras) with *changes* applied (``None`` removes a key)."""
        q: dict[str, str] = {}
        if self.month:
            q["month"] = self.month
        elif self.start and self.end:
            q["start"], q["end"] = str(self.start), str(self.end)
        q.update(self.filters)
        q.update(self.extra)
        for k, v in changes.items():
            if v is None:
                q.pop(k, None)
            else:
                q[k] = v
        if "month" in changes and changes["month"]:
            q.pop("start", None)
            q.pop("end", None)
        return q

    def href(self, path: str, **changes: str | None) -> str:
        return path + query_string(self.query(**changes))

    def cache_key(self) -> tuple:
        return (self.month, self.start, self.end, tuple(sorted(self.filters.items())),
                tuple(sorted(self.extra.items())))


def query_string(query: Mapping[str, str]) -> str:
    """``?month=2026-10&site=NYC`` (empty when there is nothing), in a stable key order."""
    order = {k: i for i, k in enumerate((*PERIOD_KEYS, *FILTER_KEYS))}
    items = sorted(((k, v) for k, v in query.items() if v not in (None, "")), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    return ("?" + urlencode(items)) if items else ""


def previous_period(view: View) -> tuple[str | None, date, date] | None:
    """The period just before *view*'s: the previous month, or as many days before a date range."""
    if view.month:
        first, _ = month_range(view.month)
        prev_last = first - timedelta(days=1)
        prev = f"{prev_last:%Y-%m}"
        return prev, date(prev_last.year, prev_last.month, 1), prev_last
    if view.start and view.end:
        days = (view.end - view.start).days + 1
        return None, view.start - timedelta(days=days), view.start - timedelta(days=1)
    return None


def _message(exc: Exception) -> str:
    """An error's message as raised: a :class:`Msg` keeps its fields, so the page can show it translated."""
    first = exc.args[0] if exc.args else ""
    return first if isinstance(first, Msg) else str(exc)


def _parse_date(text: str, key: str, errors: list[str]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(Msg("{key} '{text}' is not a date (expected YYYY-MM-DD, e.g. 2026-10-01)", key=key, text=text))
        return None


def _period(query: Mapping[str, str], months: list[str], errors: list[str]) -> tuple[str | None, date | None, date | None]:
    month, start, end = query.get("month"), query.get("start"), query.get("end")
    if month and (start or end):
        errors.append(N_("give either month or start and end, not both"))
        return None, None, None
    if start or end:
        if not (start and end):
            errors.append(Msg("a date range needs both start and end (got only {key})", key="start" if start else "end"))
            return None, None, None
        lo, hi = _parse_date(start, "start", errors), _parse_date(end, "end", errors)
        if lo and hi and lo > hi:
            errors.append(Msg("start {start} is after end {end}", start=lo, end=hi))
            return None, None, None
        return None, lo, hi
    if month:
        try:
            lo, hi = month_range(month)
        except PeriodError as exc:
            errors.append(_message(exc))
            return None, None, None
        return month.strip(), lo, hi
    if months:  # no period asked for: the latest month with calls (not a substitute for a bad value)
        lo, hi = month_range(months[-1])
        return months[-1], lo, hi
    return None, None, None


def _scoped(key: str, value: str | None, allowed: frozenset[str] | None, errors: list[str]) -> list[str] | str | None:
    """The filter value narrowed to the scope; a value outside the scope is an error, not an empty page."""
    if allowed is None:
        return value
    if value is None:
        return sorted(allowed)
    if value not in allowed:
        errors.append(Msg("{key} '{value}' is outside what you may see ({allowed})", key=key, value=value,
                          allowed=", ".join(sorted(allowed)) or "nothing"))
    return value


def resolve(source: Enterprise | None, lake, query: Mapping[str, str], *, extra_keys: Iterable[str] = (),
            scope: Scope | None = None) -> View:
    """The :class:`View` of *query* (the URL's parameters) on *lake*, with every problem as a message.

    *source* is the enterprise (its sites and carriers count as known values even without calls), or
    ``None`` for a bare lake.  *extra_keys* are the page's own parameters (``q`` on the extensions page).
    """
    errors: list[str] = []
    allowed = {*PERIOD_KEYS, *FILTER_KEYS, *extra_keys}
    unknown = sorted(k for k in query if k not in allowed)
    if unknown:
        names, known = ", ".join(repr(k) for k in unknown), ", ".join(sorted(allowed))
        errors.append(Msg("unknown filter {names} (this page knows: {known})", names=names, known=known)
                      if len(unknown) == 1 else
                      Msg("unknown filters {names} (this page knows: {known})", names=names, known=known))
    months = available_months(lake)
    month, lo, hi = _period(query, months, errors)
    filters = {k: str(query[k]) for k in FILTER_KEYS if query.get(k)}
    extra = {k: str(query[k]) for k in extra_keys if query.get(k)}
    if filters.get("call_type") and filters["call_type"] not in CALL_TYPES:
        errors.append(Msg("filter call_type: unknown value '{value}' (expected one of: {known})",
                          value=filters["call_type"], known=", ".join(CALL_TYPES)))
    view = View(month=month, start=lo, end=hi, filters=filters, extra=extra, months=tuple(months))
    if lo is None or errors:
        return replace(view, errors=tuple(errors))
    scope = scope or Scope()
    args = dict(filters)
    site = _scoped("site", args.pop("site", None), scope.sites, errors)
    department = _scoped("department", args.pop("department", None), scope.departments, errors)
    limited = scope.sites is not None or scope.departments is not None
    try:
        # A scoped viewer's values are checked within their scope (_check_within): the library's check
        # would list the values of every site in its message, and refuse a scope with no calls this period.
        sel = select(source if source is not None else lake, start=lo, end=hi, site=site, department=department,
                     check=not limited, **args)
        if limited and not errors:
            _check_within(sel, source, {k: v for k, v in filters.items() if k in ("carrier", "extension")})
    except (FilterValueError, PeriodError) as exc:
        errors.append(_message(exc))
        sel = None
    return replace(view, selection=sel, errors=tuple(errors))


def _check_within(sel: CallSelection, source: Enterprise | None, given: Mapping[str, str]) -> None:
    """A value the URL asked for must be configured or held by the scoped calls of the period; the message
    lists only those (never a value of a site or department outside the scope)."""
    if not given:
        return
    scoped = replace(sel, filters={k: v for k, v in sel.filters.items() if k in ("site", "department")})
    with scoped.open() as (con, calls):
        for column, value in given.items():
            known = set(source.carriers) if column == "carrier" and isinstance(source, Enterprise) else set()
            if value in known:
                continue
            present = {r[0] for r in con.sql(f'SELECT DISTINCT "{column}" FROM {calls} '
                                             f'WHERE "{column}" IS NOT NULL').fetchall()}
            if value not in present:
                choices = sorted(known | present)
                raise FilterValueError(Msg(
                    "filter {column}: unknown value '{value}' — none of the calls you may see from {start} to "
                    "{end} has it (expected one of: {known})", column=column, value=value, start=sel.start,
                    end=sel.end, known=", ".join(choices[:25]) or "nothing: no calls you may see"))

