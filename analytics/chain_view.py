"""Conversations, not legs: one row per call chain, expandable to its legs (issue 17).

Each stored leg carries its chain's ``chain_id``, its ``leg_role`` and its *share* of any carrier call
it held (``analytics.rating.chains``), so a conversation's cost is the plain sum of its legs — what
every other figure already counts.  This view groups a selection's legs by ``chain_id`` in DuckDB (no
rows in Python): first start, last end, number of legs, their roles and extensions, the carrier calls,
and the summed money and billable seconds.  ``CallSelection.chains()`` and ``.chain_legs(id)`` call it.

Chains are grouped within the selection: a conversation whose legs straddle the selection's edge (a
transfer across midnight UTC of the last day) shows the legs inside it.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

__all__ = ["chains", "chain_legs", "CHAINS_SQL"]

#: One row per conversation of ``{calls}`` (the selection's table expression).
CHAINS_SQL = """
SELECT coalesce(chain_id, call_id)                                    AS chain_id,
       count(*)                                                       AS legs,
       min(start_utc)                                                 AS start_utc,
       max(coalesce(end_utc, start_utc))                              AS end_utc,
       string_agg(DISTINCT leg_role, ',' ORDER BY leg_role)           AS roles,
       string_agg(DISTINCT extension, ',' ORDER BY extension)         AS extensions,
       count(DISTINCT carrier_call_id)                                AS carrier_calls,
       sum(duration_s)                                                AS duration_s,
       sum(billable_s)                                                AS billable_s,
       sum(actual_cost)                                               AS actual_cost,
       sum(reference_cost)                                            AS reference_cost,
       sum(savings)                                                   AS savings,
       count(*) FILTER (WHERE rating_status = 'unrated')              AS unrated_legs
FROM {calls}
GROUP BY 1
ORDER BY start_utc, chain_id
"""

_LEGS_SQL = """
SELECT call_id, leg_role, carrier_call_id, start_utc, answer_utc, end_utc, duration_s, extension, calling_number,
       called_number, call_type, trunk, billable_s, actual_cost, reference_cost, savings, rating_status
FROM {calls}
WHERE coalesce(chain_id, call_id) = $chain
ORDER BY start_utc, end_utc, call_id
"""


class _Queryable(Protocol):
    def query(self, sql: str) -> pa.Table: ...


def chains(selection: _Queryable) -> pa.Table:
    """One row per conversation of *selection*; its money columns are the exact sums of its legs' shares."""
    return selection.query(CHAINS_SQL)


def chain_legs(selection: _Queryable, chain_id: str) -> pa.Table:
    """The legs of conversation *chain_id* in *selection*, in time order, with their roles and shares."""
    literal = "'" + str(chain_id).replace("'", "''") + "'"
    return selection.query(_LEGS_SQL.replace("$chain", literal))


