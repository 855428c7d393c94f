"""What a user may see, in one place: their :class:`~dashboards.filters.Scope`, and the refusal of a
request that names a site or department outside it.

Why one place: a manager's scope must hold on every page, drill-down, download and API call; each of
those reads it from here.  Pages go through :func:`dashboards.filters.resolve`, which narrows the
selection to the scope and shows a request outside it as a visible message; downloads and the API
refuse such a request with HTTP 403 through :func:`refusals` before computing anything.  A filter is
never silently widened or replaced: without one a manager gets their whole scope, with one outside it
they get a refusal naming it.
"""

from __future__ import annotations

from collections.abc import Mapping

from dashboards.filters import Scope
from warehouse.users import User

__all__ = ["SCOPED_KEYS", "refusals", "scope_of"]

#: Query parameters that name what a scope limits.
SCOPED_KEYS = ("site", "department")


def scope_of(user: User | None) -> Scope | None:
    """A manager's sites / departments; ``None`` (everything) for an admin or analyst."""
    if user is None or not user.scoped:
        return None
    return Scope(sites=user.sites, departments=user.departments)


def refusals(query: Mapping[str, str], scope: Scope | None) -> list[str]:
    """Why *query* (URL parameters) asks for more than *scope* allows — empty when it does not.

    Each comma-separated value counts (``?site=NYC,LON`` is refused for a NYC manager)."""
    if scope is None:
        return []
    out: list[str] = []
    for key, allowed in (("site", scope.sites), ("department", scope.departments)):
        if allowed is None:
            continue
        for value in (v.strip() for v in str(query.get(key) or "").split(",")):
            if value and value not in allowed:
                out.append(f"{key} '{value}' is outside what you may see ({', '.join(sorted(allowed)) or 'nothing'})")
    return out
