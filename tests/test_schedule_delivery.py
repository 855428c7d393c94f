"""Scheduled reports: APScheduler with its jobs in the SQL database (SQLite and PostgreSQL) mails the
report to a real SMTP server; a restart, a misfire or a second run never sends a period twice."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timezone
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from typer.testing import CliRunner

from callcost.cli import app
from lakefactory import write_lake
from reportkit import SmtpServer, report_calls, smtp_table, write_enterprise
from reports.delivery import DeliveryError
from reports.ledger import Ledger
from reports.schedule import JOB_PREFIX, deliver, make_scheduler, period_for, stop_scheduler, sync_jobs
from reports.settings import schedule_settings
from warehouse.config import load_config
from warehouse.errors import ConfigErrors

CENT = Decimal("0.01")
SCHEDULE = """
[[schedule]]
name = "finance-monthly"
report = "monthly-savings"
cron = "0 6 1 * *"
timezone = "Europe/London"
period = "{period}"
formats = ["xlsx", "html"]
recipients = ["cfo@test.example", "controller@test.example"]
subject = "{{enterprise}} savings {{period}}"
"""


@pytest.fixture(scope="module")
def rows():
    return report_calls(1_500, seed=17)


def enterprise(tmp_path, rows, port: int, *, database: str | None = None, period: str = "2026-10", extra: str = ""):
    write_lake(tmp_path / "lake", rows)
    return load_config(write_enterprise(tmp_path, smtp_table(port) + SCHEDULE.format(period=period) + extra,
                                        database=database))


def run_due_jobs(scheduler, job_id: str, timeout: float = 20.0) -> list:
    """Make *job_id* due now, resume the paused scheduler, wait until that run finished; return its events."""
    done = threading.Event()
    events = []

    def listener(event):
        if event.job_id == job_id:
            events.append(event)
            done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc))
    scheduler.resume()
    assert done.wait(timeout), "the scheduled job did not run"
    return events


def test_period_for_each_setting():
    nov1 = datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)
    assert period_for("previous-month", nov1) == "2026-10"
    assert period_for("current-month", nov1) == "2026-11"
    early = datetime(2026, 11, 1, 3, 30, tzinfo=timezone.utc)
    assert period_for("previous-month", early, "America/New_York") == "2026-09"  # 23:30 on 31 Oct in New York
    assert period_for("2026-07", nov1) == "2026-07"


def test_scheduled_email_arrives_with_the_workbook_and_a_restart_does_not_resend(tmp_path, rows, db_url):
    with SmtpServer() as server:
        ent = enterprise(tmp_path, rows, server.port, database=db_url)
        job_id = JOB_PREFIX + "finance-monthly"

        scheduler = make_scheduler(ent)
        try:
            assert sync_jobs(scheduler, ent) == []  # first start: nothing stored yet
            [event] = run_due_jobs(scheduler, job_id)
            assert event.exception is None
        finally:
            stop_scheduler(scheduler)
        assert len(server.messages) == 1

        # Restart on the same database: the job is found in the job store as it was left, and a
        # misfire (the job due again) runs it — but the delivered month is not sent again.
        scheduler = make_scheduler(ent)
        try:
            assert sync_jobs(scheduler, ent) == [job_id]
            [event] = run_due_jobs(scheduler, job_id)
            assert event.exception is None
        finally:
            stop_scheduler(scheduler)
        assert len(server.messages) == 1

    [msg] = server.messages
    assert msg["Subject"] == "Test Corp savings 2026-10"
    assert server.handler.envelopes[0][1] == ["cfo@test.example", "controller@test.example"]
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "monthly-savings-2026-10.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(part.get_content()), data_only=True)
    assert wb.sheetnames[:4] == ["Summary", "By site", "By carrier", "By department"]
    assert set(wb.sheetnames[4:]) <= {"What-if by carrier"}
    calls = pd.DataFrame(rows)
    october = calls[calls.start_utc.dt.strftime("%Y-%m") == "2026-10"]
    rated = october[october.rating_status == "rated"]
    cells = {r[0]: r for r in wb["Summary"].iter_rows(values_only=True) if r[0] is not None}
    assert cells["Calls"][1] == len(october)
    assert Decimal(str(cells["Savings"][1])).quantize(CENT) == sum(rated.savings, Decimal(0))
    by_site = {r[0]: r for r in wb["By site"].iter_rows(values_only=True)}
    for site, part_ in rated.groupby("site"):
        assert Decimal(str(by_site[site][3])).quantize(CENT) == sum(part_.actual_cost, Decimal(0))
    html = msg.get_body(("html",)).get_content()
    assert f"{sum(rated.savings, Decimal(0)):,.2f}" in html

    ledger = Ledger(ent.storage.database)
    [row] = ledger.deliveries()
    ledger.close()
    assert (row.schedule, row.period, row.status, row.attempts) == ("finance-monthly", "2026-10", "delivered", 1)


def test_run_once_twice_sends_once_and_force_resends(tmp_path, rows):
    with SmtpServer() as server:
        ent = enterprise(tmp_path, rows, server.port)
        [s] = schedule_settings(ent)
        first = deliver(ent, s)
        second = deliver(ent, s)
        assert (first.status, second.status) == ("delivered", "skipped") and len(server.messages) == 1
        assert deliver(ent, s, force=True).status == "delivered" and len(server.messages) == 2
        runner = CliRunner()
        out = runner.invoke(app, ["schedule", "run-once", "finance-monthly", "--config", str(ent.path)])
        assert out.exit_code == 0 and "already delivered" in out.output and len(server.messages) == 2
        listing = runner.invoke(app, ["schedule", "list", "--config", str(ent.path)])
        assert listing.exit_code == 0 and "finance-monthly" in listing.output and "2026-10: delivered" in listing.output


def test_a_failed_send_is_recorded_and_the_next_run_sends(tmp_path, rows):
    with SmtpServer(refuse=4) as server:
        ent = enterprise(tmp_path, rows, server.port)
        [s] = schedule_settings(ent)
        with pytest.raises(DeliveryError, match="attempt 4/4"):
            deliver(ent, s, sleep=lambda _: None)
        ledger = Ledger(ent.storage.database)
        [row] = ledger.deliveries()
        assert row.status == "failed" and "451" in row.error
        assert deliver(ent, s, sleep=lambda _: None).status == "delivered"
        assert ledger.deliveries()[0].status == "delivered" and len(server.messages) == 1
        ledger.close()


def test_a_changed_schedule_replaces_its_stored_job_and_a_removed_one_is_dropped(tmp_path, rows):
    ent = enterprise(tmp_path, rows, 25)
    scheduler = make_scheduler(ent)
    try:
        sync_jobs(scheduler, ent)
    finally:
        stop_scheduler(scheduler)
    ent.path.write_text(ent.path.read_text().replace('cron = "0 6 1 * *"', 'cron = "30 7 2 * *"')
                        .replace('name = "finance-monthly"', 'name = "finance-v2"'))
    ent = load_config(ent.path)
    scheduler = make_scheduler(ent)
    try:
        assert sync_jobs(scheduler, ent) == []
        [job] = scheduler.get_jobs()
        assert job.id == JOB_PREFIX + "finance-v2" and "minute='30'" in str(job.trigger)
    finally:
        stop_scheduler(scheduler)


def test_schedule_config_errors_name_line_and_field(tmp_path):
    bad = ('\n[[schedule]]\nreport = "nope"\ncron = "61 * * * *"\nperiod = "last-week"\nrecipients = ["x"]\n'
           'timezone = "Mars/Olympus"\n')
    config = write_enterprise(tmp_path, bad)
    with pytest.raises(ConfigErrors) as info:
        schedule_settings(load_config(config), {"monthly-savings"})
    text = str(info.value)
    for fld in ("schedule[0].report", "schedule[0].cron", "schedule[0].period", "schedule[0].recipients",
                "schedule[0].timezone"):
        assert f"field '{fld}'" in text, fld
    cron_line = config.read_text().splitlines().index('cron = "61 * * * *"') + 1
    assert f"{config}:{cron_line}: field 'schedule[0].cron'" in text


def test_schedule_run_starts_in_the_foreground_and_stops_on_sigterm(tmp_path, rows):
    import os
    import signal
    import subprocess
    import sys
    import time

    ent = enterprise(tmp_path, rows, 25)
    proc = subprocess.Popen([sys.executable, "-m", "callcost", "schedule", "run", "--config", str(ent.path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "scheduler running" in line:
                break
        assert any("report:finance-monthly: next" in line for line in lines), lines
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "scheduler stopped" in out
