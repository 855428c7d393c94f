"""The one interface every PBX connector implements, and the entry-point registry that finds them.

A connector turns vendor bytes into rows of ``warehouse.schema.PARSED_SCHEMA``.  It does not normalise
numbers, classify or price: that is the warehouse's job, shared by every format, so a CUCM call and an
Avaya call with the same facts are priced the same way.

Bad records are never dropped and never stop a batch: each becomes a ``Quarantined`` entry naming the
source, the line (or byte offset), the field and the reason, and the good records around it are kept.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


@dataclass(slots=True)
class FileTally:
    """What one file of a many-file parse yielded: the counts ingest accounting keeps per file."""

    source: str
    records_seen: int
    parsed: int
    quarantined: list[Quarantined]


@dataclass(slots=True)
class BatchParse:
    """Many files parsed at once: all their calls in one table, and a tally per file (in input order)."""

    calls: pa.Table
    files: list[FileTally]


@dataclass(frozen=True, slots=True)
class PbxContext:
    """What a connector needs to know about the PBX it reads for."""

    pbx_id: str
    site: str
    timezone: str  # IANA zone of the PBX's site, for formats that write local time
    options: dict = field(default_factory=dict)  # the [[pbx]] table's extra keys
    #: ``[[site]] voicemail_devices``: globs naming the site's own voicemail / auto-attendant devices, recognised
    #: in addition to each vendor's defaults (a leg to one of them is internal, never a trunk call)
    voicemail_devices: tuple[str, ...] = ()


class RepeatCounts:
    """How often each recent record identity has been seen on one live stream.

    Formats without a unique id per record (Avaya CM, SMDR, FreeSWITCH and Asterisk rows without their
    ids) name a call by its content and number identical records ``#1``, ``#2`` … (``records.record_ids``).
    Counted per parse, that number would depend on where the stream was cut into parses: two identical
    records (a busy redial in the same minute) cut apart would both be ``#0`` and the second dropped as
    already stored.  Counted per stream, the ids are those of one parse of the whole stream, however it
    was cut — and a replay of the stream's dump, which rebuilds the same sessions, numbers them alike.

    Identical records share their time stamp, so only recent identities matter: the ``limit`` most
    recently seen are kept (a repeat further apart than that many distinct records starts again at
    ``#0``, and whether it does can then depend on where the stream was cut).  Vectorised: one
    ``index_in`` against the kept identities per parse, no Python per record.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.keys = pa.array([], pa.string())  # oldest seen first
        self.counts = np.zeros(0, np.int64)

    def number(self, keys: pa.Array, rank: np.ndarray) -> np.ndarray:
        """Each key's count on the stream before this input plus its *rank* within it; then remember."""
        keys = keys.cast(pa.string())
        known = pc.index_in(keys, value_set=self.keys)
        before = np.where(known.is_valid().to_numpy(zero_copy_only=False),
                          self.counts[known.fill_null(0).to_numpy()] if len(self.counts) else 0, 0)
        total = before + rank
        distinct = pc.unique(keys)
        code = pc.index_in(keys, value_set=distinct).to_numpy()
        # each key's last row here (its highest count): the first in reverse, by np.unique's index
        last = len(keys) - 1 - np.unique(code[::-1], return_index=True)[1]
        order = np.argsort(last, kind="stable")
        stays = pc.invert(pc.is_in(self.keys, value_set=distinct))
        self.keys = pa.concat_arrays([self.keys.filter(stays), distinct.take(pa.array(order))])[-self.limit:]
        self.counts = np.concatenate([self.counts[stays.to_numpy(zero_copy_only=False)],
                                      total[last[order]] + 1])[-self.limit:]
        return total


class Connector(abc.ABC):
    """A PBX CDR format.  Subclasses set ``type`` and implement ``parse``."""

    #: The ``[[pbx]] type`` value that selects this connector.
    type: ClassVar[str]
    #: Canonical columns this format carries (capabilities as data: tests read this, not if-chains).  Set on
    #: the class; an instance narrows it when its ``[[pbx]]`` options decide (an SMDR layout).
    fields: frozenset[str]
    #: True for formats that carry state from one chunk of a stream to the next (Avaya's last date
    #: record) or number repeats of identical records: each live stream then parses with its own
    #: instance (:meth:`for_stream`).
    stream_state: ClassVar[bool] = False
    #: The ``[[pbx]]`` keys this format reads, name → what it means (beside ``id``, ``type``, ``site``,
    #: ``source`` and the collector's transport keys).  Data, so ``docs/connectors.md`` is checked against
    #: it (``tests/test_docs.py``) and a test checks a connector reads no key it does not declare.
    options: ClassVar[Mapping[str, str]] = {}
    #: Repeat counts of the one stream this instance parses; None on a shared instance (files, probes),
    #: where repeats are numbered within each input.
    repeats: RepeatCounts | None = None

    def __init__(self, pbx: PbxContext) -> None:
        self.pbx = pbx

    def for_stream(self) -> Connector:
        """The instance one live stream (a TCP session, a serial port opening, a replayed session) parses with.

        Stateless formats share this instance, so the parse stage can parse the parts of hundreds of
        sessions in one call; a format with ``stream_state`` gets a fresh instance per stream, so one
        link's dates and repeat counts never leak into another's — the same record sent by a CM's
        primary and secondary links gets the same ``call_id`` (stored once) whether or not the two
        copies are parsed together.
        """
        if not self.stream_state:
            return self
        clone = type(self)(self.pbx)
        clone.repeats = RepeatCounts()
        return clone

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

    def parse_many(self, units: Sequence[tuple[bytes, str]]) -> BatchParse:
        """Parse many files (``(bytes, source)`` pairs) at once: the same calls, quarantine and counts as
        :meth:`parse` file by file, which is what this default does.

        A format whose per-file fixed cost dominates small files (CUCM's one-minute flat files)
        overrides it to read a bundle of files in one vectorised call; the importer always calls this.
        """
        results = [self.parse(data, source) for data, source in units]
        tallies = [FileTally(source, r.records_seen, r.calls.num_rows, r.quarantined)
                   for (_, source), r in zip(units, results)]
        calls = pa.concat_tables([r.calls for r in results]) if results else PARSED_SCHEMA.empty_table()
        return BatchParse(calls, tallies)


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
