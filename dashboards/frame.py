"""The frame around every page: title, filter bar, messages, download links, then the page's content.

The filter bar shows the view's own values (read from the URL by :func:`dashboards.filters.resolve`);
changing one rewrites the URL's query (a callback in :mod:`dashboards.app`), which re-renders the page
— so the URL is always the whole state, and a copied link reproduces the view.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from types import ModuleType

import pyarrow.compute as pc
from dash import dcc, html

from analytics.selection import CALL_TYPES
from dashboards import ids
from dashboards.filters import FILTER_KEYS, Scope, View, query_string
from dashboards.i18n import translate_tree
from dashboards.pages import PageContext, PageData, cube, page_data, view_of
from analytics.reporting.i18n import N_, translator

__all__ = ["EMPTY_LAKE", "filter_options", "page_layout"]

EMPTY_LAKE = N_("No calls in the lake yet: run `callcost import` on your PBX's CDR files (or `callcost collect` "
              "for a live feed), or `callcost demo` to try it with sample data.")


def filter_options(ctx: PageContext, view: View, scope: Scope | None = None) -> dict[str, list[str]]:
    """Values offered per filter: the config's sites and carriers plus what the period's calls hold,
    within the viewer's *scope* (a site outside it is not offered)."""
    scope = scope or Scope()
    def compute() -> dict[str, list[str]]:
        found: dict[str, set[str]] = {"site": set(), "carrier": set(), "department": set()}
        if ctx.ent is not None:
            found["site"] |= set(ctx.ent.sites)
            found["carrier"] |= set(ctx.ent.carriers)
        if view.selection is not None:
            # every value of the period, but only of the calls the viewer may see (their scope stays)
            within = {k: tuple(sorted(v)) for k, v in (("site", scope.sites), ("department", scope.departments))
                      if v is not None}
            unfiltered = replace(view.selection, filters=within)
            table = cube(ctx, unfiltered)
            for k in found:
                found[k] |= {v for v in pc.unique(table[k]).to_pylist() if v is not None}
        if scope.sites is not None:
            found["site"] &= set(scope.sites)
        if scope.departments is not None:
            found["department"] &= set(scope.departments)
        out = {k: sorted(v) for k, v in found.items()}
        out["call_type"] = list(CALL_TYPES)
        return out
    return ctx.cache.get(("options", view.start, view.end, scope.key()), compute)


def _dropdown(key: str, label: str, options: list[str], value: str | None) -> html.Label:
    """A filter control.  A value from the URL that is not a valid choice stays in it (marked unknown):
    a dropdown drops a value it has no option for and would rewrite the URL without it — a silent default."""
    choices = [{"label": o, "value": o} for o in options]
    if value and value not in options:
        choices.append({"label": f"{value} (unknown)", "value": value})
    return html.Label([html.Span(label, className="flt-label"),
                       dcc.Dropdown(id={"type": ids.FILTER, "key": key}, value=value, clearable=key != "month",
                                    options=choices,
                                    placeholder=N_("all"), className="flt-dd")], className="flt")


def filter_bar(ctx: PageContext, view: View, scope: Scope | None = None) -> html.Div:
    opts = filter_options(ctx, view, scope) if view.selection is not None else {k: [] for k in FILTER_KEYS}
    months = list(reversed(view.months))
    parts = [
        _dropdown("month", "Month", months, view.month),
        html.Label([html.Span("From", className="flt-label"),
                    dcc.Input(id={"type": ids.FILTER, "key": "start"}, type="date", debounce=True,
                              value=str(view.start) if view.start and not view.month else None)], className="flt"),
        html.Label([html.Span("To", className="flt-label"),
                    dcc.Input(id={"type": ids.FILTER, "key": "end"}, type="date", debounce=True,
                              value=str(view.end) if view.end and not view.month else None)], className="flt"),
    ]
    for key, label in (("site", N_("Site")), ("carrier", N_("Carrier")), ("department", N_("Department")),
                       ("call_type", N_("Call type"))):
        parts.append(_dropdown(key, label, opts.get(key, []), view.filters.get(key)))
    chips = [dcc.Link(f"extension {view.filters['extension']} ✕", href=_without(view, "extension"),
                      className="chip")] if view.filters.get("extension") else []
    return html.Div([*parts, *chips], className="filters", id=ids.FILTER_BAR)


def _without(view: View, key: str) -> str:
    return query_string(view.query(**{key: None})) or "?"


def downloads(page: ModuleType, view: View, data: PageData) -> html.Div:
    """Links to the page's tables as CSV (one each) and as one xlsx workbook (a sheet each)."""
    if not data.tables:
        return html.Div()
    q = query_string(view.query())
    links = [html.A("xlsx (all tables)", href=f"/download/{page.SLUG}.xlsx{q}", className="dl", id=ids.DOWNLOAD_XLSX)]
    links += [html.A([t.title, " ", N_("(CSV)")], href=f"/download/{page.SLUG}/{t.name}.csv{q}", className="dl")
              for t in data.tables.values()]
    return html.Div([html.Span("Download: ", className="note"), *links], className="downloads", id=ids.DOWNLOADS)


def messages(view: View) -> html.Div:
    return html.Div([html.P(m, className="filter-error") for m in view.errors], id=ids.MESSAGES, role="alert")


def page_layout(ctx: PageContext, page: ModuleType, query: Mapping[str, str], scope: Scope | None = None,
                lang: str = "en") -> html.Div:
    """The whole page for *query*: frame, and the page's content when the view is valid, in *lang*.

    Cached like the data (by the lake's contents, the query, the scope and the language): building plotly
    figures costs tens of milliseconds a view, which ten viewers on two cores turn into seconds.
    """
    key: tuple = ("layout", page.SLUG, tuple(sorted(query.items())), (scope or Scope()).key(), lang)
    ttl = getattr(page, "CACHE_SECONDS", None)
    if ttl:
        key += (int(time.monotonic() // ttl),)
    return ctx.cache.get(key, lambda: translate_tree(_page_layout(ctx, page, query, scope), translator(lang)))


def _page_layout(ctx: PageContext, page: ModuleType, query: Mapping[str, str], scope: Scope | None) -> html.Div:
    view = view_of(ctx, page, query, scope)
    head = [html.H2(page.NAME), filter_bar(ctx, view, scope), messages(view)]
    if not view.months and not view.errors and not getattr(page, "WITHOUT_CALLS", False):
        return html.Div([*head, html.P(EMPTY_LAKE, className="empty", id=ids.EMPTY)])
    if not view.ok and not getattr(page, "WITHOUT_CALLS", False):
        return html.Div([*head, html.P("Fix the filter above to see figures (or clear it).", className="empty",
                                       id=ids.EMPTY)])
    data = page_data(ctx, page, view, scope)
    notes = [html.P(n, className="note") for n in data.notes]
    return html.Div([*head, downloads(page, view, data), *notes, *page.render(ctx, view, data)])
