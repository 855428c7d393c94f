"""What was already sent, in the SQL database: the guard against sending a report or an alert twice.

``report_deliveries`` has one row per (schedule, period).  A run *claims* the row before it builds or
sends anything (``status = sending``); the primary key makes the claim atomic across processes, so a
restart, a misfired job firing late, or two schedulers on one database cannot send the same month
twice.  A send that fails for good marks the row ``failed``, and the next run may claim it again.
A process killed between the SMTP server's acceptance and the ``delivered`` mark leaves ``sending``:
we would rather miss one mail (``run-once --force`` sends it) than send a month's statements twice.

``alert_notices`` has one row per (watch, local day, extension): a crossing is alerted once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from warehouse.database import UtcDateTime

__all__ = ["Ledger", "LedgerRow"]

_metadata = sa.MetaData()

deliveries = sa.Table(
    "report_deliveries", _metadata,
    sa.Column("schedule", sa.Text, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # sending | delivered | failed
    sa.Column("recipients", sa.Text, nullable=False),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
    sa.Column("delivered_at", UtcDateTime()),
    sa.Column("attempts", sa.Integer),
    sa.Column("error", sa.Text),
)

notices = sa.Table(
    "alert_notices", _metadata,
    sa.Column("watch", sa.Text, primary_key=True),
    sa.Column("local_day", sa.Text, primary_key=True),
    sa.Column("extension", sa.Text, primary_key=True),
    sa.Column("site", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("sent_at", UtcDateTime(), nullable=False),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LedgerRow:
    schedule: str
    period: str
    report: str
    status: str
    recipients: str
    claimed_at: datetime
    delivered_at: datetime | None
    attempts: int | None
    error: str | None


class Ledger:
    """The two tables on the enterprise database (created on first use, beside ``calls``)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        _metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- report deliveries -------------------------------------------------------------------------

    def claim(self, schedule: str, period: str, report: str, recipients: Iterable[str], *, force: bool = False) -> bool:
        """Take (schedule, period) for sending; False if it is delivered or being sent (unless *force*)."""
        row = {"schedule": schedule, "period": period, "report": report, "status": "sending",
               "recipients": ", ".join(recipients), "claimed_at": _now(), "delivered_at": None, "attempts": None,
               "error": None}
        key = (deliveries.c.schedule == schedule) & (deliveries.c.period == period)
        try:
            with self.engine.begin() as conn:
                conn.execute(deliveries.insert().values(**row))
            return True
        except sa.exc.IntegrityError:
            pass
        retake = deliveries.update().where(key).values(**row)
        if not force:
            retake = retake.where(deliveries.c.status == "failed")
        with self.engine.begin() as conn:
            return conn.execute(retake).rowcount == 1

    def delivered(self, schedule: str, period: str, attempts: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where((deliveries.c.schedule == schedule) & (deliveries.c.period == period))
                         .values(status="delivered", delivered_at=_now(), attempts=attempts, error=None))

    def failed(self, schedule: str, period: str, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where((deliveries.c.schedule == schedule) & (deliveries.c.period == period))
                         .values(status="failed", error=error[:2000]))

    def deliveries(self, schedule: str | None = None) -> list[LedgerRow]:
        query = sa.select(deliveries).order_by(deliveries.c.schedule, deliveries.c.period)
        if schedule is not None:
            query = query.where(deliveries.c.schedule == schedule)
        with self.engine.connect() as conn:
            return [LedgerRow(**r._mapping) for r in conn.execute(query)]

    # --- alert notices -----------------------------------------------------------------------------

    def claim_notices(self, keys: Iterable[tuple[str, str, str, str, str]]) -> list[tuple[str, str, str, str, str]]:
        """Record (watch, local_day, extension, site, detail) crossings not alerted yet; return those."""
        fresh = []
        for watch, day, ext, site, detail in keys:
            try:
                with self.engine.begin() as conn:
                    conn.execute(notices.insert().values(watch=watch, local_day=day, extension=ext, site=site,
                                                         detail=detail, sent_at=_now()))
                fresh.append((watch, day, ext, site, detail))
            except sa.exc.IntegrityError:
                continue
        return fresh

    def release_notices(self, keys: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Forget claimed crossings whose alert could not be sent, so the next check tries again."""
        with self.engine.begin() as conn:
            for watch, day, ext, _, _ in keys:
                conn.execute(notices.delete().where((notices.c.watch == watch) & (notices.c.local_day == day)
                                                    & (notices.c.extension == ext)))

    def notices(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(notices).order_by(notices.c.local_day))]
