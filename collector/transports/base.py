"""The interface of a live source and the entry-point registry that picks one by ``source`` URI scheme.

``[[pbx]] source = "tcp:0.0.0.0:9000"`` selects the transport registered as ``tcp`` in the
``callcost.transports`` entry-point group (pyproject), the same way ``type`` selects a connector —
so a new kind of link is a plugin, not an edit here.
"""

from __future__ import annotations

import abc
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import ClassVar

from collector.settings import Settings
from collector.streams import Intake
from warehouse.config import Enterprise, Pbx
from warehouse.errors import ConfigError

ENTRY_POINT_GROUP = "callcost.transports"


class Transport(abc.ABC):
    """Receives bytes for one PBX and hands them to its :class:`~collector.streams.Intake`."""

    #: The ``source`` URI scheme (text before the first ``:``).
    scheme: ClassVar[str]
    #: True when the bytes exist nowhere else once received (they are then raw-dumped before parsing).
    volatile: ClassVar[bool] = True

    def __init__(self, ent: Enterprise, pbx: Pbx, intake: Intake, settings: Settings) -> None:
        self.ent = ent
        self.pbx = pbx
        self.intake = intake
        self.settings = settings
        self.target = pbx.source_target

    @abc.abstractmethod
    async def start(self) -> None:
        """Begin receiving (bind, open, start watching); return once ready."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop receiving and close every session so its last records are queued."""

    def describe(self) -> dict:
        """What the status/health output shows about this source."""
        return {"source": self.pbx.source}


@cache
def registered_transports() -> dict[str, EntryPoint]:
    """Installed transports by scheme; loaded only when a PBX uses one (FTP pulls in pyftpdlib)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def transport_for(ent: Enterprise, pbx: Pbx, intake: Intake, settings: Settings) -> Transport:
    known = registered_transports()
    if pbx.source_kind not in known:
        raise ConfigError(f"PBX '{pbx.id}': no live transport for source '{pbx.source}'", field="source",
                          expected="one of " + ", ".join(f"{k}:…" for k in sorted(known)))
    return known[pbx.source_kind].load()(ent, pbx, intake, settings)


def host_port(target: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port); port 0 = any free port."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"'{target}' is not HOST:PORT", field="source", expected=f"{what}:HOST:PORT, e.g. {what}:0.0.0.0:9000")
    return host.strip("[]") or "0.0.0.0", int(port)
