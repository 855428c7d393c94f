"""The one interface every PBX connector implements, and the entry-point registry that finds them.

A connector turns vendor bytes into rows of ``warehouse.schema.PARSED_SCHEMA``.  It does not normalise
numbers, classify or price: that is the warehouse's job, shared by every format, so a CUCM call and an
Avaya call with the same facts are priced the same way.

Bad records are never dropped and never stop a batch: each becomes a ``Quarantined`` entry naming the
source, the line (or byte offset), the field and the reason, and the good records around it are kept.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import ClassVar

import pyarrow as pa

from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA, conform

ENTRY_POINT_GROUP = "callcost.connectors"


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record that could not be parsed, kept with its reason."""

    source: str  # file path or stream name
    line: int | None  # 1-based line number, when the format is line-oriented
    offset: int | None  # byte offset of the record in the source
    field: str | None  # the field that failed, when known
    reason: str
    raw: bytes

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else f"{self.source}@{self.offset}"
        fld = f": field '{self.field}'" if self.field else ""
        return f"{where}{fld}: {self.reason}"


@dataclass(slots=True)
class ParseResult:
    """Parsed calls (PARSED_SCHEMA) plus the records that were quarantined."""

    calls: pa.Table
    quarantined: list[Quarantined] = field(default_factory=list)
    records_seen: int = 0  # data records read (parsed + quarantined), for ingest accounting

    def __post_init__(self) -> None:
        self.calls = conform(self.calls, PARSED_SCHEMA)


@dataclass(frozen=True, slots=True)
class PbxContext:
    """What a connector needs to know about the PBX it reads for."""

    pbx_id: str
    site: str
    timezone: str  # IANA zone of the PBX's site, for formats that write local time
    options: dict = field(default_factory=dict)  # the [[pbx]] table's extra keys


class Connector(abc.ABC):
    """A PBX CDR format.  Subclasses set ``type`` and implement ``parse``."""

    #: The ``[[pbx]] type`` value that selects this connector.
    type: ClassVar[str]
    #: Canonical columns this format carries (capabilities as data: tests read this, not if-chains).
    fields: ClassVar[frozenset[str]]

    def __init__(self, pbx: PbxContext) -> None:
        self.pbx = pbx

    @abc.abstractmethod
    def parse(self, data: bytes, source: str) -> ParseResult:
        """Parse one unit of input (a file, or a framed chunk of a stream) named *source*."""

    def complete_prefix(self, buffer: bytes) -> int:
        """How many leading bytes of a stream *buffer* hold whole records; the rest waits for more bytes.

        Live transports (TCP, serial, RSP) hand ``buffer[:n]`` to :meth:`parse` and keep the remainder,
        so a record split across two reads is never parsed half.  Line-oriented formats (the default)
        end a record at LF; framed formats (STX/ETX, fixed-length) override this.
        """
        return buffer.rfind(b"\n") + 1


@cache
def registered_connectors() -> dict[str, type[Connector]]:
    """Every connector installed, by type name (built-ins register the same way as plugins)."""
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    return found


def connector_for(type_name: str, pbx: PbxContext) -> Connector:
    """The connector for ``[[pbx]] type = type_name``; a clear error when none is installed."""
    known = registered_connectors()
    if type_name not in known:
        raise ConfigError(
            f"unknown PBX type '{type_name}'",
            field="type",
            expected="one of " + ", ".join(sorted(known)) if known else "an installed connector",
        )
    return known[type_name](pbx)
