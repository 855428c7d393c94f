"""``/api/v1/health``: can storage be read, and is the collector taking records in — for a monitoring check.

The collector's part is the ingest account ``callcost status`` reads (:mod:`warehouse.ingest`: what
each path received, stored and quarantined), summed over every PBX: the endpoint needs no token, so it
names no PBX or site and shows no figure of calls — per-PBX detail is ``callcost status``'s (the
dashboards may not import the collector, whose silence rules need its settings).  The lake's part is
its partitions (how many days hold calls, the latest).  ``status`` is ``ok``, or ``degraded`` with
HTTP 503 when the database or the lake cannot be read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from analytics.calls import partition_days
from dashboards.pages import PageContext
from warehouse import ingest
from warehouse.errors import first_line

__all__ = ["health"]


def _database(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            if not sa.inspect(conn).has_table(ingest.account.name):
                return {"ok": True, "collector": {"pbxs": 0, "received": 0, "stored": 0, "quarantined": 0,
                                                  "last_record_at": None, "last_record_age_s": None,
                                                  "alerts": 0}}
            totals = ingest.totals(conn)
            in_quarantine = ingest.quarantined_per_pbx(conn)
            last = conn.execute(sa.select(sa.func.max(ingest.segments.c.received_at))
                                .where(ingest.segments.c.received > 0)).scalar()
    except sa.exc.SQLAlchemyError as exc:
        return {"ok": False, "error": first_line(exc)}
    finally:
        engine.dispose()
    summed = {n: sum(int(t.get(n) or 0) for t in totals.values()) for n in ingest.COUNTS}
    # the two checks of callcost status that need nothing but the account: counts add up, quarantine agrees
    alerts = sum(1 for pbx, t in totals.items()
                 if int(t.get("received") or 0) != sum(int(t.get(n) or 0) for n in
                                                      ("stored", "already_stored", "quarantined", "already_quarantined"))
                 or int(t.get("quarantined") or 0) != in_quarantine.get(pbx, 0))
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    age = round((datetime.now(UTC) - last).total_seconds(), 1) if last is not None else None
    return {"ok": True, "collector": {"pbxs": len(totals), "received": summed["received"], "stored": summed["stored"],
                                      "quarantined": summed["quarantined"], "rated": summed["rated"],
                                      "last_record_at": last.isoformat().replace("+00:00", "Z") if last else None,
                                      "last_record_age_s": age, "alerts": alerts}}


def health(ctx: PageContext) -> tuple[dict[str, Any], int]:
    """The health document and its HTTP status (200 ok, 503 degraded)."""
    try:
        days = partition_days(ctx.lake)
        # no folder yet is a lake nothing was stored in (a new install), not a failure
        lake: dict[str, Any] = {"ok": True, "exists": ctx.lake.is_dir(), "days": len(days),
                                "last_day": days[-1].isoformat() if days else None}
    except OSError as exc:
        lake = {"ok": False, "error": first_line(exc)}
    out: dict[str, Any] = {"storage": {"lake": lake}}
    if ctx.ent is not None:
        db = _database(ctx.ent.storage.database)
        out["collector"] = db.pop("collector", None)
        out["storage"]["database"] = db
    ok = all(part.get("ok") for part in out["storage"].values())
    return {"status": "ok" if ok else "degraded", **out}, 200 if ok else 503
