"""The scheduling verbs: ``callcost schedule run | list | run-once | check-alerts``.

Thin shells over :mod:`reports.schedule` (jobs, the delivery ledger) and :mod:`reports.alerts`;
everything they do can be called from Python the same way.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer
from rich.markup import escape

from callcost.cli_common import ConfigOpt, console, enterprise

__all__ = ["register"]


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def register(app: typer.Typer) -> None:
    """Add the ``schedule`` group to the CLI."""
    sched = typer.Typer(help="Scheduled report delivery by email ([[schedule]] tables) and fraud alerts.",
                        no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(sched, name="schedule")
    sched.command("list")(list_)
    sched.command("run-once")(run_once)
    sched.command("check-alerts")(check_alerts_)
    sched.command("run")(run)


def list_(config: ConfigOpt = None) -> None:
    """List the configured schedules, their next run and what was delivered.

    Example: callcost schedule list
    """
    from reports.schedule import schedule_states

    states = schedule_states(enterprise(config))
    if not states:
        console.print("no [[schedule]] tables in the config", markup=False)
    for st in states:
        s = st.schedule
        console.print(f"[bold]{escape(s.name)}[/bold]: " + escape(
            f"{s.report} '{s.cron}' ({s.timezone}) → {', '.join(s.recipients)}; formats {','.join(s.formats)}; "
            f"next {st.next_run:%Y-%m-%d %H:%M %Z} for {st.next_period}"), highlight=False)
        for d in st.deliveries:
            when = f"{d.delivered_at:%Y-%m-%d %H:%M} UTC" if d.delivered_at else f"claimed {d.claimed_at:%Y-%m-%d %H:%M}"
            console.print(f"    {d.period}: {d.status} {when}{' — ' + d.error if d.error else ''}",
                          highlight=False, markup=False)


def run_once(
    name: Annotated[str, typer.Argument(help="The [[schedule]] name (default: its report name).")],
    period: Annotated[str | None, typer.Option(help="Month YYYY-MM instead of the schedule's period.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Send even if this period was delivered.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Deliver one schedule now (for testing), once per period unless --force.

    Example: callcost schedule run-once finance-monthly --period 2026-10
    """
    from reports.schedule import deliver, find_schedule

    _logging()
    ent = enterprise(config)
    result = deliver(ent, find_schedule(ent, name), period=period, force=force)
    if result.status == "skipped":
        console.print(f"{name}: {result.period} was already delivered; not sent again (--force to resend)")
    else:
        console.print(f"{name}: {result.period} delivered ({result.attempts} attempt(s))")


def check_alerts_(config: ConfigOpt = None) -> None:
    """Look at the last days of calls now and mail new fraud-watch threshold crossings.

    Example: callcost schedule check-alerts
    """
    from reports.alerts import check_alerts

    _logging()
    run = check_alerts(enterprise(config, checked_for="schedule"))
    console.print(f"{run.found} crossing(s) in the window, {len(run.sent)} newly alerted")


def run(config: ConfigOpt = None) -> None:
    """Run the scheduler in the foreground until Ctrl-C (jobs persist in the SQL database).

    Example: callcost schedule run --config /etc/callcost/callcost.toml
    """
    from reports.schedule import make_scheduler, stop_scheduler, sync_jobs

    _logging()
    ent = enterprise(config, checked_for="schedule")
    scheduler = make_scheduler(ent)
    try:
        kept = sync_jobs(scheduler, ent)
    except BaseException:
        stop_scheduler(scheduler)  # its thread and job-store connections do not outlive the error
        raise
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
