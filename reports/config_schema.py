"""Reporting's part of the declared config schema (:mod:`warehouse.config_schema`), an entry point.

The tables only reporting reads — ``[smtp]``, ``[alerts]`` with its watches, ``[[schedule]]`` — are
declared here, next to :mod:`reports.settings`, which checks what their values mean.
"""

from __future__ import annotations

from reports.settings import PERIODS, WATCHES
from warehouse.config_schema import Key, Table

_S = "string"


def report_tables() -> list[Table]:
    """``[smtp]``, ``[alerts]`` (+ ``[alerts.<watch>]``) and ``[[schedule]]``."""
    watch_keys = (
        Key("calls", "integer", "Calls per extension per local day that make a crossing."),
        Key("minutes", "decimal string", "Talk minutes per extension per local day."),
        Key("cost", "decimal string", "Cost per extension per local day, a decimal string like \"25.00\"."),
    )
    watches = [Table(f"alerts.{w}", f"Threshold of the {w.replace('_', '-')} watch (any of calls, minutes, cost).",
                     watch_keys, owner="reports.settings") for w in WATCHES]
    return [
        Table("smtp", "Where mail goes out (report --email, schedules, alerts).", (
            Key("host", _S, "Mail server host name.", required=True),
            Key("port", "integer", "Port.", 587),
            Key("starttls", "boolean", "Upgrade the connection before AUTH.", True),
            Key("ssl", "boolean", "Implicit TLS (port 465) instead of STARTTLS.", False),
            Key("username", _S, "Login user; needs password_env."),
            Key("password_env", _S, "Environment variable holding the password (never in the file)."),
            Key("from", _S, "Sender address.", default_doc='"callcost@<host>"'),
            Key("timeout_s", "number", "Seconds per SMTP operation.", 30.0),
            Key("retries", "integer", "Retries of a failed send.", 3),
            Key("backoff_s", "number", "Seconds before the first retry (doubling).", 2.0),
            Key("ca_file", _S, "CA bundle to verify the server's certificate.", default_doc="the system's"),
        ), owner="reports.settings"),
        Table("alerts", "Fraud watch: thresholds per extension per local day, mailed by `callcost schedule run` "
                        "(needs [smtp]).", (
            Key("recipients", "string or list of strings", "Who gets the alert.", required=True),
            Key("business_hours", _S, "Site local hours, \"08:00-18:00\"; outside them is after hours.",
                "08:00-18:00"),
            Key("business_days", _S, "\"mon-fri\" or a list like \"mon;wed;fri\".", "mon-fri"),
            Key("holidays_after_hours", "boolean", "Public holidays of the site count as after hours.", True),
            Key("lookback_days", "integer", "Days the alert check looks back (1-31).", 2),
            Key("check_every_minutes", "integer", "Minutes between alert checks (1-1440).", 15),
            Key("lang", _S, "Language of the alert e-mail: en | zh_CN.", "en"),
        ), owner="reports.settings"),
        *watches,
        Table("schedule", "A report mailed on a cron schedule by `callcost schedule run` (needs [smtp]).", (
            Key("name", _S, "Schedule name (`callcost schedule run-once NAME`).", default_doc="the report name"),
            Key("report", _S, "Report type, e.g. monthly-savings.", required=True),
            Key("cron", _S, "Five cron fields: minute hour day month weekday, e.g. \"0 6 1 * *\".", required=True),
            Key("timezone", _S, "IANA zone the cron expression is read in.", "UTC"),
            Key("period", _S, " | ".join(PERIODS) + " | YYYY-MM.", "previous-month"),
            Key("formats", "string or list of strings", "Formats attached.", ["xlsx", "html"]),
            Key("recipients", "addresses",
                "Who gets it; `{ address = \"cfo@example.com\", lang = \"zh_CN\" }` gets it in that language.",
                required=True),
            Key("lang", _S, "Language of the report files and the e-mail: en | zh_CN.", "en"),
            Key("params", "table", "Report parameters, e.g. { by = \"cost\", n = 10 }.", default_doc="{}"),
            Key("subject", _S, "Subject; {enterprise} {title} {period} {report} {schedule} are filled in.",
                default_doc='"{enterprise}: {title} {period}"'),
        ), array=True, owner="reports.settings"),
    ]
