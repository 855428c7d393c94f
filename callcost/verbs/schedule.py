"""The scheduling verbs: ``callcost schedule run | list | run-once | check-alerts``, and ``report --email``'s helpers.

Thin shells over :mod:`reports.schedule` (jobs, the delivery ledger), :mod:`reports.alerts` and
:mod:`reports.delivery`; everything they do can be called from Python the same way.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from callcost.cli_common import ConfigOpt, console, enterprise, fail, usage_error
from warehouse.config import Enterprise
from warehouse.errors import CallcostError

__all__ = ["email_report", "parse_params", "register"]


def parse_params(items: list[str] | None) -> dict[str, str]:
    """``["by=cost", "n=10"]`` → ``{"by": "cost", "n": "10"}``; a malformed item is a usage error."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            usage_error(f"--param '{item}' is not KEY=VALUE (e.g. --param by=minutes)")
        out[key.strip()] = value.strip()
    return out


def email_report(ent: Enterprise, name: str, period: str, paths: list[Path], to: str) -> None:
    """Mail rendered report files to the comma-separated addresses *to* (``report --email``)."""
    from reports.base import build_report
    from reports.schedule import mail_report

    recipients = [a.strip() for a in to.split(",") if a.strip()]
    if not recipients:
        usage_error("--email needs at least one address (TO[,TO])")
    title = build_report(name, config=ent).title
    attempts = mail_report(ent, recipients, f"{ent.name}: {title} {period}", paths)
    console.print(f"mailed to {', '.join(recipients)} ({attempts} attempt(s))", highlight=False)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def register(app: typer.Typer) -> None:
    sched = typer.Typer(help="Scheduled report delivery by email (\\[\\[schedule]] tables) and fraud alerts.",
                        no_args_is_help=True)
    app.add_typer(sched, name="schedule")

    @sched.command("list")
    def list_(config: ConfigOpt = None) -> None:
        """List the configured schedules, their next run and what was delivered.

        Example: callcost schedule list
        """
        from apscheduler.triggers.cron import CronTrigger
        from datetime import datetime, timezone

        from reports.base import registered_reports
        from reports.ledger import Ledger
        from reports.schedule import period_for
        from reports.settings import schedule_settings

        ent = enterprise(config)
        try:
            schedules = schedule_settings(ent, set(registered_reports()))
            ledger = Ledger(ent.storage.database)
            done = ledger.deliveries()
            ledger.close()
        except CallcostError as exc:
            fail(exc)
        now = datetime.now(timezone.utc)
        if not schedules:
            console.print("no [[schedule]] tables in the config")
        for s in schedules:
            nxt = CronTrigger.from_crontab(s.cron, timezone=s.timezone).get_next_fire_time(None, now)
            console.print(f"[bold]{s.name}[/bold]: {s.report} '{s.cron}' ({s.timezone}) → {', '.join(s.recipients)}; "
                          f"formats {','.join(s.formats)}; next {nxt:%Y-%m-%d %H:%M %Z} for "
                          f"{period_for(s.period, nxt, s.timezone)}", highlight=False)
            for d in (d for d in done if d.schedule == s.name):
                when = f"{d.delivered_at:%Y-%m-%d %H:%M} UTC" if d.delivered_at else f"claimed {d.claimed_at:%Y-%m-%d %H:%M}"
                console.print(f"    {d.period}: {d.status} {when}{' — ' + d.error if d.error else ''}",
                              highlight=False)

    @sched.command("run-once")
    def run_once(
        name: Annotated[str, typer.Argument(help="The [[schedule]] name (default: its report name).")],
        period: Annotated[str | None, typer.Option(help="Month YYYY-MM instead of the schedule's period.")] = None,
        force: Annotated[bool, typer.Option("--force", help="Send even if this period was delivered.")] = False,
        config: ConfigOpt = None,
    ) -> None:
        """Deliver one schedule now (for testing), once per period unless --force.

        Example: callcost schedule run-once finance-monthly --period 2026-10
        """
        from reports.base import registered_reports
        from reports.schedule import deliver
        from reports.settings import schedule_settings

        _logging()
        ent = enterprise(config)
        try:
            found = {s.name: s for s in schedule_settings(ent, set(registered_reports()))}
            if name not in found:
                usage_error(f"no schedule '{name}' (configured: {', '.join(found) or 'none'})")
            result = deliver(ent, found[name], period=period, force=force)
        except CallcostError as exc:
            fail(exc)
        if result.status == "skipped":
            console.print(f"{name}: {result.period} was already delivered; not sent again (--force to resend)")
        else:
            console.print(f"{name}: {result.period} delivered ({result.attempts} attempt(s))")

    @sched.command("check-alerts")
    def check_alerts_(config: ConfigOpt = None) -> None:
        """Look at the last days of calls now and mail new fraud-watch threshold crossings.

        Example: callcost schedule check-alerts
        """
        from reports.alerts import check_alerts

        _logging()
        ent = enterprise(config)
        try:
            run = check_alerts(ent)
        except CallcostError as exc:
            fail(exc)
        console.print(f"{run.found} crossing(s) in the window, {len(run.sent)} newly alerted")

    @sched.command("run")
    def run(config: ConfigOpt = None) -> None:
        """Run the scheduler in the foreground until Ctrl-C (jobs persist in the SQL database).

        Example: callcost schedule run --config /etc/callcost/callcost.toml
        """
        from reports.schedule import make_scheduler, stop_scheduler, sync_jobs

        _logging()
        ent = enterprise(config)
        try:
            scheduler = make_scheduler(ent)
            kept = sync_jobs(scheduler, ent)
        except CallcostError as exc:
            fail(exc)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        scheduler.resume()
        for job in scheduler.get_jobs():
            state = "kept" if job.id in kept else "scheduled"
            console.print(f"{job.id}: next {job.next_run_time:%Y-%m-%d %H:%M %Z} ({state})", highlight=False)
        console.print("scheduler running (Ctrl-C to stop)")
        stop.wait()
        stop_scheduler(scheduler)
        console.print("scheduler stopped")
