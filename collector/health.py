"""The health endpoint of a running collector: ``/health`` (JSON) and ``/metrics`` (Prometheus text).

A hand-written HTTP/1.0 responder on the collector's own event loop: two read-only GET routes do
not justify a web framework, and being on the loop means it answers even when workers are busy.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.service import CollectorService


def health_document(service: CollectorService) -> dict[str, Any]:
    now = time.time()
    sources = {}
    for pid, t in service.transports.items():
        m = service.pipeline.metrics[pid]
        sources[pid] = {**t.describe(), "bytes_received": m.bytes_received, "records": m.records_received,
                        "parsed": m.parsed, "quarantined": m.quarantined, "stored": m.stored, "rated": m.rated,
                        "sessions_open": m.sessions_open,
                        "last_record_age_s": round(now - m.last_record_at, 3) if m.last_record_at else None,
                        "lag_s": round(m.lag_s, 3)}
    errors = [repr(e) for e in service.pipeline.errors]
    writer = service.pipeline.writer
    return {"status": "failing" if errors else "ok", "errors": errors, "queues": service.pipeline.queue_depths(),
            "batches_stored": service.pipeline.batches_stored, "sources": sources,
            "storage": writer.status() if writer is not None else {"database": "online"}}


def prometheus_text(service: CollectorService) -> str:
    doc = health_document(service)
    lines = ["# HELP callcost_queue_depth Items (bytes for parse, rows for rate, batches for store) queued per stage.",
             "# TYPE callcost_queue_depth gauge"]
    lines += [f'callcost_queue_depth{{stage="{k}"}} {v:g}' for k, v in doc["queues"].items()]
    counters = {"bytes_received": "Bytes received from the source.", "records": "Records received.",
                "parsed": "Records parsed.", "quarantined": "Records quarantined.", "stored": "Records stored.",
                "rated": "Records rated."}
    for name, text in counters.items():
        lines += [f"# HELP callcost_{name}_total {text}", f"# TYPE callcost_{name}_total counter"]
        lines += [f'callcost_{name}_total{{pbx="{p}"}} {s[name]}' for p, s in doc["sources"].items()]
    gauges = {"last_record_age_s": "Seconds since the last record from the PBX arrived (-1: none yet).",
              "lag_s": "Seconds from arrival to storage for the last stored batch.",
              "sessions_open": "Open links (TCP/RSP connections, serial port)."}
    for name, text in gauges.items():
        metric = f"callcost_{name.removesuffix('_s')}_seconds" if name.endswith("_s") else f"callcost_{name}"
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{pbx="{p}"}} {s[name] if s[name] is not None else -1}' for p, s in doc["sources"].items()]
    lines += ["# HELP callcost_batches_stored_total Batches stored.", "# TYPE callcost_batches_stored_total counter",
              f"callcost_batches_stored_total {doc['batches_stored']}"]
    st = doc["storage"]
    lines += ["# HELP callcost_database_online 1 while the main SQL database takes writes, 0 while batches are spooled.",
              "# TYPE callcost_database_online gauge", f"callcost_database_online {int(st['database'] == 'online')}"]
    for name, text in {"backlog_batches": "Batches waiting in the offline spool.",
                       "backlog_rows": "Calls waiting in the offline spool."}.items():
        lines += [f"# HELP callcost_offline_{name} {text}", f"# TYPE callcost_offline_{name} gauge",
                  f"callcost_offline_{name} {st.get(name, 0)}"]
    age = st.get("oldest_age_s")
    lines += ["# HELP callcost_offline_oldest_age_seconds Age of the oldest spooled batch (-1: none).",
              "# TYPE callcost_offline_oldest_age_seconds gauge",
              f"callcost_offline_oldest_age_seconds {age if age is not None else -1}"]
    return "\n".join(lines) + "\n"


class HealthServer:
    def __init__(self, service: CollectorService, host: str, port: int) -> None:
        self.service, self.host, self.port = service, host, port
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, self.host, self.port)

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            if path.startswith("/metrics"):
                status, ctype, body = "200 OK", "text/plain; version=0.0.4", prometheus_text(self.service).encode()
            elif path.startswith("/health") or path == "/":
                doc = health_document(self.service)
                status = "200 OK" if doc["status"] == "ok" else "503 Service Unavailable"
                ctype, body = "application/json", json.dumps(doc, indent=1).encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /health or /metrics\n"
            writer.write(f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
