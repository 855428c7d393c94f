"""``callcost collect --remote-unit``: the ordinary collector for this site's PBXs, storing into the outbox.

Composition, not a second service: :class:`~collector.service.CollectorService` builds the transports,
raw dumps and pipeline exactly as on a central collector; only its writer is replaced by an
:class:`~collector.remote.writer.OutboxWriter` before anything starts.  Calls are still parsed (and
rated with the unit's config, which is discarded) on the unit; the centre rates them with its tariffs.
The unit's own SQL database (``[storage] database``, SQLite by default) holds only the accounting of
what went into the outbox (see :mod:`collector.remote.writer`), never calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from collector.remote.settings import RemoteSettings, remote_settings
from collector.remote.writer import OutboxWriter
from collector.service import CollectorService
from warehouse.config import Enterprise
from warehouse.store import Store


@dataclass
class RemoteUnit:
    ent: Enterprise
    store: Store | None = None
    pbx_ids: list[str] | None = None  # default: every PBX with a live source other than https:
    settings: RemoteSettings = field(init=False)
    service: CollectorService = field(init=False)
    writer: OutboxWriter = field(init=False)

    def __post_init__(self) -> None:
        self.settings = remote_settings(self.ent)
        ids = self.pbx_ids if self.pbx_ids is not None else [
            p.id for p in self.ent.pbxs.values() if p.source_kind not in ("import", "https")]
        self.settings.token()  # a missing token fails before anything is built
        self.service = CollectorService(self.ent, store=self.store, pbx_ids=ids, standby=False)  # its outbox is its own
        replaced = self.service.pipeline.writer
        if replaced is not None:
            replaced.close()
        self.writer = OutboxWriter(self.settings, self.service.pipeline.engine)
        self.service.pipeline.writer = self.writer  # a BatchWriter, like the one replaced

    @property
    def transports(self):
        return self.service.transports

    async def start(self) -> None:
        await self.service.start()

    async def stop(self) -> None:
        await self.service.stop()  # drains the pipeline into the outbox, then closes the writer (forwarder)

    async def run(self, stop: asyncio.Event | None = None, health_port: int | None = None) -> None:
        await self.service.run(stop, health_port)
