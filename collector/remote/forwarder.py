"""Delivers the outbox to the centre, oldest batch first, over HTTPS; retries forever with backoff.

Why a thread with ``http.client`` (no HTTP client dependency): one request at a time, in order, is
what the protocol needs — batch *n+1* is sent only after *n* was acknowledged, so the centre sees a
unit's batches in arrival order — and the pipeline's other stages are threads too.

TLS is verified (certificate chain against ``[remote] ca`` or the system CAs, and the host name).
The token goes in ``Authorization: Bearer`` and is never logged.  A batch leaves the outbox only on a
2xx answer; anything else (refused connection, timeout, 401, 5xx) keeps it and waits 0.5 s, doubling
to ``retry_max_s``, and tries again — without end, since a PBX's calls must not be given up on.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
from datetime import UTC, datetime
from typing import Any

from collector import wire
from collector.remote.outbox import Outbox, OutboxItem
from collector.remote.settings import RemoteSettings
from warehouse.errors import CallcostError, first_line

log = logging.getLogger("callcost.collector.remote")


class ForwardError(CallcostError):
    """The centre did not acknowledge a batch (the message never contains the token).

    Not ``DeliveryError``: that is the SMTP server refusing a report email (``reports.delivery``).
    """


class Forwarder:
    def __init__(self, settings: RemoteSettings, outbox: Outbox) -> None:
        self.settings = settings
        self.outbox = outbox
        self._token = settings.token()  # read once at start: a missing variable fails `collect` right away
        self._context = ssl.create_default_context(cafile=str(settings.ca) if settings.ca else None)
        self._conn: http.client.HTTPSConnection | None = None
        self._wake = threading.Event()
        self._stopping = False
        self.centre_online: bool | None = None  # unknown until the first attempt
        self.last_error: str | None = None
        self.last_ack_at: float | None = None
        self.last_acked_batch: int | None = None
        self.sent_batches = 0
        self.duplicates = 0
        self._thread = threading.Thread(target=self._loop, name="remote-forwarder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Keep delivering up to ``final_drain_s``; whatever is left stays in the outbox for the next start."""
        deadline = time.monotonic() + self.settings.final_drain_s
        while self.outbox.head() is not None and time.monotonic() < deadline and self._thread.is_alive():
            self._wake.set()
            time.sleep(0.05)
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(self.settings.timeout_s + 5)
        self._disconnect()
        left = self.outbox.stats()
        if left["backlog_batches"]:
            log.warning("stopping with %d batches (%d calls) not yet acknowledged by %s; they are sent on the next start",
                        left["backlog_batches"], left["backlog_rows"], self.settings.centre)

    def status(self) -> dict[str, Any]:
        return {"mode": "remote-unit", "unit": self.settings.unit, "centre": self.settings.centre,
                # "database" keeps the health/metrics shape of a central collector: here the centre is the store
                "database": "online" if self.centre_online else "offline", "centre_online": self.centre_online,
                **self.outbox.stats(), "last_id": self.outbox.last_id, "last_acked_batch": self.last_acked_batch,
                "last_ack_at": _iso(self.last_ack_at), "last_error": self.last_error,
                "sent_batches": self.sent_batches, "outbox": str(self.outbox.folder)}

    # --- internals ---------------------------------------------------------------------------------

    def _loop(self) -> None:
        delay = self.settings.retry_initial_s
        while not self._stopping:
            item = self.outbox.head()
            if item is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                answer = self._send(item)
            except Exception as exc:  # noqa: BLE001 - whatever it was, the batch stays and is retried
                if not isinstance(exc, (ForwardError, OSError, http.client.HTTPException)):
                    log.exception("unexpected error sending batch %d", item.batch_id)
                self._disconnect()
                self.centre_online = False
                self.last_error = first_line(exc, with_type=True)
                st = self.outbox.stats()
                log.warning("centre %s did not take batch %d (%s); backlog %d batches / %d calls, oldest %.0f s; "
                            "next try in %.1f s", self.settings.centre, item.batch_id, self.last_error,
                            st["backlog_batches"], st["backlog_rows"], st["oldest_age_s"] or 0, delay)
                self._wake.wait(delay)
                self._wake.clear()
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            if self.centre_online is False:
                log.info("centre %s reachable again", self.settings.centre)
            self.outbox.remove(item)
            self.centre_online, self.last_error = True, None
            self.last_ack_at, self.last_acked_batch = time.time(), item.batch_id
            self.sent_batches += 1
            self.duplicates += answer.get("status") == "duplicate"
            delay = self.settings.retry_initial_s

    def _send(self, item: OutboxItem) -> dict[str, Any]:
        reused = self._conn is not None
        try:
            return self._post(item)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            if not reused:
                raise
            # the centre closed an idle keep-alive connection (or restarted): once more on a new one —
            # safe, the centre takes a batch idempotently
            self._disconnect()
            return self._post(item)

    def _post(self, item: OutboxItem) -> dict[str, Any]:
        body = self.outbox.read(item)
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": wire.CONTENT_TYPE,
                   wire.H_UNIT: self.settings.unit, wire.H_BATCH: str(item.batch_id), wire.H_SHA256: wire.sha256(body)}
        conn = self._connection()
        conn.request("POST", wire.PATH, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
        if response.will_close:
            self._disconnect()
        if not 200 <= response.status < 300:
            raise ForwardError(f"HTTP {response.status} {text[:200].decode('utf-8', 'replace').strip()}")
        try:
            return json.loads(text or b"{}")
        except ValueError:
            return {}

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self.settings.host, self.settings.port, context=self._context,
                                                     timeout=self.settings.timeout_s)
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None



def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat() if t else None
