"""Rated calls a page at a time, in a stable order: keyset pagination over a selection.

Why keyset and not ``OFFSET``: calls keep arriving while a client pages through a month.  With an
offset, a call stored before the client's position shifts every later row by one, so a row is seen
twice or never.  Ordering by a unique key — ``(start_utc, call_id)`` — and asking for the rows *after*
the last key seen gives every call that existed when paging began exactly once, whatever is stored
meanwhile (a call stored behind the position is simply not on a later page; one stored ahead is).

    >>> from analytics.keyset import calls_after
    >>> page, last = calls_after(select(ent, "2026-10"), None, 500)      # doctest: +SKIP
    >>> page2, last = calls_after(select(ent, "2026-10"), last, 500)     # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from analytics.selection import CallSelection
from warehouse.schema import calls_schema

__all__ = ["Key", "calls_after"]

#: The position of a call in the order: its start (UTC, whole seconds, as the lake stores it) and call_id.
Key = tuple[datetime, str]


def calls_after(sel: CallSelection, after: Key | None, limit: int) -> tuple[pa.Table, Key | None]:
    """Up to *limit* calls of *sel* after *after* (``None``: from the first), ordered by (start_utc, call_id),
    with the canonical columns only; and the key of the last row when more rows follow (else ``None``).

    The key's values go to DuckDB as bound parameters, never into the SQL text.
    """
    columns = ", ".join(f'"{f.name}"' for f in calls_schema(sel.scale))
    where, params = "", []
    if after is not None:
        start, call_id = after
        where = "WHERE start_utc > $1 OR (start_utc = $1 AND call_id > $2)"
        params = [start.astimezone(UTC), call_id]
    with sel.open() as (con, calls):
        con.execute("SET TimeZone = 'UTC'")
        table = con.sql(f"SELECT {columns} FROM {calls} {where} ORDER BY start_utc, call_id LIMIT {int(limit) + 1}",
                        params=params or None).to_arrow_table()
    if table.num_rows <= limit:
        return table, None
    table = table.slice(0, limit)
    last = table.slice(limit - 1, 1).to_pylist()[0]
    return table, (last["start_utc"], last["call_id"])
