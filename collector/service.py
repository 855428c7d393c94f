"""``callcost collect``: every live source of the config, one pipeline, until SIGINT/SIGTERM, then a graceful drain.

Build order matters for "never lose": the pipeline's workers start first, then the raw-dump
recovery (what a killed predecessor received but never stored, :mod:`collector.recovery`), then the
transports; on stop the transports close (each session queues its last records), then the queues
drain through rating and storage, then the raw dumps are fsync'd and closed, and only then is the
dump marked as stored (so the next start has nothing to recover).

The main database may be down at start: the store then creates its schema later, batches go to the
offline spool, and recovery waits for the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from collector.connectors.base import PbxContext, connector_for
from collector.failover import FailoverWriter
from collector.pipeline import Pipeline, PipelineConfig
from collector.rawdump import RawDumpWriter
from collector.recovery import DumpRecovery
from collector.settings import Settings, settings_for
from collector.streams import Intake
from collector.transports.base import Transport, transport_for
from warehouse.config import Enterprise
from analytics.rating.chains_store import join_stored
from analytics.rating.stage import RatingStage
from warehouse.store import Store

log = logging.getLogger("callcost.collector")


def pipeline_config(settings: Settings) -> PipelineConfig:
    return PipelineConfig(batch_records=int(settings["batch_records"]), batch_ms=int(settings["batch_ms"]),
                          queue_bytes=int(float(settings["queue_mb"]) * 1024 * 1024),
                          queue_batches=int(settings["queue_batches"]), parse_workers=int(settings["parse_workers"]))


def pbx_context(ent: Enterprise, pbx_id: str) -> PbxContext:
    pbx = ent.pbxs[pbx_id]
    site = ent.sites[pbx.site]
    return PbxContext(pbx_id=pbx.id, site=pbx.site, timezone=site.timezone, options=dict(pbx.options),
                      voicemail_devices=site.voicemail_devices)


@dataclass
class CollectorService:
    """The running collector for one enterprise (also usable from tests and benchmarks)."""

    ent: Enterprise
    store: Store | None = None
    pbx_ids: list[str] | None = None  # default: every PBX whose source is not "import"
    settings: Settings = field(init=False)
    pipeline: Pipeline = field(init=False)
    transports: dict[str, Transport] = field(init=False, default_factory=dict)
    dumps: dict[str, RawDumpWriter] = field(init=False, default_factory=dict)
    recovery: DumpRecovery = field(init=False)

    def __post_init__(self) -> None:
        for pid in self.pbx_ids or ():
            self.ent.pbx(pid)  # an unknown --pbx id is a config error before anything opens
        self.settings = settings_for(self.ent)
        self.store = self.store or Store(self.ent, require_db=False)  # the DB may be down at start
        stage = RatingStage(self.ent)
        store = self.store

        def join(calls: pa.Table, marks_features: bool) -> pa.Table:
            return join_stored(stage, calls, store, marks_features=marks_features).calls

        writer = FailoverWriter(store, self.ent.storage.offline, join=join)  # [storage] offline: the spool folder
        self.pipeline = Pipeline(store, stage, pipeline_config(self.settings), writer)
        ids = self.pbx_ids if self.pbx_ids is not None else [
            p.id for p in self.ent.pbxs.values() if p.source_kind != "import"]
        connectors = {}
        for pid in ids:
            pbx = self.ent.pbxs[pid]
            s = settings_for(self.ent, pbx)
            dump = RawDumpWriter(self.ent.storage.raw_dump, pid, s.dump_policy())
            intake = Intake(self.pipeline, pid, connector_for(pbx.type, pbx_context(self.ent, pid)), dump)
            self.dumps[pid] = dump
            self.transports[pid] = transport_for(self.ent, pbx, intake, s)
            connectors[pid] = connector_for(pbx.type, pbx_context(self.ent, pid))  # its own: see DumpRecovery
        # which dump files a crashed predecessor may have left unstored is fixed now, before new ones open
        self.recovery = DumpRecovery(self.pipeline, self.ent.storage.offline, self.ent.storage.raw_dump, connectors)

    async def start(self) -> None:
        self.pipeline.start()
        self.recovery.start()
        for t in self.transports.values():
            await t.start()

    async def stop(self) -> None:
        """Close every source, drain the pipeline, make the raw dumps durable."""
        for t in self.transports.values():
            await t.stop()
        await asyncio.to_thread(self.recovery.stop)
        await asyncio.to_thread(self.pipeline.drain)
        if self.pipeline.writer is not None:
            await asyncio.to_thread(self.pipeline.writer.close)
        for d in self.dumps.values():
            d.close()
        if not self.pipeline.errors:  # everything received is stored or spooled: nothing to recover next time
            self.recovery.mark_stored(self._newest_dump)

    def _newest_dump(self, pbx: str) -> Path | None:
        """The newest dump file of *pbx*: this process's last one, else the newest one recovery read."""
        files = self.recovery.files.get(pbx) or []
        return self.dumps[pbx].current_path if pbx in self.dumps and self.dumps[pbx].current_path else (
            files[-1] if files else None)

    async def _watch_pipeline(self, stop: asyncio.Event) -> None:
        """A dead stage (e.g. the database refused a batch) stops the service instead of hiding."""
        while not self.pipeline.errors:
            await asyncio.sleep(0.5)
        log.error("a pipeline stage failed (%r); stopping", self.pipeline.errors[0])
        stop.set()

    async def run(self, stop: asyncio.Event | None = None, health_port: int | None = None) -> None:
        """Run until *stop* is set or SIGINT/SIGTERM arrives."""
        from collector.health import HealthServer

        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        await self.start()
        port = health_port if health_port is not None else int(self.settings["health_port"])
        health = HealthServer(self, str(self.settings["health_host"]), port) if port else None
        if health:
            await health.start()
            log.info("health endpoint on http://%s:%d/health and /metrics", *health.address)
        watcher = asyncio.create_task(self._watch_pipeline(stop))
        try:
            await stop.wait()
        finally:
            watcher.cancel()
            log.info("stopping: closing sources and draining the pipeline")
            await self.stop()
            if health:
                await health.stop()
