"""Small helpers for URL queries used by callbacks (kept apart from ``dashboards.app`` so pages can use them)."""

from __future__ import annotations

from urllib.parse import parse_qs

from dashboards.filters import query_string

__all__ = ["parse_query", "replace_query"]


def parse_query(search: str | None) -> dict[str, str]:
    """``?a=1&b=2`` as a dict (the last value of a repeated key)."""
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}


def replace_query(search: str | None, **changes: str | None) -> str:
    """*search* with *changes* applied (``None`` removes a key)."""
    query = parse_query(search)
    for k, v in changes.items():
        if v is None:
            query.pop(k, None)
        else:
            query[k] = v
    return query_string(query)
