"""Email delivery against a real SMTP server (aiosmtpd on a loopback port): body, attachments, STARTTLS
with AUTH, retry with backoff on refusal, and ``callcost report … --email``."""

from __future__ import annotations

import io
import logging
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from callcost.cli import app
from lakefactory import write_lake
from reportkit import SmtpServer, free_port, report_calls, self_signed, smtp_table, write_enterprise
from reports.delivery import DeliveryError, build_message, send
from reports.settings import SmtpSettings, smtp_settings
from warehouse.config import load_config
from warehouse.errors import ConfigErrors

CENT = Decimal("0.01")


def attachment(msg, suffix: str) -> tuple[str, bytes]:
    [part] = [p for p in msg.iter_attachments() if p.get_filename().endswith(suffix)]
    return part.get_filename(), part.get_content()


def test_report_email_from_the_cli_has_html_body_and_xlsx_with_the_figures(tmp_path):
    rows = report_calls(1_200, seed=3)
    write_lake(tmp_path / "lake", rows)
    with SmtpServer() as server:
        config = write_enterprise(tmp_path, smtp_table(server.port))
        result = CliRunner().invoke(app, ["report", "carrier-cost", "--period", "2026-10", "--format", "xlsx,html",
                                          "--out", str(tmp_path / "out"), "--email", "cfo@test.example, ap@test.example",
                                          "--config", str(config)])
        assert result.exit_code == 0, result.output
        [msg] = server.messages
    assert server.handler.envelopes[0][1] == ["cfo@test.example", "ap@test.example"]
    assert msg["Subject"] == "Test Corp: Carrier cost 2026-10" and msg["From"] == "callcost@test.example"
    html = msg.get_body(("html",)).get_content()
    name, data = attachment(msg, ".xlsx")
    assert name == "carrier-cost-2026-10.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    assert wb.sheetnames == ["Summary", "By carrier", "By carrier and class", "By carrier and site"]
    calls = pd.DataFrame(rows)
    oct_ = calls[(calls.start_utc.dt.strftime("%Y-%m") == "2026-10") & calls.carrier.notna()
                 & (calls.rating_status == "rated")]
    expected = sum(oct_.actual_cost, Decimal(0))
    total = {r[0]: r for r in wb["By carrier"].iter_rows(values_only=True)}["Total"]
    assert Decimal(str(total[3])).quantize(CENT) == expected
    assert f"{expected:,.2f}" in html


def test_starttls_and_auth_with_the_password_from_the_environment(tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with SmtpServer(tls=(cert, key), login=("reports", "s3cret")) as server:
        config = write_enterprise(tmp_path, f'\n[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nstarttls = true\n'
                                            f'username = "reports"\npassword_env = "TEST_SMTP_PASSWORD"\n'
                                            f'from = "callcost@test.example"\nca_file = "cert.pem"\ntimeout_s = 5\n')
        smtp = smtp_settings(load_config(config))
        msg = build_message(smtp.sender, ["a@test.example"], "hello", text="plain", html="<p>hi</p>")
        assert send(smtp, msg, sleep=lambda s: None) == 1
        assert server.logins == ["reports"] and len(server.messages) == 1
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        waits = []
        with pytest.raises(DeliveryError, match="attempt 1/4"):  # 535: permanent, not retried
            send(smtp, msg, sleep=waits.append)
        assert waits == [] and len(server.messages) == 1


def test_a_refused_message_is_retried_with_backoff_and_logged(caplog):
    with SmtpServer(refuse=2) as server:
        smtp = SmtpSettings(host="127.0.0.1", port=server.port, starttls=False, retries=3, backoff_s=0.5)
        waits = []
        with caplog.at_level(logging.INFO, logger="callcost.delivery"):
            attempts = send(smtp, build_message(smtp.sender, ["a@test.example"], "retry me", text="x"),
                            sleep=waits.append)
    assert attempts == 3 and waits == [0.5, 1.0] and len(server.messages) == 1
    failed = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failed) == 2 and "451" in failed[0].getMessage() and "retrying in 0.5 s" in failed[0].getMessage()
    assert any("sent 'retry me'" in r.getMessage() and "attempt 3/4" in r.getMessage() for r in caplog.records)


def test_a_server_that_is_down_then_up_gets_the_message():
    port = free_port()
    server = SmtpServer(port=port)
    smtp = SmtpSettings(host="127.0.0.1", port=port, starttls=False, retries=2, backoff_s=0.01)
    try:
        # the first attempt finds nothing listening; the server comes up during the backoff
        attempts = send(smtp, build_message(smtp.sender, ["a@test.example"], "later", text="x"),
                        sleep=lambda s: server.start())
        assert attempts == 2 and len(server.messages) == 1
    finally:
        server.stop()


def test_retries_exhausted_is_an_error_naming_the_server():
    with SmtpServer(refuse=10) as server:
        smtp = SmtpSettings(host="127.0.0.1", port=server.port, starttls=False, retries=1, backoff_s=0)
        with pytest.raises(DeliveryError, match=rf"127.0.0.1:{server.port} \(attempt 2/2\).*451"):
            send(smtp, build_message(smtp.sender, ["a@test.example"], "never", text="x"), sleep=lambda s: None)
        assert server.messages == []


def test_smtp_config_errors_name_file_line_and_field(tmp_path):
    config = write_enterprise(tmp_path, '\n[smtp]\nport = 99999\nstarttls = "yes"\nusername = "u"\nfrom = "nobody"\n')
    with pytest.raises(ConfigErrors) as info:
        smtp_settings(load_config(config))
    text = str(info.value)
    for fld in ("smtp.host", "smtp.port", "smtp.starttls", "smtp.from", "smtp.password_env"):
        assert f"field '{fld}'" in text, fld
    assert f"{config}:" in text and "expected" in text
    lines = config.read_text().splitlines()
    port_line = next(i for i, l in enumerate(lines, 1) if l.startswith("port = 99999"))
    assert f"{config}:{port_line}: field 'smtp.port'" in text


def test_email_without_smtp_config_is_a_clear_error(tmp_path):
    write_lake(tmp_path / "lake", report_calls(50, seed=1))
    config = write_enterprise(tmp_path)
    result = CliRunner().invoke(app, ["report", "top-n", "--period", "2026-10", "--out", str(tmp_path / "o"),
                                      "--email", "a@test.example", "--param", "by=count", "--config", str(config)])
    assert result.exit_code == 1 and "has no smtp table" in result.output
