"""The config tables of reporting — ``[smtp]``, ``[alerts]``, ``[[schedule]]`` — read and validated here.

``warehouse.config`` keeps the SPEC §3 core and hands every table it does not know through
``Enterprise.raw``; the tables that only reporting uses are parsed next to the code that uses them.
Like the core, every problem is reported at once (:class:`~warehouse.errors.ConfigErrors`), each
naming the file, the line and the field (``smtp.port``, ``schedule[1].cron``) and what was expected.

    [smtp]                      # where mail goes out
    host = "smtp.example.com"
    port = 587
    starttls = true             # upgrade the connection before AUTH (ssl = true: implicit TLS, port 465)
    username = "callcost"
    password_env = "CALLCOST_SMTP_PASSWORD"   # the password is never in the file
    from = "callcost <callcost@example.com>"

See docs/reports.md for ``[alerts]`` and ``[[schedule]]``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from warehouse.config import Enterprise
from warehouse.errors import ConfigError, ConfigErrors

__all__ = ["AlertSettings", "ScheduleSettings", "SmtpSettings", "Threshold", "WATCHES", "alert_settings",
           "schedule_settings", "smtp_settings"]

#: Fraud watches and the thresholds each may have.
WATCHES = ("after_hours", "international", "premium")
PERIODS = ("previous-month", "current-month")
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")


class _Check:
    """Collects located errors for one config file (line numbers found by scanning the TOML text)."""

    def __init__(self, ent: Enterprise) -> None:
        self.path = ent.path
        try:
            self.lines = Path(ent.path).read_text(encoding="utf-8").splitlines()
        except OSError:
            self.lines = []
        self.errors: list[ConfigError] = []

    def line(self, table: str, index: int | None, key: str | None) -> int | None:
        if key is not None and "." in key:  # alerts + premium.calls: the line in [alerts.premium]
            sub, key = key.rsplit(".", 1)
            table = f"{table}.{sub}"
        head = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]" if index is not None
                          else rf"^\s*\[\s*{re.escape(table)}\s*\]")
        seen, start = -1, None
        for n, text in enumerate(self.lines, 1):
            if head.match(text):
                seen += 1
                if index is None or seen == index:
                    start = n
                    break
        if start is None or key is None:
            return start
        leaf = key.split(".")[-1]
        for n in range(start, len(self.lines)):
            if re.match(rf"^\s*{re.escape(leaf)}\s*=", self.lines[n]):
                return n + 1
            if self.lines[n].lstrip().startswith("[[") or (self.lines[n].lstrip().startswith("[")
                                                              and not self.lines[n].lstrip().startswith(f"[{table}.")):
                break
        return start

    def error(self, table: str, index: int | None, key: str | None, message: str, expected: str) -> None:
        name = f"{table}[{index}]" if index is not None else table
        self.errors.append(ConfigError(message, file=str(self.path), line=self.line(table, index, key),
                                       field=f"{name}.{key}" if key else name, expected=expected))

    def done(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)


def _lang(value: Any, chk: _Check, table: str, index: int | None, key: str) -> str:
    """A ``lang`` value: one of the languages with a catalog (``en``, ``zh_CN``), else an error."""
    from analytics.reporting.i18n import LANGS, normalize_lang
    from analytics.reporting.model import ReportError

    try:
        return normalize_lang(None if value is None else str(value))
    except ReportError:
        chk.error(table, index, key, f"no translation for language '{value}'", " | ".join(LANGS))
        return "en"


def _recipient_langs(value: Any, chk: _Check, table: str, index: int | None, key: str) -> dict[str, str]:
    """Address → language of the recipients given as ``{ address = "...", lang = "zh_CN" }``."""
    items = value if isinstance(value, list) else []
    return {str(a.get("address", "")).strip(): _lang(a["lang"], chk, table, index, f"{key}.lang")
            for a in items if isinstance(a, dict) and "lang" in a}


def _recipients(value: Any, chk: _Check, table: str, index: int | None, key: str) -> tuple[str, ...]:
    """Addresses: a string, or a list of strings and ``{ address = "...", lang = "zh_CN" }`` tables."""
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    if items is None:
        chk.error(table, index, key, f"{value!r} is not a list of addresses", '["finance@example.com"]')
        return ()
    for a in items:
        if isinstance(a, dict) and set(a) - {"address", "lang"}:
            chk.error(table, index, key, f"unknown key in a recipient: {sorted(set(a) - {'address', 'lang'})[0]}",
                      '{ address = "cfo@example.com", lang = "zh_CN" }')
    items = [a.get("address", "") if isinstance(a, dict) else a for a in items]
    out = tuple(str(a).strip() for a in items if str(a).strip())
    for a in out:
        if not _EMAIL.match(a.split("<")[-1].rstrip(">")):
            chk.error(table, index, key, f"'{a}' is not an email address", "name@domain")
    return out


# --- [smtp] ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server; the password comes from the environment variable ``password_env``."""

    host: str
    port: int = 587
    sender: str = "callcost@localhost"
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None
    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 2.0
    ca_file: str | None = None  # CA bundle to verify the server's certificate (default: the system's)

    def password(self) -> str | None:
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(f"environment variable {self.password_env} is not set", field="smtp.password_env",
                              expected="the SMTP password in that variable")
        return value


def smtp_settings(ent: Enterprise) -> SmtpSettings | None:
    """The ``[smtp]`` table, or None when the config has none (then nothing can be mailed)."""
    tbl = ent.raw.get("smtp")
    if tbl is None:
        return None
    chk = _Check(ent)
    host = str(tbl.get("host", "")).strip()
    if not host:
        chk.error("smtp", None, "host", "is missing", "the mail server's host name")
    ints = {}
    for key, default, lo in (("port", 587, 1), ("retries", 3, 0)):
        v = tbl.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or (key == "port" and v > 65535):
            chk.error("smtp", None, key, f"{v!r} is not valid", "a port 1-65535" if key == "port" else "a count ≥ 0")
            v = default
        ints[key] = v
    floats = {}
    for key, default in (("timeout_s", 30.0), ("backoff_s", 2.0)):
        v = tbl.get(key, default)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            chk.error("smtp", None, key, f"{v!r} is not a number of seconds", "a number ≥ 0")
            v = default
        floats[key] = float(v)
    flags = {}
    for key, default in (("starttls", True), ("ssl", False)):
        v = tbl.get(key, default)
        if not isinstance(v, bool):
            chk.error("smtp", None, key, f"{v!r} is not true or false", "true | false")
            v = default
        flags[key] = v
    if flags["ssl"] and flags["starttls"] and "starttls" in tbl:
        chk.error("smtp", None, "starttls", "starttls and ssl are both true", "one of them (ssl: implicit TLS)")
    sender = str(tbl.get("from", f"callcost@{host or 'localhost'}"))
    if not _EMAIL.match(sender.split("<")[-1].rstrip(">").strip()):
        chk.error("smtp", None, "from", f"'{sender}' is not an email address", '"callcost <callcost@example.com>"')
    username = tbl.get("username")
    password_env = tbl.get("password_env")
    if username and not password_env:
        chk.error("smtp", None, "password_env", "username is set but password_env is not",
                  "the name of an environment variable holding the password")
    ca_file = tbl.get("ca_file")
    if ca_file is not None:
        ca_path = ent.root / str(ca_file)
        if not ca_path.is_file():
            chk.error("smtp", None, "ca_file", f"file not found: {ca_path}", "a PEM CA bundle")
        ca_file = str(ca_path)
    chk.done()
    return SmtpSettings(ca_file=ca_file, host=host, port=ints["port"], sender=sender, starttls=flags["starttls"] and not flags["ssl"],
                        ssl=flags["ssl"], username=str(username) if username else None,
                        password_env=str(password_env) if password_env else None, timeout_s=floats["timeout_s"],
                        retries=ints["retries"], backoff_s=floats["backoff_s"])


# --- [alerts] --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """Per extension per local day: reaching any set figure is a crossing (``None`` = not watched)."""

    calls: int | None = None
    minutes: Decimal | None = None
    cost: Decimal | None = None

    def is_set(self) -> bool:
        return any(v is not None for v in (self.calls, self.minutes, self.cost))


@dataclass(frozen=True)
class AlertSettings:
    """Possible toll fraud: watches, their thresholds, business hours, who gets the alert."""

    recipients: tuple[str, ...]
    business_start: time = time(8, 0)
    business_end: time = time(18, 0)
    business_days: frozenset[int] = frozenset(range(5))
    holidays_after_hours: bool = True
    lookback_days: int = 2
    check_every_minutes: int = 15
    watches: dict[str, Threshold] = field(default_factory=dict)
    lang: str = "en"


def _hours(text: Any, chk: _Check) -> tuple[time, time]:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(text))
    if m:
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 < 24 and m1 < 60 and (h2, m2) <= (24, 0) and m2 < 60 and (h1, m1) < (h2, m2):
            return time(h1, m1), (time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2))
    chk.error("alerts", None, "business_hours", f"'{text}' is not a time range", '"08:00-18:00" (site local time)')
    return time(8), time(18)


def _days(text: Any, chk: _Check) -> frozenset[int]:
    spec = str(text).strip().lower()
    if spec == "all":
        return frozenset(range(7))
    out: set[int] = set()
    for part in spec.split(";"):
        lo, _, hi = part.strip().partition("-")
        if lo not in _DAYS or (hi and hi not in _DAYS):
            chk.error("alerts", None, "business_days", f"'{text}' is not a list of days", '"mon-fri" or "mon;wed;fri"')
            return frozenset(range(5))
        a, b = _DAYS[lo], _DAYS[hi or lo]
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(out)


def _threshold(tbl: Any, name: str, chk: _Check) -> Threshold:
    if not isinstance(tbl, dict):
        chk.error("alerts", None, name, "is not a table", f"a table alerts.{name} with calls / minutes / cost")
        return Threshold()
    unknown = sorted(set(tbl) - {"calls", "minutes", "cost"})
    if unknown:
        chk.error("alerts", None, f"{name}.{unknown[0]}", "unknown threshold", "calls, minutes or cost")
    calls = tbl.get("calls")
    if calls is not None and (not isinstance(calls, int) or isinstance(calls, bool) or calls < 1):
        chk.error("alerts", None, f"{name}.calls", f"{calls!r} is not a positive whole number", "e.g. 20")
        calls = None
    dec = {}
    for key in ("minutes", "cost"):
        v = tbl.get(key)
        if v is None:
            dec[key] = None
            continue
        try:
            d = Decimal(str(v))
            if not d.is_finite() or d <= 0 or isinstance(v, float):
                raise InvalidOperation
            dec[key] = d
        except InvalidOperation:
            chk.error("alerts", None, f"{name}.{key}", f"{v!r} is not a positive decimal string",
                      'a string like "25.00"' if key == "cost" else "a positive number like 120")
            dec[key] = None
    return Threshold(calls=calls, minutes=dec["minutes"], cost=dec["cost"])


def alert_settings(ent: Enterprise) -> AlertSettings | None:
    """The ``[alerts]`` table, or None when fraud watch is not configured."""
    tbl = ent.raw.get("alerts")
    if tbl is None:
        return None
    chk = _Check(ent)
    recipients = _recipients(tbl.get("recipients", []), chk, "alerts", None, "recipients")
    if not recipients:
        chk.error("alerts", None, "recipients", "no recipients", '["security@example.com"]')
    start, end = _hours(tbl.get("business_hours", "08:00-18:00"), chk)
    days = _days(tbl.get("business_days", "mon-fri"), chk)
    hol = tbl.get("holidays_after_hours", True)
    if not isinstance(hol, bool):
        chk.error("alerts", None, "holidays_after_hours", f"{hol!r} is not true or false", "true | false")
        hol = True
    lookback = tbl.get("lookback_days", 2)
    if not isinstance(lookback, int) or isinstance(lookback, bool) or not 1 <= lookback <= 31:
        chk.error("alerts", None, "lookback_days", f"{lookback!r} is not 1-31", "days the alert check looks back")
        lookback = 2
    every = tbl.get("check_every_minutes", 15)
    if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= 1440:
        chk.error("alerts", None, "check_every_minutes", f"{every!r} is not 1-1440", "minutes between alert checks")
        every = 15
    known = {"recipients", "business_hours", "business_days", "holidays_after_hours", "lookback_days",
             "check_every_minutes", "lang", *WATCHES}
    lang = _lang(tbl.get("lang"), chk, "alerts", None, "lang")
    for key in sorted(set(tbl) - known):
        chk.error("alerts", None, key, "unknown key", ", ".join(sorted(known)))
    watches = {w: _threshold(tbl[w], w, chk) for w in WATCHES if w in tbl}
    if not any(t.is_set() for t in watches.values()):
        chk.error("alerts", None, None, "no threshold set",
                  "at least one of the tables alerts.after_hours, alerts.international, alerts.premium "
                  "with calls, minutes or cost")
    chk.done()
    return AlertSettings(recipients=recipients, business_start=start, business_end=end, business_days=days,
                         holidays_after_hours=hol, lookback_days=lookback, check_every_minutes=every,
                         watches=watches, lang=lang)


# --- [[schedule]] ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSettings:
    """One scheduled report: what, when (cron, in ``timezone``), which month, to whom, in which formats."""

    name: str
    report: str
    cron: str
    recipients: tuple[str, ...]
    formats: tuple[str, ...] = ("xlsx", "html")
    period: str = "previous-month"
    timezone: str = "UTC"
    params: dict[str, str] = field(default_factory=dict)
    subject: str | None = None
    lang: str = "en"
    #: recipients who read another language than ``lang`` (address → language)
    recipient_langs: dict[str, str] = field(default_factory=dict)

    def by_language(self) -> dict[str, tuple[str, ...]]:
        """Recipients grouped by the language they get the report in, the schedule's own first."""
        groups: dict[str, list[str]] = {self.lang: []}
        for address in self.recipients:
            groups.setdefault(self.recipient_langs.get(address, self.lang), []).append(address)
        return {lang: tuple(addresses) for lang, addresses in groups.items() if addresses}


def schedule_settings(ent: Enterprise, known_reports: set[str] | None = None) -> list[ScheduleSettings]:
    """Every ``[[schedule]]`` table, validated (cron syntax, report name, period, recipients)."""
    from apscheduler.triggers.cron import CronTrigger

    items = ent.raw.get("schedule", [])
    if isinstance(items, dict):
        items = [items]
    chk = _Check(ent)
    out: list[ScheduleSettings] = []
    names: set[str] = set()
    for i, s in enumerate(items):
        report = str(s.get("report", "")).strip()
        if not report:
            chk.error("schedule", i, "report", "is missing", "a report name, e.g. monthly-savings")
        elif known_reports is not None and report not in known_reports:
            chk.error("schedule", i, "report", f"unknown report '{report}'", "one of " + ", ".join(sorted(known_reports)))
        name = str(s.get("name", report)).strip()
        if name in names:
            chk.error("schedule", i, "name", f"duplicate schedule name '{name}'", "a unique name per schedule table")
        names.add(name)
        tz = str(s.get("timezone", "UTC"))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            chk.error("schedule", i, "timezone", f"unknown time zone '{tz}'", "an IANA zone like Europe/London")
            tz = "UTC"
        cron = str(s.get("cron", "")).strip()
        try:
            CronTrigger.from_crontab(cron, timezone=tz)
        except ValueError as exc:
            chk.error("schedule", i, "cron", f"'{cron}' is not a cron expression ({exc})",
                      '5 fields: minute hour day month weekday, e.g. "0 6 1 * *"')
        period = str(s.get("period", "previous-month"))
        if period not in PERIODS and not _MONTH.match(period):
            chk.error("schedule", i, "period", f"'{period}' is not a period", f"{' | '.join(PERIODS)} | YYYY-MM")
        recipients = _recipients(s.get("recipients", []), chk, "schedule", i, "recipients")
        if not recipients:
            chk.error("schedule", i, "recipients", "no recipients", '["finance@example.com"]')
        formats = s.get("formats", ["xlsx", "html"])
        formats = [f.strip() for f in formats.split(",")] if isinstance(formats, str) else list(formats)
        params = s.get("params", {})
        if not isinstance(params, dict):
            chk.error("schedule", i, "params", "is not a table", '{ by = "cost", n = 10 }')
            params = {}
        out.append(ScheduleSettings(name=name, report=report, cron=cron, recipients=recipients,
                                    formats=tuple(str(f).lower() for f in formats), period=period, timezone=tz,
                                    params={str(k): str(v) for k, v in params.items()},
                                    subject=s.get("subject"), lang=_lang(s.get("lang"), chk, "schedule", i, "lang"),
                                    recipient_langs=_recipient_langs(s.get("recipients", []), chk, "schedule", i,
                                                                     "recipients")))
    chk.done()
    return out
