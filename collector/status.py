"""``callcost status``: can every record of every source be accounted for?  Read from the SQL DB alone.

Per PBX, from the ingest account (:mod:`warehouse.ingest`) of both paths, ``callcost import`` and the
live collector: records received, stored, already stored, quarantined (and already quarantined),
rated / unrated, the age of the last record, and the alerts — counts that do not add up (received =
stored + already stored + quarantined + already quarantined), a quarantine total that is not the
number of the PBX's rows in ``quarantine``, a hole between two stored segments of a stream, an RSP
sequence gap, a file taken in but not finished, a live source silent for longer than its usual
interval (``expected_interval_s``, or learned: 3 × the median gap between its last 50 live segments,
at least 60 s).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from collector import checkpoints
from collector.settings import settings_for
from collector.spool import spool_stats
from warehouse import ingest
from warehouse.config import Enterprise

MIN_SILENCE_S = 60.0


@dataclass
class SourceStatus:
    pbx: str
    source: str
    received: int = 0
    parsed: int = 0
    stored: int = 0
    already_stored: int = 0
    quarantined: int = 0
    already_quarantined: int = 0
    rated: int = 0
    unrated: int = 0
    imported: int = 0  # of the records received, how many came by ``callcost import``
    bytes: int = 0
    segments: int = 0
    streams: int = 0
    last_record_at: datetime | None = None
    last_record_age_s: float | None = None
    expected_interval_s: float | None = None
    alerts: list[str] = field(default_factory=list)


def collector_status(ent: Enterprise, engine: sa.Engine, now: datetime | None = None) -> list[SourceStatus]:
    checkpoints.create_tables(engine)
    now = now or datetime.now(UTC)
    seg, acc = ingest.segments, ingest.account
    out = []
    with engine.connect() as conn:
        totals = ingest.totals(conn)
        in_quarantine = ingest.quarantined_per_pbx(conn)
        imported = dict(conn.execute(sa.select(acc.c.pbx, sa.func.sum(acc.c.received))
                                     .where(acc.c.path == ingest.IMPORT).group_by(acc.c.pbx)).all())
        for pbx in ent.pbxs.values():
            st = SourceStatus(pbx.id, pbx.source)
            for name, value in totals.get(pbx.id, {}).items():
                setattr(st, name, value)
            st.imported = int(imported.get(pbx.id) or 0)
            if st.received != st.stored + st.already_stored + st.quarantined + st.already_quarantined:
                st.alerts.append(f"counts do not add up: {st.received} received, {st.stored} stored, "
                                 f"{st.already_stored} already stored, {st.quarantined} quarantined, "
                                 f"{st.already_quarantined} already quarantined")
            if st.quarantined != in_quarantine.get(pbx.id, 0):
                st.alerts.append(f"the account says {st.quarantined} quarantined, the quarantine table holds "
                                 f"{in_quarantine.get(pbx.id, 0)}")
            rows = conn.execute(sa.select(seg.c.stream, seg.c.transport, seg.c.first_offset, seg.c.last_offset,
                                          seg.c.final, seg.c.received, seg.c.parsed, seg.c.quarantined, seg.c.bytes,
                                          seg.c.received_at)
                                .where(seg.c.pbx == pbx.id).order_by(seg.c.stream, seg.c.first_offset, seg.c.id)).all()
            streams: dict[str, list] = {}
            for r in rows:
                streams.setdefault(r.stream, []).append(r)
                st.bytes += r.bytes
                if r.received != r.parsed + r.quarantined:
                    st.alerts.append(f"{r.stream}: counts do not add up at bytes {r.first_offset}-{r.last_offset}")
            st.segments, st.streams = len(rows), len(streams)
            for name, segs in streams.items():
                end = 0
                for r in segs:
                    if r.first_offset > end:
                        st.alerts.append(f"{name}: gap, bytes {end}-{r.first_offset} never stored")
                    end = max(end, r.last_offset)
                if not any(r.final for r in segs) and _is_file(name):
                    st.alerts.append(f"{name}: file partly imported (stored up to byte {end})")
            ev = checkpoints.events
            for e in conn.execute(sa.select(ev.c.stream, ev.c.kind, ev.c.detail).where(
                    ev.c.pbx == pbx.id, ev.c.kind.in_(("gap", "refused", "incomplete"))).order_by(ev.c.id)):
                st.alerts.append(f"{e.stream}: {e.kind}: {e.detail}")
            with_records = [r.received_at for r in rows if r.received]
            if with_records:
                st.last_record_at = max(_utc(t) for t in with_records)
                st.last_record_age_s = (now - st.last_record_at).total_seconds()
            # silence is a live source's: an imported file is not expected to be followed by another
            times = sorted(_utc(r.received_at) for r in rows if r.received and r.transport != ingest.IMPORT)
            if times:
                expected = float(settings_for(ent, pbx)["expected_interval_s"])
                if not expected and len(times) >= 3:
                    gaps = [(b - a).total_seconds() for a, b in zip(times[-51:], times[-50:])]
                    expected = max(3 * statistics.median(gaps), MIN_SILENCE_S)
                st.expected_interval_s = expected or None
                silent = (now - times[-1]).total_seconds()
                if expected and silent > expected:
                    st.alerts.append(f"silent for {silent:.0f}s (usual interval {expected:.0f}s)")
            out.append(st)
    return out


def offline_backlog(ent: Enterprise) -> dict[str, float | int | None]:
    """Batches waiting in the offline spool (``[storage] offline``): read from disk, so it works with the DB down."""
    st = spool_stats(ent.storage.offline)
    age = st.oldest_age_s()
    return {"backlog_batches": st.batches, "backlog_rows": st.rows,
            "oldest_age_s": round(age, 3) if age is not None else None}


def _is_file(stream: str) -> bool:
    return not stream.split(":", 1)[0] in ("tcp", "rsp", "serial", "replay")


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)
