"""Dashboard pages, one module each, and what they share.

A page module exposes ``PATH``, ``NAME`` (the menu label), ``SLUG`` (its name in download URLs),
``EXTRA_KEYS`` (its own URL parameters besides the shared filters), and two functions:

* ``data(ctx, view, scope=None) -> PageData`` — every figure and table of the view, computed from
  the analytics layer; no Dash in it, so the benchmark, the downloads and the tests call it directly,
  and the login issue wraps it with the viewer's :class:`~dashboards.filters.Scope`;
* ``render(ctx, view, data) -> list`` — the components showing that data.

``dashboards.app`` lists the modules in ``PAGES`` and routes by ``PATH``; adding a page is a new
module and one line there.  :func:`page_data` is the cached way to get a page's data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa

from analytics.selection import CallSelection
from dashboards.cache import PageCache
from dashboards.cube import DayCubes
from dashboards.filters import Scope, View, resolve
from dashboards.tables import Table
from warehouse.config import Enterprise


@dataclass
class PageContext:
    """What every page needs to know about the app it is part of."""

    lake: Path
    currency: str
    ent: Enterprise | None = None
    #: The current viewer's scope (``None``: everything); the login issue sets it per request.
    scope_for: Callable[[], Scope | None] = field(default=lambda: None)
    #: Keyed by the lake's files, so it is the lake's own (never passed in).
    cache: PageCache = field(init=False)
    #: Per-partition cubes: after a store only the changed days are scanned again.
    day_cubes: DayCubes = field(init=False)

    def __post_init__(self) -> None:
        self.lake = Path(self.lake)
        self.cache = PageCache(self.lake)
        self.day_cubes = DayCubes()

    @property
    def scale(self) -> int:
        return self.ent.scale if self.ent is not None else 2


@dataclass
class PageData:
    """A page's figures: named tables (shown and downloadable), plain values, and notes to show."""

    tables: dict[str, Table] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, table: Table) -> Table:
        self.tables[table.name] = table
        return table


def view_of(ctx: PageContext, page: ModuleType, query: Mapping[str, str], scope: Scope | None = None) -> View:
    """The page's :class:`View` of *query*, cached (checking filter values reads the lake)."""
    key = ("view", page.SLUG, tuple(sorted(query.items())), (scope or Scope()).key())
    return ctx.cache.get(key, lambda: resolve(ctx.ent, ctx.lake, query, extra_keys=page.EXTRA_KEYS, scope=scope))


def selection_key(sel: CallSelection) -> tuple:
    return (sel.start, sel.end, tuple(sorted(sel.filters.items())), sel.scale)


def cube(ctx: PageContext, sel: CallSelection) -> pa.Table:
    """The selection's cube (:mod:`dashboards.cube`), cached: pages and periods share it."""
    return ctx.cache.get(("cube", selection_key(sel)), lambda: ctx.day_cubes.cube(sel))


def page_data(ctx: PageContext, page: ModuleType, view: View, scope: Scope | None = None) -> PageData:
    """``page.data(ctx, view, scope)``, cached by the lake's contents, the view and the scope."""
    key: tuple = ("data", page.SLUG, view.cache_key(), (scope or Scope()).key())
    ttl = getattr(page, "CACHE_SECONDS", None)  # pages that read the SQL DB too: the lake's key is not enough
    if ttl:
        key += (int(time.monotonic() // ttl),)
    return ctx.cache.get(key, lambda: page.data(ctx, view, scope))
