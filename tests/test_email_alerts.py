"""The immediate fraud alert: a crossing of an ``[alerts]`` threshold is mailed (real SMTP server) once;
no crossing, no mail."""

from __future__ import annotations

from datetime import date

import pytest

from lakefactory import call, write_lake
from reportkit import SmtpServer, smtp_table, write_enterprise
from reports.alerts import check_alerts
from reports.schedule import ALERT_JOB, make_scheduler, stop_scheduler, sync_jobs
from reports.settings import alert_settings
from warehouse.config import load_config
from warehouse.errors import ConfigErrors

ALERTS = """
[alerts]
recipients = ["security@test.example"]
business_hours = "08:00-18:00"
business_days = "mon-fri"
lookback_days = 2
check_every_minutes = 5

[alerts.premium]
calls = 2

[alerts.international]
cost = "40.00"
"""


def premium(i: int, ext: str = "1001", when: str = "2026-10-14T15:00:00") -> dict:
    return call(f"p{ext}-{i}", when, "NYC", "acme", "Sales", ext, "outbound", "premium", 120, "3.00", "3.00")


def intl(i: int, cost: str, ext: str = "2001") -> dict:
    return call(f"i{ext}-{i}-{cost}", "2026-10-14T10:00:00", "LON", "acme", "Finance", ext, "outbound",
                "international", 300, cost, "20.00")


def test_a_crossing_is_alerted_once_and_a_later_one_separately(tmp_path):
    write_lake(tmp_path / "lake", [premium(1), premium(2), premium(3), intl(1, "10.00"), intl(2, "15.00")])
    with SmtpServer() as server:
        ent = load_config(write_enterprise(tmp_path, smtp_table(server.port) + ALERTS))
        run = check_alerts(ent, today=date(2026, 10, 15))
        assert run.found == 1 and [k[:3] for k in run.sent] == [("premium", "2026-10-14", "1001")]
        [msg] = server.messages
        assert server.handler.envelopes[0][1] == ["security@test.example"]
        assert "fraud alert: 1 threshold crossing" in msg["Subject"]
        text = msg.get_body(("plain",)).get_content()
        assert "extension 1001 (NYC)" in text and "Premium rate" in text and "3 calls" in text
        assert "calls ≥ 2" in text

        again = check_alerts(ent, today=date(2026, 10, 15))
        assert again.found == 1 and again.sent == () and len(server.messages) == 1  # already alerted

        # more international calls from 2001 the same day: now 25.00 + 20.00 ≥ 40.00
        write_lake(tmp_path / "more", [intl(3, "20.00")])
        (tmp_path / "more" / "calls" / "date=2026-10-14" / "part-0.parquet").rename(
            tmp_path / "lake" / "calls" / "date=2026-10-14" / "part-9.parquet")
        later = check_alerts(ent, today=date(2026, 10, 15))
        assert [k[:3] for k in later.sent] == [("international", "2026-10-14", "2001")]
        assert len(server.messages) == 2 and "45.00" in server.messages[1].get_body(("plain",)).get_content()


def test_no_crossing_no_mail(tmp_path):
    write_lake(tmp_path / "lake", [premium(1), intl(1, "10.00"), premium(2, "1002")])  # 1 premium call each
    with SmtpServer() as server:
        ent = load_config(write_enterprise(tmp_path, smtp_table(server.port) + ALERTS))
        run = check_alerts(ent, today=date(2026, 10, 15))
        assert run.found == 0 and run.sent == () and server.messages == []


def test_calls_outside_the_lookback_window_are_not_alerted(tmp_path):
    write_lake(tmp_path / "lake", [premium(i, when="2026-10-01T15:00:00") for i in range(3)])
    with SmtpServer() as server:
        ent = load_config(write_enterprise(tmp_path, smtp_table(server.port) + ALERTS))
        assert check_alerts(ent, today=date(2026, 10, 15)).found == 0 and server.messages == []
        assert check_alerts(ent, today=date(2026, 10, 2)).found == 1 and len(server.messages) == 1


def test_the_scheduler_runs_the_alert_check_on_its_interval(tmp_path):
    ent = load_config(write_enterprise(tmp_path, smtp_table(25) + ALERTS))
    scheduler = make_scheduler(ent)
    try:
        sync_jobs(scheduler, ent)
        job = scheduler.get_job(ALERT_JOB)
        assert job is not None and "0:05:00" in str(job.trigger)
    finally:
        stop_scheduler(scheduler)


def test_alert_config_errors_name_the_field(tmp_path):
    bad = ('\n[alerts]\nrecipients = []\nbusiness_hours = "18-08"\nbusiness_days = "weekdays"\n'
           '[alerts.premium]\ncalls = 0\ncost = 5.5\n')
    with pytest.raises(ConfigErrors) as info:
        alert_settings(load_config(write_enterprise(tmp_path, bad)))
    text = str(info.value)
    for fld in ("alerts.recipients", "alerts.business_hours", "alerts.business_days", "alerts.premium.calls",
                "alerts.premium.cost"):
        assert f"field '{fld}'" in text, fld


def test_the_alert_is_mailed_in_the_configured_language(tmp_path):
    from email.header import decode_header, make_header

    write_lake(tmp_path / "lake", [premium(1), premium(2), premium(3)])
    with SmtpServer() as server:
        ent = load_config(write_enterprise(tmp_path, smtp_table(server.port) +
                                           ALERTS.replace("check_every_minutes = 5", 'check_every_minutes = 5\nlang = "zh_CN"')))
        check_alerts(ent, today=date(2026, 10, 15))
        [msg] = server.messages
    assert str(make_header(decode_header(msg["Subject"]))) == "[callcost] 欺诈警报：1 次超过阈值"
    text = msg.get_body(("plain",)).get_content()
    assert "分机 1001（NYC）  增值费率：" in text and "可能存在话费欺诈" in text
    page = msg.get_body(("html",)).get_content()
    assert "<html lang='zh-CN'>" in page and "<th>分机</th>" in page
