"""Read-only questions to the SQL database (quarantine, ingest accounting), for the quality and live pages.

Through ``warehouse.ingest`` (the ingest account's and the quarantine's one definition), never the collector: the dashboard only
reads what the collector and the importer recorded.  A database that cannot be reached is a message
on the page, not a crash — the lake's figures are still worth showing.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from warehouse.config import Enterprise
from warehouse import ingest

__all__ = ["ingest_by_pbx", "quarantine_by_reason"]


def _engine(ent: Enterprise) -> sa.Engine:
    return sa.create_engine(ent.storage.database)


def _tables(ent: Enterprise) -> tuple[sa.Table, sa.Table]:
    return ingest.quarantine, ingest.account


def quarantine_by_reason(ent: Enterprise, limit: int = 200) -> pd.DataFrame:
    """Quarantined records per PBX and reason, most first."""
    q, _ = _tables(ent)
    engine = _engine(ent)
    try:
        if not sa.inspect(engine).has_table("quarantine"):
            return pd.DataFrame(columns=["pbx", "reason", "records", "last_at"])
        stmt = (sa.select(q.c.pbx, q.c.reason, sa.func.count().label("records"),
                          sa.func.max(q.c.received_at).label("last_at"))
                .group_by(q.c.pbx, q.c.reason).order_by(sa.desc("records"), q.c.pbx, q.c.reason).limit(limit))
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(stmt).mappings().all(), columns=["pbx", "reason", "records", "last_at"])
    finally:
        engine.dispose()


def ingest_by_pbx(ent: Enterprise) -> pd.DataFrame:
    """Per PBX: batches, records received / parsed / quarantined / stored / rated, and the last batch's time."""
    _, b = _tables(ent)
    cols = ["pbx", "batches", "received", "parsed", "quarantined", "stored", "rated", "last_batch_at"]
    engine = _engine(ent)
    try:
        if not sa.inspect(engine).has_table(b.name):
            return pd.DataFrame(columns=cols)
        stmt = (sa.select(b.c.pbx, sa.func.count().label("batches"),
                          *[sa.func.coalesce(sa.func.sum(b.c[n]), 0).label(n)
                            for n in ("received", "parsed", "quarantined", "stored", "rated")],
                          sa.func.max(b.c.stored_at).label("last_batch_at"))
                .group_by(b.c.pbx).order_by(b.c.pbx))
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(stmt).mappings().all(), columns=cols)
    finally:
        engine.dispose()
