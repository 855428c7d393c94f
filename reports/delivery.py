"""Email delivery of reports and alerts over SMTP: STARTTLS or implicit TLS, AUTH, retried with backoff.

One message per delivery: the report's HTML page is the body (a plain-text part beside it for mail
readers that show no HTML), the workbook and any other rendered file are attachments.  A send that
fails for a *transient* reason — the server refuses the connection, drops it, times out or answers
4xx — is retried ``retries`` times, waiting ``backoff_s``, then twice as long each time; every failed
attempt is logged (logger ``callcost.delivery``).  A permanent refusal (5xx: unknown recipient, bad
password) is not retried: waiting would not change the answer.

    >>> from reports.delivery import mail_files
    >>> mail_files(smtp, ["finance@example.com"], "Monthly savings 2026-10", paths)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import mimetypes
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from analytics.reporting.i18n import Msg, N_, translator
from reports.settings import SmtpSettings
from warehouse.errors import CallcostError

__all__ = ["DeliveryError", "build_message", "mail_files", "send"]

log = logging.getLogger("callcost.delivery")


class DeliveryError(CallcostError):
    """The message could not be handed to the SMTP server (after the retries, or refused for good)."""


#: The text part of a message whose only body is HTML (a mail reader that shows text only prints it).
HTML_ONLY = N_("This message has an HTML body; open it in a mail reader that shows HTML.")


def build_message(sender: str, recipients: Sequence[str], subject: str, *, html: str | None = None,
                  text: str = "", attachments: Sequence[Path] = (), lang: str | None = None) -> EmailMessage:
    """A MIME message: text (and HTML alternative) body, files attached with their content types; the
    fallback text in *lang*."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">") or "callcost")
    msg.set_content(text or translator(lang).text(HTML_ONLY))
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for path in attachments:
        ctype, _ = mimetypes.guess_type(path.name)
        if path.suffix == ".xlsx":
            ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return msg


def _transient(exc: Exception) -> bool:
    """Worth another try: connection trouble, or a 4xx answer (greylisting, server busy)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


def _send_once(smtp: SmtpSettings, msg: EmailMessage) -> None:
    context = ssl.create_default_context(cafile=smtp.ca_file) if (smtp.ssl or smtp.starttls) else None
    if smtp.ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    with client:
        client.ehlo()
        if smtp.starttls:
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password() or "")
        client.send_message(msg)


def send(smtp: SmtpSettings, msg: EmailMessage, *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Hand *msg* to the server, retrying transient failures with exponential backoff; return attempts used."""
    attempts = smtp.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            _send_once(smtp, msg)
        except (smtplib.SMTPException, OSError) as exc:
            if not _transient(exc) or attempt == attempts:
                log.error("send '%s' to %s via %s:%d failed for good on attempt %d/%d: %s",
                          msg["Subject"], msg["To"], smtp.host, smtp.port, attempt, attempts, exc)
                raise DeliveryError(f"cannot send '{msg['Subject']}' via {smtp.host}:{smtp.port} "
                                    f"(attempt {attempt}/{attempts}): {exc}") from exc
            wait = smtp.backoff_s * 2 ** (attempt - 1)
            log.warning("send '%s' via %s:%d failed on attempt %d/%d: %s; retrying in %.1f s",
                        msg["Subject"], smtp.host, smtp.port, attempt, attempts, exc, wait)
            sleep(wait)
        else:
            log.info("sent '%s' to %s via %s:%d (attempt %d/%d)", msg["Subject"], msg["To"], smtp.host, smtp.port,
                     attempt, attempts)
            return attempt
    raise AssertionError("unreachable")  # pragma: no cover


def mail_files(smtp: SmtpSettings, recipients: Sequence[str], subject: str, paths: Sequence[Path], *,
               sleep: Callable[[float], None] = time.sleep, lang: str | None = None) -> int:
    """Mail rendered report files: the ``.html`` one is the body, the ``.txt`` one the text part, the rest attached.

    Without an HTML file the text is the only body; without either, a line naming the attachments.
    """
    by_ext = {p.suffix: p for p in paths}
    html = by_ext[".html"].read_text(encoding="utf-8") if ".html" in by_ext else None
    text = by_ext[".txt"].read_text(encoding="utf-8") if ".txt" in by_ext else translator(lang).text(
        Msg("Attached: {files}", files=", ".join(p.name for p in paths if p.suffix != ".html")))
    attachments = [p for p in paths if p.suffix not in (".html", ".txt")]
    msg = build_message(smtp.sender, recipients, subject, html=html, text=text, attachments=attachments, lang=lang)
    return send(smtp, msg, sleep=sleep)
