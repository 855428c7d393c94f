"""The immediate fraud alert: look at the last days of calls, mail every threshold crossing not mailed yet.

Run every few minutes by the scheduler (``[alerts] check_every_minutes``), and on demand by
``callcost schedule check-alerts``.  It reads the lake's last ``lookback_days`` UTC days (a day's calls
land as they are collected), finds crossings exactly as the ``fraud-watch`` report does
(:func:`reports.fraud_watch.crossings`), and mails the new ones to ``[alerts] recipients`` in one
message.  Each crossing is recorded in ``alert_notices`` before the mail goes, so it is alerted once;
if the mail cannot be sent the records are released and the next check tries again.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone

from analytics.reporting.i18n import N_, translator
from reports.delivery import build_message, send
from reports.fraud_watch import WATCH_TITLES, crossings, lookback_window, watched_calls
from reports.figures import minutes
from reports.ledger import Ledger
from reports.settings import alert_settings, smtp_settings
from warehouse.config import Enterprise
from warehouse.errors import ConfigError

__all__ = ["AlertRun", "check_alerts"]

log = logging.getLogger("callcost.alerts")


@dataclass(frozen=True)
class AlertRun:
    """What one check found: crossings in the window, and the ones mailed now (not mailed before)."""

    found: int
    sent: tuple[tuple[str, str, str, str, str], ...]


def _body(rows: list[tuple[str, str, str, str, str]], currency: str, lang: str = "en") -> tuple[str, str]:
    """The alert's plain text and HTML, in *lang* (the figures column stays as the check wrote it)."""
    tr = translator(lang)
    n = tr.count(len(rows))
    lines = [tr.gettext("{n} new threshold crossing(s) — possible toll fraud:").format(n=n), ""]
    cells = []
    for watch, day, ext, site, detail in rows:
        title = html.escape(tr.gettext(WATCH_TITLES[watch]))
        lines.append("  " + tr.gettext("{day}  extension {ext} ({site})  {watch}: {detail}").format(
            day=day, ext=ext, site=site, watch=tr.gettext(WATCH_TITLES[watch]), detail=detail))
        cells.append(f"<tr><td>{html.escape(day)}</td><td>{html.escape(ext)}</td><td>{html.escape(site)}</td>"
                     f"<td>{title}</td><td>{html.escape(detail)}</td></tr>")
    amounts = tr.gettext("Amounts in {currency}.").format(currency=currency)
    lines += ["", amounts + " " + tr.gettext("Check the extension's calls; block the route if they are not genuine.")]
    head = "".join(f"<th>{html.escape(tr.gettext(h))}</th>" for h in (N_("Day"), N_("Extension"), N_("Site"),
                                                                       N_("Watch"), N_("Figures")))
    page = (f"<!DOCTYPE html><html lang='{lang.replace('_', '-')}'><head><meta charset='utf-8'><title>"
            + html.escape(tr.gettext("callcost fraud alert")) + "</title><style>"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}</style></head><body>"
            "<h2>" + html.escape(tr.gettext("{n} new threshold crossing(s): possible toll fraud").format(n=n))
            + f"</h2><table><tr>{head}</tr>" + "".join(cells) + f"</table><p>{html.escape(amounts)}</p></body></html>")
    return "\n".join(lines) + "\n", page


def check_alerts(ent: Enterprise, *, today: date | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> AlertRun:
    """Find crossings in the look-back window and mail the new ones; return what was found and sent."""
    alerts = alert_settings(ent)
    if alerts is None:
        return AlertRun(0, ())
    smtp = smtp_settings(ent)
    if smtp is None:
        raise ConfigError("the alerts table is set but the smtp table is not: alerts cannot be mailed",
                          file=str(ent.path), field="smtp", expected="an smtp table (see docs/reports.md)")
    start, end = lookback_window(today or datetime.now(timezone.utc).date(), alerts)
    hits = crossings(watched_calls(ent.storage.lake, start, end, alerts, ent), alerts)
    keys = [(r["watch"], f"{r['local_day']:%Y-%m-%d}", str(r["extension"]), str(r["site"]),
             f"{int(r['calls'])} calls, {minutes(r['seconds'])} min, cost {r['cost']} — reached {r['crossed']}")
            for r in hits.to_dict("records")]
    ledger = Ledger(ent.storage.database)
    try:
        fresh = ledger.claim_notices(keys)
        if fresh:
            text, page = _body(fresh, ent.currency, alerts.lang)
            subject = translator(alerts.lang).gettext("[callcost] fraud alert: {n} threshold crossing(s)")
            msg = build_message(smtp.sender, alerts.recipients, subject.format(n=len(fresh)), html=page, text=text)
            try:
                send(smtp, msg, sleep=sleep)
            except Exception:
                ledger.release_notices(fresh)
                raise
            log.warning("fraud alert sent to %s: %d crossing(s)", ", ".join(alerts.recipients), len(fresh))
    finally:
        ledger.close()
    return AlertRun(len(keys), tuple(fresh))
