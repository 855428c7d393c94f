"""Cisco Unified CM CDR flat files → canonical calls (one call row per CDR, i.e. per call segment).

A CUCM flat file is CSV: line 1 names the fields, line 2 gives their SQL-ish types, data starts on
line 3 (see ``shared/reference/cucm-cdr.md`` §3).  Releases append columns (118, 129, 133 …), so
columns are mapped by *name* (case-insensitive, with the aliases of ``cucm_fields.HEADER_ALIASES``).
Files re-saved by a spreadsheet (unquoted, ``;``-separated, without the type line) and files without a
final newline read the same.  CMR (call-quality) files are recognised and yield no calls.

Each CDR is a call *segment*: ``call_id`` is its ``pkid`` (unique per CDR, so a re-sent file never
duplicates calls) and ``chain_id`` its GlobalCallID, which groups the segments of one transferred or
forwarded call; the leg identifiers and the OnBehalfOf / redirect codes that link a consultation call and
name each segment's role are read by ``cucm_chains.chain_links`` for the chain engine
(``analytics.rating.chains``).  Whether a segment went out, came in or stayed inside is read from the device names:
phones and other endpoints follow naming conventions (``cucm_fields.ENDPOINT_PATTERNS``); a trunk or
gateway is the other side.  The warehouse, not this module, turns that into call types and prices.
"""

from __future__ import annotations

import fnmatch
import re
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors import cucm_fields as F
from collector.connectors.cucm_chains import CHAIN_COLUMNS, chain_links
from collector.connectors.base import BatchParse, Connector, FileTally, ParseResult, PbxContext, Quarantined
from collector.connectors.csvtable import (
    Bundle, Lines, SlowPathNeeded, StringTable, normalise_text, read_strings, sniff_delimiter,
    split_line,
)
from warehouse.errors import ParseError
from warehouse.schema import PARSED_SCHEMA, TS, conform

SOURCE_FORMAT = "cucm"

_KNOWN = {n.lower(): n for n in F.CDR_FIELD_NAMES}
_TYPE_RE = re.compile(r"^(INTEGER|BIGINT|SMALLINT|VARCHAR\(\d+\)|CHAR\(\d+\)|UNIQUEIDENTIFIER|TEXT)$", re.I)
_FILE_RE = re.compile(r"^(cdr|cmr)_(.+)_(\d{2})_(\d{12})_(\d+)$")
_STR_NULL = pa.scalar(None, pa.string())

#: Integer fields the mapping needs: name → (required, allow negative).  Empty optional ones read as 0.
_INT_FIELDS: dict[str, tuple[bool, bool]] = {
    "dateTimeOrigination": (True, False),
    "dateTimeDisconnect": (True, False),
    "dateTimeConnect": (False, False),
    "duration": (False, False),
    "origCause_value": (False, True),
    "destCause_value": (False, True),
}
_REQUIRED_COLUMNS = ("dateTimeOrigination", "dateTimeDisconnect")
#: The columns the mapping reads; the others are parsed (field count checked) but never converted.
_USED_COLUMNS = (
    "cdrRecordType", "globalCallID_callManagerId", "globalCallID_callId", "origLegCallIdentifier",
    "destLegIdentifier", "dateTimeOrigination", "dateTimeConnect", "dateTimeDisconnect", "duration",
    "callingPartyNumber", "originalCalledPartyNumber", "finalCalledPartyNumber", "origCause_value",
    "destCause_value", "pkid", "origDeviceName", "destDeviceName", "globalCallId_ClusterID",
    "authCodeDescription", "clientMatterCode", *CHAIN_COLUMNS,
)

_INT32_MAX = 2**31 - 1
# device kinds
_NONE, _ENDPOINT, _TRUNK, _OTHER = 0, 1, 2, 3


def decode_ip(value: int | str | None) -> str | None:
    """Dotted IPv4 of a CUCM ``*IpAddr`` / ``*_IP`` field: a signed 32-bit int in little-endian byte order.

    ``-1139627840`` → ``192.168.18.188``; 0 or empty means "no address" (IPv6-only, no media).
    """
    if value is None or value == "":
        return None
    n = int(value)
    if n == 0:
        return None
    return socket.inet_ntoa(struct.pack("<I", n & 0xFFFFFFFF))


#: Integer columns that hold an IPv4 address (signed 32-bit, little-endian), of every release.
IP_COLUMNS: tuple[str, ...] = tuple(
    name for name, typ in F.CDR_FIELDS if typ == "INTEGER" and (name.endswith("IpAddr") or name.endswith("_IP")
                                                               or "_IP_" in name))


def decode_ip_column(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`decode_ip` for a whole column of integer strings, column-wise (null for 0, empty, non-numbers)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    text = pc.utf8_trim_whitespace(col) if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    ok = pc.fill_null(pc.match_substring_regex(text, r"^-?\d{1,10}$"), False)
    n = np.asarray(pc.cast(pc.if_else(ok, text, "0"), pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    u = (n & 0xFFFFFFFF).astype(np.uint64)
    octets = [pc.cast(pa.array((u >> np.uint64(8 * k)) & np.uint64(0xFF), pa.uint64()), pa.string()) for k in range(4)]
    dotted = pc.binary_join_element_wise(*octets, ".")
    return pc.if_else(pa.array(n != 0), dotted, _STR_NULL)


def with_dotted_ips(table: pa.Table) -> pa.Table:
    """*table* (strings of a flat file) plus ``<column>_text`` dotted addresses for each IP integer column."""
    for name in IP_COLUMNS:
        if name in table.column_names:
            table = table.append_column(f"{name}_text", decode_ip_column(table[name]))
    return table


@dataclass(frozen=True, slots=True)
class CucmFileName:
    """The parts of ``cdr_<cluster>_<node>_<yyyymmddhhmm UTC>_<seq>`` (the stamp is the interval's end)."""

    tag: str  # cdr | cmr
    cluster: str
    node: int
    stamp: str
    seq: int


def parse_file_name(path: str | PurePath) -> CucmFileName | None:
    """Split a CUCM flat-file name; ``None`` when the name does not follow the convention."""
    m = _FILE_RE.match(PurePath(path).name)
    if not m:
        return None
    return CucmFileName(m[1], m[2], int(m[3]), m[4], int(m[5]))


def canonical_header(name: str) -> str:
    """The canonical spelling of a header name: case-insensitive, documentation aliases folded."""
    low = name.strip().strip('"').lower()
    return F.HEADER_ALIASES.get(low) or _KNOWN.get(low) or name.strip()


@dataclass(frozen=True, slots=True)
class _Layout:
    data: bytes  # normalised text
    lines: Lines
    names: list[str]  # canonical header names, in file order (empty when *refused*)
    header_line: int  # 1-based line naming the fields (the first data line of a header-less export)
    first_data_line: int
    delimiter: str
    refused: str | None = None  # why a header-less file cannot be mapped (its records are quarantined)

    @property
    def headerless(self) -> bool:
        return self.first_data_line == self.header_line


def _layout(data: bytes, source: str) -> _Layout | None:
    """Where the data starts and what the columns are called; ``None`` for an empty file.

    A file without the two header lines is mapped by the layout of its column count
    (``cucm_fields.HEADERLESS_LAYOUTS``); a count no confirmed layout has is *refused* with the reason.
    """
    data = normalise_text(data)
    lines = Lines(data)
    nonempty = lines.nonempty(1) if len(lines) else np.zeros(0, np.int64)
    if not nonempty.size:
        return None
    first = int(nonempty[0])
    delimiter = sniff_delimiter(lines.text(first))
    raw = split_line(lines.text(first), delimiter)
    names = [canonical_header(n) for n in raw]
    if {"cdrRecordType", "dateTimeOrigination", "pkid"} & set(names):
        start = first + 1
        if start <= len(lines):
            second = split_line(lines.text(start), delimiter)
            if second and all(_TYPE_RE.match(t) for t in second):
                start += 1
        return _Layout(data, lines, _dedupe(names), first, start, delimiter)
    known = F.HEADERLESS_LAYOUTS.get(len(raw))
    if known is None:
        return _Layout(data, lines, [], first, first, delimiter, refused=headerless_refusal(len(raw)))
    return _Layout(data, lines, list(known.names), first, first, delimiter)


def headerless_refusal(columns: int) -> str:
    """Why a header-less file with *columns* fields per record is not read (the quarantine reason)."""
    known = ", ".join(f"{h.columns} ({h.releases})" for h in F.HEADERLESS_LAYOUTS.values())
    claimed = F.UNCONFIRMED_WIDTHS.get(columns)
    note = f"; {columns} columns: {claimed}, column order unconfirmed" if claimed else ""
    return (f"header-less CUCM file with {columns} fields per record: no confirmed CUCM layout has {columns} "
            f"columns (known: {known}{note}); the whole file is quarantined, not mapped by a guessed order — "
            f"restore its two header lines")


def read_flat_file(data: bytes, source: str, include: list[str] | None = None) -> StringTable:
    """Records of a CUCM CDR or CMR flat file as strings under canonical header names.

    Header-less exports (data from line 1) are read by the layout of their column count; a count with no
    confirmed layout is a :class:`ParseError`.  *include* limits the columns converted (all by default).
    """
    layout = _layout(data, source)
    if layout is None:
        return StringTable(pa.table({}), np.zeros(0, np.int64))
    if layout.refused:
        raise ParseError(layout.refused, file=source, line=layout.header_line,
                         expected="the two CUCM header lines, or a header-less file of a known layout")
    return read_strings(layout.data, source, layout.names, layout.first_data_line, lines=layout.lines,
                        delimiter=layout.delimiter, include=include)


def _quarantine_all(layout: _Layout, source: str) -> list[Quarantined]:
    """Every record of a refused file, quarantined with the reason (the good-looking ones too: their columns
    cannot be named).  Per-record Python, on refused files only."""
    lines = layout.lines
    return [Quarantined(source, int(k), int(lines.starts[k - 1]), None, layout.refused or "", lines.text(int(k)))
            for k in lines.nonempty(layout.first_data_line)]


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}_{k + 1}")
    return out


def _is_cmr(names: list[str], source: str) -> bool:
    name = parse_file_name(source)
    if name is not None:
        return name.tag == "cmr"
    return "dateTimeOrigination" not in names and bool(
        {"varVQMetrics", "numberPacketsSent", "callIdentifier"} & set(names))


class CucmConnector(Connector):
    """Cisco Unified CM CDR flat files (pushed by the CDR Repository Manager to a billing server)."""

    type = "cucm"
    options = {
        "trunk_devices": "globs on device names that are trunks or gateways (win over the built-in hints)",
        "endpoint_devices": "regexes of device names that are phones, beside the built-in SEP/CSF/… patterns",
    }
    fields = frozenset({
        "call_id", "pbx", "source_format", "start_utc", "answer_utc", "end_utc", "duration_s", "ring_s",
        "calling_number", "called_number", "original_called_number", "direction", "trunk", "account_code",
        "disposition", "cause_code", "chain_id", "raw_ref",
        # ``extension`` is not declared: CUCM names the billed party only for an off-net forward and a
        # conference bridge segment (``cucm_chains``); the classifier decides for every other CDR
        "call_group", "leg_id", "peer_leg_id", "trunk_leg_id", "leg_feature", "split_feature",
    })

    def __init__(self, pbx: PbxContext) -> None:
        super().__init__(pbx)
        self._kind_cache: dict[str | None, int] = {}  # device name → kind, across the files of this PBX
        self._head_cache: dict[bytes, _Layout] = {}  # header + type line → layout, across files (parse_many)

    def decode(self, data: bytes, source: str) -> ParseResult:
        layout = _layout(data, source)
        if layout is None:
            return ParseResult(PARSED_SCHEMA.empty_table(), [], 0)
        cmr = _is_cmr(layout.names, source)
        if layout.refused and not cmr:
            bad = _quarantine_all(layout, source)
            return ParseResult(PARSED_SCHEMA.empty_table(), bad, len(bad))
        if layout.refused:  # a header-less CMR file: its records are counted, never calls
            return ParseResult(PARSED_SCHEMA.empty_table(), [], int(len(layout.lines.nonempty(layout.first_data_line))))
        if not cmr:
            for col in _REQUIRED_COLUMNS:
                if col not in layout.names:
                    raise ParseError("not a CUCM CDR file: required column missing", file=source,
                                     line=layout.header_line, field=col,
                                     expected="a CUCM CDR header line")
        rows = read_strings(layout.data, source, layout.names, layout.first_data_line, lines=layout.lines,
                            delimiter=layout.delimiter, include=["cdrRecordType"] if cmr else list(_USED_COLUMNS))
        seen = rows.records_seen
        if cmr:  # call-quality records: counted, never calls
            return ParseResult(PARSED_SCHEMA.empty_table(), [], seen)
        table, lines = rows.table, rows.lines
        if "cdrRecordType" in table.column_names:  # start records (0) and stray CMRs (2) are not calls
            keep = pc.equal(pc.utf8_trim_whitespace(table["cdrRecordType"]), F.CDR_RECORD_TYPE)
            keep_np = np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)
            if not keep_np.all():
                table, lines = table.filter(pa.array(keep_np)), lines[keep_np]
        table, lines, bad = _validate(table, lines, source, layout.lines)
        calls = self._map(table, lines, source)
        quarantined = sorted(rows.quarantined + bad, key=lambda q: q.line or 0)
        return ParseResult(calls, quarantined, seen)

    def decode_many(self, units: Sequence[tuple[bytes, str]]) -> BatchParse:
        """Decode many files at once: the same calls, quarantine and counts as :meth:`decode` file by file.

        Files whose first two lines (header and type line) are byte-identical share a layout; their data
        lines are joined into one :class:`Bundle`, read by one Arrow call and mapped once — the fixed
        cost per file (a few milliseconds) would otherwise dominate a month of one-minute files.  Files
        the fast path does not cover (BOM, non-ASCII bytes, blank or missing header lines, CMR files,
        quoted newlines) go through :meth:`decode` one by one.  Calls come grouped by layout, each file's
        rows in file order.
        """
        tallies: list[FileTally | None] = [None] * len(units)
        tables: list[pa.Table] = []
        groups: dict[bytes, list[tuple[int, int]]] = {}
        layouts: dict[bytes, _Layout] = {}

        def one_by_one(k: int) -> None:
            result = self.decode(*units[k])
            tables.append(result.calls)
            tallies[k] = FileTally(units[k][1], result.records_seen, result.calls.num_rows, result.quarantined)

        for k, (data, source) in enumerate(units):
            head = self._simple_head(data, source)
            if head is None:
                one_by_one(k)
                continue
            key, layout, body_offset = head
            layouts[key] = layout
            groups.setdefault(key, []).append((k, body_offset))
        for key, members in groups.items():
            try:
                calls, files = self._parse_bundle(layouts[key], [(units[k][0], units[k][1], off) for k, off in members])
            except SlowPathNeeded:
                for k, _ in members:
                    one_by_one(k)
                continue
            tables.append(conform(calls, PARSED_SCHEMA))
            for (k, _), tally in zip(members, files):
                tallies[k] = tally
        calls = pa.concat_tables(tables) if tables else PARSED_SCHEMA.empty_table()
        done = [t for t in tallies if t is not None]
        assert len(done) == len(units), "every file is tallied, by a bundle or one by one"
        return BatchParse(calls, done)

    def _simple_head(self, data: bytes, source: str) -> tuple[bytes, _Layout, int] | None:
        """(group key, layout, byte offset of the first data line) for a plain CDR file; ``None`` sends it to
        :meth:`parse`.

        Files with header lines are grouped by their first two lines (header and type line); header-less
        files by their layout's column count and delimiter, their data starting at byte 0 and line 1 (a
        header-less file's first two lines are records, not a layout to cache).
        """
        if not data.isascii() or data[:1] in (b"\n", b"\r", b""):
            return None
        first = data.find(b"\n")
        if first < 0:
            return None
        second = data.find(b"\n", first + 1)
        key = data[: second + 1] if second >= 0 else data
        layout = self._head_cache.get(key)
        if layout is None:
            try:
                layout = _layout(key, source)
            except ParseError:
                return None
            if layout is None or layout.refused or layout.header_line != 1:
                return None
            if layout.headerless:
                if _is_cmr(layout.names, source):
                    return None
                return b"\0headerless:%d:%s" % (len(layout.names), layout.delimiter.encode()), layout, 0
            if not set(_REQUIRED_COLUMNS) <= set(layout.names):
                return None
            if len(self._head_cache) > 1_000:
                self._head_cache.clear()
            self._head_cache[key] = layout
        if _is_cmr(layout.names, source):
            return None
        if layout.first_data_line == 2:
            return key, layout, first + 1
        return key, layout, (second + 1 if second >= 0 else len(data))

    def _parse_bundle(self, layout: _Layout, files: list[tuple[bytes, str, int]]) -> tuple[pa.Table, list[FileTally]]:
        bundle = Bundle([(memoryview(data)[off:], source, layout.first_data_line, off) for data, source, off in files])
        rows = read_strings(bundle.data, "<bundle>", layout.names, 1, lines=bundle.lines,
                            delimiter=layout.delimiter, include=list(_USED_COLUMNS), slow_ok=False,
                            threads=False)  # bundles are parsed while the previous batch is rated and stored
        per_file_q: list[list[Quarantined]] = [[] for _ in files]
        for q in rows.quarantined:
            per_file_q[bundle.file_of_line(q.line)].append(bundle.relocate(q))
        table, lines = rows.table, rows.lines
        seen = np.bincount(bundle.file_of(lines), minlength=len(bundle)) + np.array([len(q) for q in per_file_q])
        if "cdrRecordType" in table.column_names:
            keep = pc.equal(pc.ascii_trim_whitespace(table["cdrRecordType"]), F.CDR_RECORD_TYPE)
            keep_np = np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)
            if not keep_np.all():
                table, lines = table.filter(pa.array(keep_np)), lines[keep_np]
        # bundles hold ASCII files only (``_simple_head``): ASCII trims give the same text, cheaper
        table, lines, bad = _validate(table, lines, "<bundle>", bundle.lines, trim=pc.ascii_trim_whitespace)
        for q in bad:
            per_file_q[bundle.file_of_line(q.line)].append(bundle.relocate(q))
        files_of_rows = bundle.file_of(lines)
        sources = pa.array(bundle.sources, pa.string()).take(pa.array(files_of_rows))
        calls = self._map(table, bundle.local_line(lines, files_of_rows), sources, trim=pc.ascii_trim_whitespace)
        parsed = np.bincount(files_of_rows, minlength=len(bundle))
        tallies = [FileTally(source, int(seen[k]), int(parsed[k]), sorted(per_file_q[k], key=lambda x: x.line or 0))
                   for k, source in enumerate(bundle.sources)]
        return calls, tallies

    # ------------------------------------------------------------------------------------------------
    def _map(self, t: pa.Table, lines: np.ndarray, source: str | pa.Array,
             trim: Callable = pc.utf8_trim_whitespace) -> pa.Table:
        n = t.num_rows
        pbx = self.pbx.pbx_id

        def s(name: str) -> pa.ChunkedArray | pa.Array:
            return trim(t[name]) if name in t.column_names else pa.array([""] * n, pa.string())

        ints: dict[str, np.ndarray] = {}

        def i(name: str) -> np.ndarray:  # integer columns come trimmed and checked by _validate
            if name not in t.column_names:
                return np.zeros(n, np.int64)
            if name not in ints:
                col = t[name]
                ints[name] = pc.cast(pc.if_else(pc.equal(col, ""), "0", col), pa.int64()).to_numpy()
            return ints[name]

        orig, conn, disc, dur = (i(k) for k in ("dateTimeOrigination", "dateTimeConnect",
                                                "dateTimeDisconnect", "duration"))
        answered = conn > 0
        ring = np.where(answered, conn - orig, disc - orig)
        cause = np.where(i("destCause_value") != 0, i("destCause_value"), i("origCause_value"))

        final, original = s("finalCalledPartyNumber"), s("originalCalledPartyNumber")
        called = pc.if_else(pc.equal(final, ""), original, final)
        cmc, fac = s("clientMatterCode"), s("authCodeDescription")
        account = pc.if_else(pc.equal(cmc, ""), fac, cmc)

        cluster, cm_id, g_call = s("globalCallId_ClusterID"), s("globalCallID_callManagerId"), s("globalCallID_callId")
        chain = pc.binary_join_element_wise(pbx, cluster, cm_id, g_call, ":")
        pkid = s("pkid")
        fallback = pc.binary_join_element_wise(
            pbx, cluster, cm_id, g_call, s("origLegCallIdentifier"), s("destLegIdentifier"),
            s("dateTimeDisconnect"), ":")
        call_id = pc.if_else(pc.equal(pkid, ""), fallback, pc.binary_join_element_wise(pbx, pkid, ":"))

        direction, trunk, trunk_code = self._direction(s("origDeviceName"), s("destDeviceName"))
        links = chain_links(s, trunk_code)
        raw_ref = pc.binary_join_element_wise(source, pc.cast(pa.array(lines, pa.int64()), pa.string()), ":")
        cols = {
            "call_id": call_id,
            "pbx": pa.repeat(pa.scalar(pbx, pa.string()), n),
            "source_format": pa.repeat(pa.scalar(SOURCE_FORMAT, pa.string()), n),
            "start_utc": pa.array(orig, pa.int64()).cast(TS),
            "answer_utc": pa.array(conn, pa.int64(), mask=~answered).cast(TS),
            "end_utc": pa.array(disc, pa.int64()).cast(TS),
            "duration_s": pa.array(np.minimum(np.where(answered, dur, 0), _INT32_MAX), pa.int64()).cast(pa.int32()),
            "ring_s": pa.array(np.minimum(ring, _INT32_MAX), pa.int64(), mask=ring < 0).cast(pa.int32()),
            "calling_number": _null_if_empty(s("callingPartyNumber")),
            "called_number": _null_if_empty(called),
            "original_called_number": _null_if_empty(original),
            "direction": direction,
            "trunk": trunk,
            "account_code": _null_if_empty(account),
            "disposition": _DISPOSITIONS.take(pa.array(_disposition(answered, cause))),
            "cause_code": pa.array(cause, pa.int64(), mask=cause == 0).cast(pa.string()),
            "chain_id": chain,
            "call_group": chain,  # kept as is when the chain engine gives chain_id the conversation's id
            "raw_ref": raw_ref,
            **links,
        }
        return pa.table({k: cols[k] for k in cols})

    def _direction(self, orig_dev: pa.Array, dest_dev: pa.Array) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """Direction and trunk from device names: an endpoint on one side and a trunk on the other
        (and the side code: 1 the trunk is the destination, 2 the origin, 0 internal, -1 unknown)."""
        ok, dk = self._kinds(orig_dev), self._kinds(dest_dev)
        conds = [
            dk == _TRUNK,
            ok == _TRUNK,
            (dk == _OTHER) & (ok == _ENDPOINT),
            (ok == _OTHER) & (dk == _ENDPOINT),
            (ok == _ENDPOINT) & (dk == _ENDPOINT),
        ]
        code = np.select(conds, [1, 2, 1, 2, 0], -1)
        direction = _DIRECTIONS.take(pa.array(np.maximum(code, 0), mask=code < 0))
        trunk = pc.if_else(pa.array(code == 1), dest_dev, pc.if_else(pa.array(code == 2), orig_dev, _STR_NULL))
        return direction, trunk, code

    def _kinds(self, devices: pa.Array) -> np.ndarray:
        """Device kind per row, decided once per *distinct* name and remembered across files."""
        uniq = pc.unique(devices)
        cache = self._kind_cache
        if len(cache) > 200_000:  # a bound, not a policy: a cluster has far fewer devices
            cache.clear()
        kinds = np.array([cache[d] if d in cache else cache.setdefault(d, self._kind(d))
                          for d in uniq.to_pylist()], dtype=np.int8)
        return kinds[pc.index_in(devices, value_set=uniq).to_numpy(zero_copy_only=False)]

    def _kind(self, name: str | None) -> int:
        if not name:
            return _NONE
        if any(fnmatch.fnmatchcase(name.upper(), g.upper()) for g in (*F.VOICEMAIL_DEVICES, *self.pbx.voicemail_devices)):
            return _ENDPOINT  # a voicemail / auto-attendant port answers on the PBX: a phone-side device, never a trunk
        opts = self.pbx.options
        for glob in opts.get("trunk_devices", ()):
            if fnmatch.fnmatchcase(name.upper(), str(glob).upper()):
                return _TRUNK
        if _endpoint_re(tuple(opts.get("endpoint_devices", ()))).match(name):
            return _ENDPOINT
        low = name.lower()
        if any(h in low for h in F.TRUNK_HINTS):
            return _TRUNK
        return _OTHER

    def parse_cmr(self, data: bytes, source: str) -> pa.Table:
        """The call-quality records of a CMR file, as strings under their header names (for QoS analysis)."""
        rows = read_flat_file(data, source)
        return rows.table


_ENDPOINT_CACHE: dict[tuple[str, ...], re.Pattern[str]] = {}


def _endpoint_re(extra: tuple[str, ...]) -> re.Pattern[str]:
    pat = _ENDPOINT_CACHE.get(extra)
    if pat is None:
        pat = re.compile("|".join(f"(?:{p})" for p in F.ENDPOINT_PATTERNS + extra), re.I)
        _ENDPOINT_CACHE[extra] = pat
    return pat


def _null_if_empty(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.if_else(pc.equal(col, ""), _STR_NULL, col)


def _disposition(answered: np.ndarray, cause: np.ndarray) -> np.ndarray:
    """answered | busy | no_answer | failed (as codes into ``_DISPOSITIONS``), from connect time and the
    clearing cause (Q.850 low byte)."""
    q850 = np.where((cause > 127) | (cause < 0), (cause & 0xFFFFFFFF) & 0xFF, cause)
    busy = np.isin(q850, list(F.BUSY_CAUSES))
    no_answer = np.isin(q850, list(F.NO_ANSWER_CAUSES)) | (cause == F.SPLIT_CAUSE)
    return np.select([answered, busy, no_answer], [0, 1, 2], 3).astype(np.int8)  # codes into _DISPOSITIONS


_DISPOSITIONS = pa.array(["answered", "busy", "no_answer", "failed"], pa.string())
_DIRECTIONS = pa.array(["internal", "outbound", "inbound"], pa.string())


def _validate(t: pa.Table, lines: np.ndarray, source: str, raw: Lines,
              trim: Callable = pc.utf8_trim_whitespace) -> tuple[pa.Table, np.ndarray, list[Quarantined]]:
    """Quarantine rows whose key integers do not parse; keep the rest.  Per-row Python runs on bad rows only."""
    n = t.num_rows
    bad_field = np.full(n, -1, dtype=np.int16)
    names = list(_INT_FIELDS)
    trimmed: dict[str, pa.ChunkedArray | pa.Array] = {}
    for k, name in enumerate(names):
        if name not in t.column_names:
            continue
        required, signed = _INT_FIELDS[name]
        col = trim(t[name])
        trimmed[name] = col
        ok_np = _integer_text(col, signed)  # ^-?\d{1,10}$ / ^\d{1,10}$: 32-bit fields, as CUCM writes them
        if not required:
            ok_np |= np.asarray(pc.equal(col, "").to_numpy(zero_copy_only=False), dtype=bool)
        bad_field[(~ok_np) & (bad_field < 0)] = k
    bad_rows = np.flatnonzero(bad_field >= 0)
    quarantined = []
    for r in bad_rows:
        name = names[bad_field[r]]
        value = t[name][int(r)].as_py()
        line = int(lines[r])
        reason = "empty" if value.strip() == "" else f"not an integer: {value!r}"
        quarantined.append(Quarantined(source, line, int(raw.starts[line - 1]), name, reason, raw.text(line)))
    for name, col in trimmed.items():  # the mapping reads the integers trimmed: trim once, here
        t = t.set_column(t.schema.get_field_index(name), name, col)
    if len(bad_rows):
        keep = bad_field < 0
        t, lines = t.filter(pa.array(keep)), lines[keep]
    return t, lines, quarantined


def _integer_text(col: pa.Array | pa.ChunkedArray, signed: bool) -> np.ndarray:
    """``^-?\\d{1,10}$`` (or without the sign) per value, by two plain kernels instead of a regex."""
    digits = col
    if signed:
        digits = pc.if_else(pc.starts_with(col, "-"), pc.utf8_slice_codeunits(col, 1), col)
    ok = pc.and_(pc.ascii_is_decimal(digits), pc.less_equal(pc.binary_length(digits), 10))
    return np.asarray(pc.fill_null(ok, False).to_numpy(zero_copy_only=False), dtype=bool)
