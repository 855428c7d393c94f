"""``callcost collect``: every live source of the config, one pipeline, until SIGINT/SIGTERM, then a graceful drain.

Build order matters for "never lose": the pipeline's workers start first, then the raw-dump
recovery (what a killed predecessor received but never stored, :mod:`collector.recovery`), then the
transports; on stop the transports close (each session queues its last records), then the queues
drain through rating and storage, then the raw dumps are fsync'd and closed, and only then is the
dump marked as stored (so the next start has nothing to recover).

On PostgreSQL each link is held through an advisory lock (:mod:`collector.leases`): a second collector of
the same config stands by and takes a link over, raw-dump recovery first, when its holder dies.

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
from collector.leases import POLL_S, LinkLeases, standby_wanted
from collector.pipeline import Pipeline, PipelineConfig
from collector.rawdump import RawDumpWriter
from collector.recovery import DumpRecovery
from collector.settings import Settings, settings_for
from collector.streams import Intake
from collector.transports.base import Transport, transport_for
from warehouse.config import Enterprise
from analytics.rating.chains_store import join_stored
from analytics.rating.stage import RatingStage
from warehouse.database import is_outage
from warehouse.errors import first_line
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
    standby: bool | None = None  # hold links through PostgreSQL advisory locks; default: standby_wanted(ent)
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
        self._recovery_connectors = connectors
        wanted = standby_wanted(self.ent) if self.standby is None else self.standby
        self.leases = LinkLeases(self.ent.storage.database) if wanted else None
        # which dump files a crashed predecessor may have left unstored is fixed now, before new ones open;
        # a link held through a lease is recovered when this process takes it (its holder is gone by then)
        self.recovery = DumpRecovery(self.pipeline, self.ent.storage.offline, self.ent.storage.raw_dump,
                                     {} if self.leases else connectors)
        self.recoveries: list[DumpRecovery] = [self.recovery]
        self.started: set[str] = set()
        self._lease_task: asyncio.Task | None = None
        self._said_standby = False

    async def start(self) -> None:
        self.pipeline.start()
        self.recovery.start()
        if self.leases is None:
            for pid in self.transports:
                await self._serve(pid)
            return
        try:
            await self._take_free_links()  # the links nobody holds start now, before start() returns
        except Exception as exc:
            if not is_outage(exc):
                raise
            # no lock to be had: serve every link (records go to the offline spool) and take the locks once
            # the database answers; a link another collector holds by then is given up (ids are idempotent)
            log.warning("PostgreSQL does not answer, so no link lock can be taken: serving every link until it "
                        "does (%s)", first_line(exc, 200))
            for pid in self.transports:
                await self._serve(pid)
        self._lease_task = asyncio.create_task(self._stand_by())

    async def _serve(self, pid: str) -> bool:
        """Start *pid*'s link: with a lease, recovery of the dumps its previous holder left first."""
        if self.leases is not None:
            recovery = DumpRecovery(self.pipeline, self.ent.storage.offline, self.ent.storage.raw_dump,
                                    {pid: self._recovery_connectors[pid]})
            self.recoveries.append(recovery)
            recovery.start()
        transport = self.transports[pid]
        try:
            await transport.start()
        except OSError as exc:
            if self.leases is None:
                raise
            log.error("PBX %s: cannot start %s (%s); the link is left to another collector", pid,
                      transport.pbx.source, exc)
            return False
        self.started.add(pid)
        return True

    async def _take_free_links(self) -> None:
        """Take the lock of each link not held yet and start it; give up a link served without its lock
        (during an outage) that another collector holds now."""
        assert self.leases is not None
        await asyncio.to_thread(self.leases.alive)  # a lost lock connection is dropped: its locks are gone
        for pid in self.transports:
            if pid in self.leases.held:
                continue
            if await asyncio.to_thread(self.leases.try_take, pid):
                if pid in self.started or await self._serve(pid):
                    log.info("PBX %s: this collector holds the link (%s)", pid, self.transports[pid].pbx.source)
                else:
                    await asyncio.to_thread(self.leases.give_up, pid)
            elif pid in self.started:
                log.warning("PBX %s: another collector holds the link now; this one stops serving it", pid)
                await self.transports[pid].stop()
                self.started.discard(pid)
        waiting = sorted(set(self.transports) - self.started)
        if waiting and not self._said_standby:
            log.info("standby for %s: another collector holds %s", ", ".join(waiting),
                     "it" if len(waiting) == 1 else "them")
            self._said_standby = True

    async def _stand_by(self) -> None:
        """Every ``POLL_S``: take the links whose holder is gone."""
        assert self.leases is not None
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self._take_free_links()
            except Exception as exc:  # noqa: BLE001 — an outage: the links served go on, the next poll retries
                log.warning("link locks: PostgreSQL does not answer (%s); retrying", first_line(exc, 200))
                await asyncio.to_thread(self.leases.drop)

    async def stop(self) -> None:
        """Close every source, drain the pipeline, make the raw dumps durable."""
        if self._lease_task is not None:
            self._lease_task.cancel()
        for pid, t in self.transports.items():
            if pid in self.started:
                await t.stop()
        for recovery in self.recoveries:
            await asyncio.to_thread(recovery.stop)
        await asyncio.to_thread(self.pipeline.drain)
        if self.pipeline.writer is not None:
            await asyncio.to_thread(self.pipeline.writer.close)
        for d in self.dumps.values():
            d.close()
        if not self.pipeline.errors:  # everything received is stored or spooled: nothing to recover next time
            for recovery in self.recoveries:
                recovery.mark_stored(lambda pbx, r=recovery: self._newest_dump(pbx, r))
        if self.leases is not None:  # only now: a standby taking over finds nothing of ours in flight
            await asyncio.to_thread(self.leases.close)

    def _newest_dump(self, pbx: str, recovery: DumpRecovery) -> Path | None:
        """The newest dump file of *pbx*: this process's last one, else the newest one *recovery* read."""
        files = recovery.files.get(pbx) or []
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
