"""Scheduled reports: ``[[schedule]]`` tables run by APScheduler 3 with its jobs persisted in the SQL DB.

* **Jobs** live in APScheduler's ``SQLAlchemyJobStore`` on ``[storage] database`` (table
  ``apscheduler_jobs``), so a restarted scheduler knows each job's next run, and a run missed while it
  was down fires once on start (``coalesce``; ``misfire_grace_time`` unlimited).  On start the jobs are
  synced with the config: unchanged ones are kept as stored, changed ones replaced, removed ones dropped.
* **Exactly once per month**: whatever fires a job — the cron, a misfire after a restart, a second
  scheduler on the same database, ``run-once`` — the (schedule, period) pair is claimed in
  ``report_deliveries`` (:mod:`reports.ledger`) before anything is built; a delivered pair is never
  sent again.  A send that failed for good can be claimed again by the next run.
* **Period**: ``previous-month`` (default) is the month before the run's date in the schedule's
  ``timezone``; ``current-month`` is the month of that date; ``YYYY-MM`` is fixed.
* **Language**: the schedule's ``lang`` (default ``en``); a recipient written
  ``{ address = "...", lang = "zh_CN" }`` gets the report (files, body and subject) in that language:
  one build and one message per language.

    >>> from reports.schedule import deliver
    >>> deliver(ent, schedule_settings(ent)[0])          # doctest: +SKIP
    Delivery(schedule='finance-monthly', period='2026-10', status='delivered', attempts=1, ...)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from analytics.reporting import build_report, registered_reports, run_report
from analytics.reporting.i18n import N_, translator
from reports.delivery import mail_files
from reports.ledger import Ledger, LedgerRow
from reports.settings import ScheduleSettings, alert_settings, schedule_settings, smtp_settings
from warehouse.config import Enterprise, load_config
from warehouse.errors import CallcostError, ConfigError

__all__ = ["Delivery", "JOB_PREFIX", "ScheduleState", "deliver", "email_report", "find_schedule", "mail_report",
           "make_scheduler", "period_for", "run_alert_job", "run_scheduled_job", "schedule_states", "stop_scheduler",
           "sync_jobs"]

log = logging.getLogger("callcost.schedule")
JOB_PREFIX = "report:"
ALERT_JOB = "alerts:check"


@dataclass(frozen=True)
class Delivery:
    """The outcome of one scheduled run."""

    schedule: str
    period: str
    status: str  # delivered | skipped
    attempts: int = 0
    files: tuple[Path, ...] = field(default=())


def period_for(period: str, when: datetime, tz: str = "UTC") -> str:
    """The ``YYYY-MM`` a schedule's ``period`` means for a run at *when*.

    >>> period_for("previous-month", datetime(2026, 11, 1, 6, tzinfo=timezone.utc))
    '2026-10'
    >>> period_for("previous-month", datetime(2026, 1, 1, 6, tzinfo=timezone.utc))
    '2025-12'
    """
    local = when.astimezone(ZoneInfo(tz))
    if period == "current-month":
        return f"{local:%Y-%m}"
    if period == "previous-month":
        year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        return f"{year:04d}-{month:02d}"
    return period


def mail_report(ent: Enterprise, recipients: Sequence[str], subject: str, files: Sequence[Path], *,
                sleep: Callable[[float], None] = time.sleep, lang: str | None = None) -> int:
    """Mail rendered files through the config's ``[smtp]``; return the attempts it took."""
    smtp = smtp_settings(ent)
    if smtp is None:
        raise ConfigError("the config has no smtp table: cannot send email", file=str(ent.path), field="smtp",
                          expected="an smtp table with host, port, from (see docs/reports.md)")
    return mail_files(smtp, recipients, subject, files, sleep=sleep, lang=lang)


#: The default subject of a mailed report (a message id: translated into the report's language).
SUBJECT = N_("{enterprise}: {title} {period}")


def email_report(ent: Enterprise, name: str, period: str, files: Sequence[Path], recipients: Sequence[str], *,
                 sleep: Callable[[float], None] = time.sleep, lang: str | None = None) -> int:
    """Mail the rendered files of report *name* for *period* (``callcost report --email``); the attempts it took.

    The subject is ``<enterprise>: <report title> <period>``, as a schedule's default subject, in *lang*.
    """
    tr = translator(lang)
    title = tr.text(build_report(name, config=ent).title)
    subject = tr.gettext(SUBJECT).format(enterprise=ent.name, title=title, period=period)
    return mail_report(ent, recipients, subject, files, sleep=sleep, lang=lang)


def _subject(ent: Enterprise, s: ScheduleSettings, period: str, lang: str | None = None) -> str:
    tr = translator(lang or s.lang)
    title = tr.text(build_report(s.report, config=ent, params=s.params).title)
    template = s.subject or tr.gettext(SUBJECT)
    return template.format(enterprise=ent.name, title=title, period=period, report=s.report, schedule=s.name)


def deliver(ent: Enterprise, s: ScheduleSettings, *, now: datetime | None = None, force: bool = False,
            period: str | None = None, out_dir: Path | None = None,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Build, render and mail schedule *s* for its period, unless that period was already delivered."""
    month = period or period_for(s.period, now or datetime.now(timezone.utc), s.timezone)
    ledger = Ledger(ent.storage.database)
    try:
        if not ledger.claim(s.name, month, s.report, s.recipients, force=force):
            log.info("schedule %s: %s already delivered (or being sent); not sending again", s.name, month)
            return Delivery(s.name, month, "skipped")
        try:
            folder = out_dir or ent.root / "reports" / "scheduled" / s.name
            files, attempts = [], 0
            for lang, recipients in s.by_language().items():  # one build and one message per language
                built = run_report(s.report, ent.storage.lake, month, list(s.formats), folder, ent.currency,
                                   config=ent, params=s.params, lang=lang)
                attempts += mail_report(ent, recipients, _subject(ent, s, month, lang), built, sleep=sleep, lang=lang)
                files += built
        except Exception as exc:
            ledger.failed(s.name, month, f"{type(exc).__name__}: {exc}")
            log.error("schedule %s: %s not delivered: %s", s.name, month, exc)
            raise
        ledger.delivered(s.name, month, attempts)
        log.info("schedule %s: %s delivered to %s", s.name, month, ", ".join(s.recipients))
        return Delivery(s.name, month, "delivered", attempts, tuple(files))
    finally:
        ledger.close()


def find_schedule(ent: Enterprise, name: str) -> ScheduleSettings:
    """The ``[[schedule]]`` named *name* (validated); a ConfigError listing the configured names when none is."""
    found = {s.name: s for s in schedule_settings(ent, set(registered_reports()))}
    if name not in found:
        raise ConfigError(f"no schedule '{name}'", file=str(ent.path), field="schedule",
                          expected="one of the [[schedule]] names: " + (", ".join(found) or "none configured"))
    return found[name]


@dataclass(frozen=True)
class ScheduleState:
    """A configured schedule, when it fires next and for which month, and what it delivered so far."""

    schedule: ScheduleSettings
    next_run: datetime
    next_period: str
    deliveries: tuple[LedgerRow, ...]


def schedule_states(ent: Enterprise, now: datetime | None = None) -> list[ScheduleState]:
    """Every ``[[schedule]]`` with its next run after *now* (default: now) and the ledger's deliveries."""
    schedules = schedule_settings(ent, set(registered_reports()))
    ledger = Ledger(ent.storage.database)
    try:
        done = ledger.deliveries()
    finally:
        ledger.close()
    now = now or datetime.now(timezone.utc)
    states = []
    for s in schedules:
        nxt = CronTrigger.from_crontab(s.cron, timezone=s.timezone).get_next_fire_time(None, now)
        states.append(ScheduleState(s, nxt, period_for(s.period, nxt, s.timezone),
                                    tuple(d for d in done if d.schedule == s.name)))
    return states


# --- APScheduler -------------------------------------------------------------------------------------


def run_scheduled_job(config_path: str, name: str) -> None:
    """The job APScheduler stores (by reference): reload the config, deliver schedule *name*."""
    ent = load_config(config_path)
    found = {s.name: s for s in schedule_settings(ent)}
    if name not in found:
        log.error("schedule %s is no longer in %s; job skipped", name, config_path)
        return
    try:
        deliver(ent, found[name])
    except CallcostError as exc:  # logged by deliver; the scheduler keeps running
        log.error("schedule %s failed: %s", name, exc)


def run_alert_job(config_path: str) -> None:
    """The alert check job: reload the config, mail new threshold crossings."""
    from reports.alerts import check_alerts

    try:
        check_alerts(load_config(config_path))
    except CallcostError as exc:
        log.error("alert check failed: %s", exc)


def make_scheduler(ent: Enterprise) -> BackgroundScheduler:
    """A started but *paused* scheduler whose jobs persist in the enterprise database.

    Paused so that :func:`sync_jobs` can compare the stored jobs with the config before anything
    fires; call ``resume()`` after.  Missed runs fire once (coalesced), one instance at a time.
    """
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=ent.storage.database, tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=timezone.utc)
    scheduler.start(paused=True)
    return scheduler


def sync_jobs(scheduler: BaseScheduler, ent: Enterprise) -> list[str]:
    """Make the stored jobs match the config: keep unchanged ones (and their next run), replace or drop the rest.

    Returns the ids of the jobs kept as they were stored.
    """
    config_path = str(ent.path)
    schedules = schedule_settings(ent, set(registered_reports()))
    wanted: dict[str, tuple[object, tuple]] = {
        JOB_PREFIX + s.name: (CronTrigger.from_crontab(s.cron, timezone=s.timezone), (config_path, s.name))
        for s in schedules}
    alerts = alert_settings(ent)
    if alerts is not None:
        wanted[ALERT_JOB] = (IntervalTrigger(minutes=alerts.check_every_minutes, timezone=timezone.utc),
                             (config_path,))
    stored = {job.id: job for job in scheduler.get_jobs()}
    kept = []
    for job_id, (trigger, args) in wanted.items():
        old = stored.get(job_id)
        func = run_alert_job if job_id == ALERT_JOB else run_scheduled_job
        if old is not None and str(old.trigger) == str(trigger) and tuple(old.args) == args:
            kept.append(job_id)
            continue
        scheduler.add_job(func, trigger, args=list(args), id=job_id, name=job_id, replace_existing=True)
    for job_id in stored:
        if job_id not in wanted and (job_id.startswith(JOB_PREFIX) or job_id == ALERT_JOB):
            scheduler.remove_job(job_id)
    return kept


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    """Shut the scheduler down, waiting for running jobs, and close the job store's database connections.

    The job store is disposed by ``shutdown`` while the scheduler thread may still be finishing a
    look-up, which can open a connection on the fresh pool; disposing again after the thread has
    stopped closes it.
    """
    scheduler.shutdown(wait=True)
    for store in scheduler._jobstores.values():  # noqa: SLF001 - APScheduler exposes no accessor
        engine = getattr(store, "engine", None)
        if engine is not None:
            engine.dispose()
