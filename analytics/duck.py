"""The one way analytics and reports open DuckDB: an in-memory connection with the progress bar off outside Jupyter.

Why: DuckDB's progress bar is on by default and, for a query over a large lake (> 2 s), prints to
*stdout* — into the middle of ``callcost export --to -`` output, a CSV piped to another tool, or a
scheduled job's mail body.  In a notebook the bar is useful (it is drawn as a widget), so it stays on
there.
"""

from __future__ import annotations

import sys

import duckdb

__all__ = ["connect"]


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection; use it as a context manager (``with connect() as con:``)."""
    con = duckdb.connect()
    if "ipykernel" not in sys.modules:
        con.execute("SET enable_progress_bar = false")
    return con
