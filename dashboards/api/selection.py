"""The calls a request asks for, within the caller's scope: one place that turns checked parameters into a selection.

Through :func:`dashboards.filters.resolve`, the very function every page uses, so the API narrows to a
manager's scope exactly as the pages do, checks a filter value within that scope only (the message
of an unknown extension never lists another site's), and shares the pages' cache.
"""

from __future__ import annotations

from typing import Any

from analytics.selection import CallSelection
from dashboards.api.params import BadParameter
from dashboards.filters import FILTER_KEYS, Scope, resolve
from dashboards.pages import PageContext

__all__ = ["selection_for"]


def selection_for(ctx: PageContext, args: dict[str, Any], scope: Scope | None) -> CallSelection:
    """The selection of ``args["period"]`` and the filters among *args*, narrowed to *scope*.

    A value neither the config nor the period's calls know is a :class:`BadParameter` naming it."""
    query = {"month": args["period"], **{k: str(args[k]) for k in FILTER_KEYS if args.get(k) is not None}}
    key = ("api-view", tuple(sorted(query.items())), (scope or Scope()).key())
    view = ctx.cache.get(key, lambda: resolve(ctx.ent, ctx.lake, query, scope=scope))
    if view.errors or view.selection is None:
        message = "; ".join(view.errors) or f"no calls can be selected for {args['period']}"
        first = view.errors[0] if view.errors else ""
        # resolve's messages begin with what they are about: "filter site: …", "site 'X' is outside …"
        named = [k for k in query if k != "month" and first.startswith((f"filter {k}:", f"{k} '"))]
        raise BadParameter(named[0] if named else "period", message)
    return view.selection
