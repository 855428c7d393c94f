"""The interface of the pipeline's store stage: where a rated batch goes when it leaves the pipeline.

Two writers exist — :class:`collector.failover.FailoverWriter` (the main database, or the offline spool
while it is down) and :class:`collector.remote.writer.OutboxWriter` (a remote unit's outbox) — and the
pipeline, the live streams, the health page and the HTTPS receiver take either.  What they may be asked
is declared here, once, with defaults for what only one of them does, so no caller probes a writer with
``getattr`` and no assignment needs a ``type: ignore``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from warehouse import ingest
from warehouse.database import PreloadedCalls


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What became of one batch: rows inserted and already stored, or *spooled* (durable, not yet in the DB)."""

    inserted: int
    duplicates: int
    spooled: bool


class BatchWriter(abc.ABC):
    """Takes the pipeline's rated batches durably: once :meth:`write` returns, the batch may be acknowledged."""

    @property
    def online(self) -> bool:
        """Whether a write now reaches its final home (the database); a writer without one is always online."""
        return True

    def preload(self, rated: pa.Table) -> PreloadedCalls | None:
        """The database's early share of writing *rated*, done on the rating thread; None when there is none.

        The default: nothing to do ahead (an outbox has no database).  Whoever gets a result releases it.
        """
        return None

    @abc.abstractmethod
    def write(self, rated: pa.Table, quarantine: list[dict[str, Any]], batch: dict[str, Any],
              segments: list[ingest.SegmentRow], started: float, key: str | None = None,
              preloaded: PreloadedCalls | None = None) -> WriteOutcome:
        """Store one batch — rated calls, quarantined records, its accounting — durably, under *key*."""

    @abc.abstractmethod
    def record_event(self, pbx: str, stream: str, kind: str, detail: str = "", key: str | None = None) -> None:
        """Record a link event (connect, disconnect, gap) in order with the batches."""

    @abc.abstractmethod
    def status(self) -> dict[str, Any]:
        """The writer's state for the health page (``storage``)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop background work; batches written so far stay durable."""
