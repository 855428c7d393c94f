"""The batch a remote unit sends to the centre: one Arrow IPC stream, zstd-compressed, and its HTTP headers.

Why Arrow IPC: the parsed calls already are an Arrow table, so the centre gets exact types (UTC
timestamps, integers) with no CSV/JSON round trip, and IPC buffer compression (zstd) is built into
pyarrow — no extra dependency.  The batch's other parts (quarantined records, segment accounting, or a
link event) are small and travel as one JSON document in the schema metadata.

The body is built once, stored in the outbox as-is and re-sent byte for byte, so its SHA-256 is the
batch's identity: the centre acknowledges a resend of the same bytes without counting it twice.

It sits beside ``remote/`` and ``transports/`` rather than in either: both ends speak it (the remote
unit's writer encodes, the centre's ``https`` transport decodes), and neither end imports the other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from warehouse import ingest
from warehouse.errors import CallcostError
from warehouse.schema import PARSED_SCHEMA

PATH = "/v1/batches"
CONTENT_TYPE = "application/vnd.apache.arrow.stream"
H_UNIT = "X-Callcost-Unit"
H_BATCH = "X-Callcost-Batch"
H_SHA256 = "X-Callcost-Sha256"
VERSION = 1
_META_KEY = b"callcost.remote"


class WireError(CallcostError, ValueError):
    """A body that is not a valid remote batch (the centre answers 400)."""


@dataclass(slots=True)
class RemoteBatch:
    """What one POST carries: parsed calls plus their accounting, or a single link event (``event`` set)."""

    unit: str
    batch_id: int
    calls: pa.Table
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    batch: dict[str, Any] = field(default_factory=dict)
    segments: list[ingest.SegmentRow] = field(default_factory=list)
    event: dict[str, Any] | None = None

    @property
    def pbxs(self) -> set[str]:
        """Every PBX the batch speaks for (the centre accepts only its own ``https:`` PBXs)."""
        found = {s.pbx for s in self.segments} | {q["pbx"] for q in self.quarantine}
        if self.event is not None:
            found.add(self.event["pbx"])
        if self.calls.num_rows and "pbx" in self.calls.column_names:
            found |= set(self.calls.column("pbx").unique().to_pylist())
        return found


def parsed_columns(rated: pa.Table) -> pa.Table:
    """Only the parsed (vendor) columns: the centre rates with its own tariffs, so the unit's rating is not sent."""
    return rated.select([c for c in PARSED_SCHEMA.names if c in rated.column_names])


def encode(batch: RemoteBatch) -> bytes:
    doc = {"version": VERSION, "unit": batch.unit, "batch_id": batch.batch_id,
           "quarantine": [ingest.quarantine_to_json(q) for q in batch.quarantine], "batch": batch.batch,
           "segments": [{**asdict(s), "received_at": s.received_at.isoformat()} for s in batch.segments],
           "event": batch.event}
    table = batch.calls.replace_schema_metadata({_META_KEY: json.dumps(doc).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def decode(body: bytes) -> RemoteBatch:
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        meta = dict(table.schema.metadata or {})
        doc = json.loads(meta.pop(_META_KEY))
        if doc.get("version") != VERSION:
            raise WireError(f"unsupported batch version {doc.get('version')!r}")
        return RemoteBatch(
            unit=str(doc["unit"]), batch_id=int(doc["batch_id"]), calls=table.replace_schema_metadata(meta or None),
            quarantine=[ingest.quarantine_from_json(q) for q in doc["quarantine"]], batch=dict(doc["batch"]),
            segments=[ingest.SegmentRow(**{**s, "received_at": datetime.fromisoformat(s["received_at"])})
                      for s in doc["segments"]],
            event=doc.get("event"))
    except WireError:
        raise
    except (pa.ArrowException, KeyError, TypeError, ValueError) as exc:
        raise WireError(f"not a remote batch: {type(exc).__name__}: {exc}") from exc


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
