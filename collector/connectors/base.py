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

from collector.domains import Violation, violations
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
    """A PBX CDR format.  Subclasses set ``type`` and ``fields`` and implement ``decode``.

    What a connector may provide beyond that is declared here with a default, so no caller probes for
    it: ``decode_many`` (a bundle of files in one read), ``stream_state`` (a fresh instance per live
    stream), ``complete_prefix`` (framing of a live stream), ``options`` (the ``[[pbx]]`` keys it reads).
    """

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

    def parse(self, data: bytes, source: str) -> ParseResult:
        """Parse one unit of input (a file, or a framed chunk of a stream) named *source*.

        The format's :meth:`decode`, then the canonical fields' declared domains
        (:mod:`collector.domains`): a row outside them is quarantined with the field and the reason, so no
        connector can hand over a 1 MB calling number or undecodable bytes.  Callers call this, never
        ``decode``.
        """
        result = self.decode(data, source)
        found = violations(result.calls)
        if found:
            bad = _out_of_domain(result.calls, found, {source: data})
            result = ParseResult(_without(result.calls, found),
                                 sorted(result.quarantined + [q for _, q in bad], key=_position), result.records_seen)
        return result

    @abc.abstractmethod
    def decode(self, data: bytes, source: str) -> ParseResult:
        """Read one unit of input named *source* as the format says: calls, and the records it cannot read.

        What a connector implements; :meth:`parse` checks the result against the fields' domains.
        """

    def complete_prefix(self, buffer: bytes) -> int:
        """How many leading bytes of a stream *buffer* hold whole records; the rest waits for more bytes.

        Live transports (TCP, serial, RSP) hand ``buffer[:n]`` to :meth:`parse` and keep the remainder,
        so a record split across two reads is never parsed half.  Line-oriented formats (the default)
        end a record at LF; framed formats (STX/ETX, fixed-length) override this.
        """
        return buffer.rfind(b"\n") + 1

    def parse_many(self, units: Sequence[tuple[bytes, str]]) -> BatchParse:
        """Parse many files (``(bytes, source)`` pairs) at once: the same calls, quarantine and counts as
        :meth:`parse` file by file — :meth:`decode_many`, then the fields' domains, as :meth:`parse` does.
        """
        batch = self.decode_many(units)
        found = violations(batch.calls)
        if not found:
            return batch
        tallies = {t.source: t for t in batch.files}
        for source, q in _out_of_domain(batch.calls, found, {source: data for data, source in units}):
            tally = tallies.get(source, batch.files[0])  # a raw_ref naming no input: counted with the first
            tally.parsed -= 1
            tally.quarantined = sorted(tally.quarantined + [q], key=_position)
        return BatchParse(_without(batch.calls, found), batch.files)

    def decode_many(self, units: Sequence[tuple[bytes, str]]) -> BatchParse:
        """:meth:`decode` many files at once; file by file unless the format overrides it.

        A format whose per-file fixed cost dominates small files (CUCM's one-minute flat files)
        overrides it to read a bundle of files in one vectorised call; the importer calls :meth:`parse_many`.
        """
        results = [self.decode(data, source) for data, source in units]
        tallies = [FileTally(source, r.records_seen, r.calls.num_rows, r.quarantined)
                   for (_, source), r in zip(units, results)]
        calls = pa.concat_tables([r.calls for r in results]) if results else PARSED_SCHEMA.empty_table()
        return BatchParse(calls, tallies)


def _without(calls: pa.Table, found: list[Violation]) -> pa.Table:
    keep = np.ones(calls.num_rows, bool)
    keep[[v.row for v in found]] = False
    return calls.filter(pa.array(keep))


def _position(q: Quarantined) -> tuple[int, int]:
    return (q.line or 0, q.offset or 0)


def _out_of_domain(calls: pa.Table, found: list[Violation],
                   inputs: Mapping[str, bytes]) -> list[tuple[str, Quarantined]]:
    """A quarantine entry (and its input's name) for each out-of-domain row: where it is, from its
    ``raw_ref`` (``<source>:<line>`` or ``<source>@<offset>``), and its record's bytes, for a retry.

    Runs only for the rows that fail, so it may take Python per row.
    """
    refs = calls.column("raw_ref").take(pa.array([v.row for v in found])).to_pylist()
    starts: dict[str, np.ndarray] = {}
    out = []
    for v, ref in zip(found, refs):
        source, line, offset = _locate(ref or "", inputs)
        data = inputs.get(source, b"")
        if line is not None:
            if source not in starts:
                nl = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
                starts[source] = np.concatenate([[0], nl + 1]).astype(np.int64)
            offset = int(starts[source][line - 1]) if line <= len(starts[source]) else None
        raw = b""
        if offset is not None and offset < len(data):
            ends = [e for e in (data.find(b"\n", offset), data.find(b"\x03", offset)) if e >= 0]
            raw = data[offset:min(ends) + 1 if ends else len(data)]
        out.append((source, Quarantined(source, line, offset, v.field, v.reason, raw)))
    return out


def _locate(ref: str, inputs: Mapping[str, bytes]) -> tuple[str, int | None, int | None]:
    """(source, line, offset) of a raw reference into one of *inputs*; the only input when it does not say."""
    for source in inputs:
        rest = ref[len(source) + 1:]
        if ref.startswith(source) and len(ref) > len(source) + 1 and rest.isdigit():
            kind = ref[len(source)]
            if kind == ":":
                return source, int(rest), None
            if kind == "@":
                return source, None, int(rest)
    return (next(iter(inputs)) if len(inputs) == 1 else ref), None, None


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
