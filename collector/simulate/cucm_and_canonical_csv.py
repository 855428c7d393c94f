"""Write canonical calls back out in vendor formats: the bytes a PBX would have delivered.

The traffic generator produces PARSED_SCHEMA tables; the demo and the tests need them as files that go
through the *real* connectors.  Each writer is the inverse of its connector for the facts the format
carries (times, numbers as dialled, trunk, direction, disposition), so a round trip is a test of both.

Everything is built column-wise: each CSV line is one ``binary_join_element_wise`` over the columns
(constants folded into literal runs), and each file is a contiguous slice of the resulting string
buffer, so a million calls are written in seconds without a per-call Python loop (``pkid`` UUIDs are
the one exception: one SHA-1 per call for its ``uuid5``, half a second per million).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from collector.connectors.cucm_fields import CDR_FIELDS
from warehouse.schema import PARSED_SCHEMA, conform

#: Namespace of the generated ``pkid`` UUIDs: uuid5(namespace, call_id) is stable across regenerations.
PKID_NAMESPACE = uuid.UUID("6f1c7a52-0c55-4b8e-9a3e-2f4d1c0b7e11")
#: CUCM 11.x/12.x layout (129 columns): the release most clusters in the field run.
CUCM_COLUMNS = 129
_CHUNK_ROWS = 200_000

_STR = pa.string()
Literal = str
Part = pa.Array | pa.ChunkedArray | Literal


# --------------------------------------------------------------------------------------------------------
# Canonical CSV
# --------------------------------------------------------------------------------------------------------

#: Columns of a canonical CSV as written: everything the reader accepts (it sets pbx/source_format/raw_ref).
CANONICAL_COLUMNS = [f.name for f in PARSED_SCHEMA if f.name not in ("pbx", "source_format", "raw_ref")]


def write_canonical_csv(calls: pa.Table, path: Path) -> Path:
    """*calls* (PARSED_SCHEMA) as a canonical CSV (SPEC §6): ISO 8601 UTC times with ``Z``, empty = null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    calls = conform(calls, PARSED_SCHEMA)
    cols = {}
    for name in CANONICAL_COLUMNS:
        col = calls[name]
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ")
        cols[name] = col
    pacsv.write_csv(pa.table(cols), path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return path


# --------------------------------------------------------------------------------------------------------
# CUCM CDR flat files
# --------------------------------------------------------------------------------------------------------

def write_cucm_files(
    calls: pa.Table,
    out_dir: Path,
    *,
    cluster: str = "StandAloneCluster",
    node: int = 1,
    minutes_per_file: int = 1,
    start_seq: int = 1,
) -> list[Path]:
    """*calls* (PARSED_SCHEMA) as CUCM 129-column CDR flat files in *out_dir*, one CDR per call.

    Files are named ``cdr_<cluster>_<node>_<yyyymmddhhmm>_<seq>`` as CUCM names them: grouped by the
    ``dateTimeDisconnect`` interval of ``minutes_per_file`` minutes, stamped with the interval's *end*
    (UTC), only intervals with records get a file, and ``seq`` counts files from *start_seq*.
    """
    if minutes_per_file < 1:
        raise ValueError("minutes_per_file must be >= 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = calls.num_rows
    if n == 0:
        return []
    calls = conform(calls, PARSED_SCHEMA)
    t = _cucm_times(calls)
    order = np.lexsort((t["orig"], t["disc"]))  # disconnect order, as CUCM writes records
    calls = calls.take(pa.array(order))
    t = {k: v[order] for k, v in t.items()}
    interval = 60 * minutes_per_file
    bucket = t["disc"] // interval
    bounds = np.flatnonzero(np.diff(bucket)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [n]))

    header = _cucm_header()
    paths = []
    for k, a in enumerate(starts):
        stamp = datetime.fromtimestamp(int(bucket[a] + 1) * interval, tz=timezone.utc).strftime("%Y%m%d%H%M")
        paths.append(out_dir / f"cdr_{cluster}_{node:02d}_{stamp}_{start_seq + k}")
    # lines are built a chunk of rows at a time (bounded memory); a file spanning two chunks is appended to
    for lo in range(0, n, _CHUNK_ROWS):
        hi = min(n, lo + _CHUNK_ROWS)
        sub = {k: v[lo:hi] for k, v in t.items()}
        lines = _Lines(_cucm_lines(calls.slice(lo, hi - lo), sub, cluster, node, seq0=lo))
        first, last = np.searchsorted(ends, lo, side="right"), np.searchsorted(starts, hi, side="left")
        for g in range(first, last):
            a, b = int(starts[g]), int(ends[g])
            fresh = a >= lo
            with open(paths[g], "wb" if fresh else "ab") as fh:
                if fresh:
                    fh.write(header)
                fh.write(lines.rows(max(a, lo) - lo, min(b, hi) - lo))
    return paths


_HEX = np.array([list(f"{i:02x}".encode()) for i in range(256)], dtype=np.uint8)
_UUID_LAYOUT = np.array([0, 1, 2, 3, -1, 4, 5, -1, 6, 7, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15])


def uuid5_strings(names: list[str], namespace: uuid.UUID = PKID_NAMESPACE) -> pa.Array:
    """``str(uuid.uuid5(namespace, name))`` for every name: one SHA-1 per name, formatting vectorised."""
    sha1, ns = hashlib.sha1, namespace.bytes
    raw = np.frombuffer(b"".join(sha1(ns + s.encode()).digest()[:16] for s in names), dtype=np.uint8)
    raw = raw.reshape(-1, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    out = np.full((len(names), 36), ord("-"), dtype=np.uint8)
    pos = 0
    for b in _UUID_LAYOUT:
        if b < 0:
            pos += 1
            continue
        out[:, pos:pos + 2] = _HEX[raw[:, b]]
        pos += 2
    offsets = pa.py_buffer((np.arange(len(names) + 1, dtype=np.int32) * 36).tobytes())
    return pa.StringArray.from_buffers(len(names), offsets, pa.py_buffer(out.tobytes()))


def _cucm_header() -> bytes:
    fields = CDR_FIELDS[:CUCM_COLUMNS]
    names = ",".join(f'"{name}"' for name, _ in fields)
    types = ",".join(typ for _, typ in fields)
    return f"{names}\n{types}\n".encode()


class _Lines:
    """A string array of CSV lines whose rows [a, b) are written as one contiguous slice of its buffer."""

    def __init__(self, arr: pa.Array) -> None:
        self.arr = arr  # keeps the buffers alive
        width = np.int64 if arr.type == pa.large_string() else np.int32
        self.offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + len(arr) + 1]
        self.data = memoryview(arr.buffers()[2]) if len(arr) else memoryview(b"")

    def __len__(self) -> int:
        return len(self.arr)

    def rows(self, a: int, b: int) -> memoryview:
        return self.data[int(self.offsets[a]):int(self.offsets[b])]


def _epoch(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since the epoch and a validity mask of a timestamp column."""
    ints = pc.cast(pc.cast(col, pa.timestamp("s", tz="UTC")), pa.int64())
    valid = np.asarray(pc.is_valid(ints).to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(pc.fill_null(ints, 0).to_numpy(), dtype=np.int64), valid


def _cucm_times(calls: pa.Table) -> dict[str, np.ndarray]:
    """dateTimeOrigination / Connect / Disconnect and duration, CUCM semantics (connect 0 = unanswered)."""
    orig, _ = _epoch(calls["start_utc"])
    answer, has_answer = _epoch(calls["answer_utc"])
    end, has_end = _epoch(calls["end_utc"])
    dur = np.asarray(pc.fill_null(calls["duration_s"], 0).to_numpy(), dtype=np.int64)
    ring = np.asarray(pc.fill_null(calls["ring_s"], 0).to_numpy(), dtype=np.int64) if "ring_s" in calls.column_names \
        else np.zeros(len(orig), np.int64)
    disposition = calls["disposition"] if "disposition" in calls.column_names else pa.nulls(len(orig), _STR)
    answered_disp = np.asarray(pc.fill_null(pc.equal(disposition, "answered"), False).to_numpy(
        zero_copy_only=False), dtype=bool)
    answered = has_answer | (dur > 0) | answered_disp
    conn = np.where(has_answer, answer, orig + ring)
    conn = np.where(answered, np.maximum(conn, orig), 0)
    disc = np.where(has_end, end, np.where(answered, conn + dur, orig + ring))
    return {"orig": orig, "conn": conn, "disc": disc, "dur": np.where(answered, dur, 0), "answered": answered}


def _str(calls: pa.Table, name: str) -> pa.ChunkedArray:
    if name in calls.column_names:
        return pc.fill_null(pc.cast(calls[name], _STR), "")
    return pa.chunked_array([pa.array([""] * calls.num_rows, _STR)])


def _quoted(col: pa.Array | pa.ChunkedArray) -> Part:
    return pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")


def _num(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, pa.int64()), _STR)


def _phone(number: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Cisco phone device name derived from an extension: SEP + 12 hex digits (the 'MAC')."""
    digits = pc.replace_substring_regex(number, r"[^0-9A-Fa-f]", "")
    mac = pc.utf8_lpad(digits, 12, "0")
    mac = pc.utf8_slice_codeunits(mac, -12)
    return pc.binary_join_element_wise("SEP", pc.utf8_upper(mac), "")


def _ipv4(last4: pa.ChunkedArray, prefix: tuple[int, int]) -> tuple[np.ndarray, pa.Array]:
    """(signed little-endian int, dotted text) of ``prefix.x.y`` with x.y from up to 4 digits of a number."""
    digits = pc.replace_substring_regex(last4, r"[^0-9]", "")
    tail = pc.utf8_slice_codeunits(pc.utf8_lpad(digits, 4, "0"), -4)
    k = np.asarray(pc.cast(tail, pa.int64()).to_numpy(), dtype=np.int64)
    x, y = k // 256 % 256, k % 256
    packed = (prefix[0] | (prefix[1] << 8) | (x << 16) | (y << 24)).astype(np.uint32).view(np.int32)
    text = pc.binary_join_element_wise(f"{prefix[0]}.{prefix[1]}.", _num(x), ".", _num(y), "")
    return packed.astype(np.int64), text


def _cucm_lines(calls: pa.Table, t: dict[str, np.ndarray], cluster: str, node: int, seq0: int) -> pa.Array:
    """One CSV line (with its newline) per call, in the 129-column layout."""
    n = calls.num_rows
    direction = _str(calls, "direction")
    trunk = _str(calls, "trunk")
    calling, called = _str(calls, "calling_number"), _str(calls, "called_number")
    original = _str(calls, "original_called_number")
    original = pc.if_else(pc.equal(original, ""), called, original)
    ext = _str(calls, "extension")
    inbound = pc.equal(direction, "inbound")
    has_trunk = pc.not_equal(trunk, "")
    # the phone on our side: the billed extension when known, else the number of our party
    our_number = pc.if_else(pc.equal(ext, ""), pc.if_else(inbound, called, calling), ext)
    orig_dev = pc.if_else(inbound, trunk, _phone(our_number))
    dest_dev = pc.if_else(inbound, _phone(our_number), pc.if_else(has_trunk, trunk, _phone(called)))
    orig_is_trunk = np.asarray(inbound.to_numpy(zero_copy_only=False), dtype=bool)
    dest_is_trunk = np.asarray(pc.and_(pc.invert(inbound), has_trunk).to_numpy(zero_copy_only=False), dtype=bool)

    answered = t["answered"]
    disposition = _str(calls, "disposition")
    cause_txt = _str(calls, "cause_code")
    numeric = np.asarray(pc.match_substring_regex(cause_txt, r"^-?\d{1,10}$").to_numpy(zero_copy_only=False), bool)
    cause_given = np.zeros(n, np.int64)
    if numeric.any():
        cause_given[numeric] = np.asarray(pc.cast(pc.filter(cause_txt, pa.array(numeric)), pa.int64()).to_numpy())
    disp_np = np.asarray(disposition.to_numpy(zero_copy_only=False), dtype=object)
    default_cause = np.select([answered, disp_np == "busy", disp_np == "failed"], [16, 17, 1], 19)
    cause = np.where(numeric & (cause_given != 0), cause_given, default_cause)
    orig_cause = np.where(answered, cause, 0)
    dest_cause = np.where(answered, 0, cause)

    phone_ip, phone_txt = _ipv4(our_number, (10, 20))
    far_ip, far_txt = _ipv4(called, (10, 21))
    gw_ip, gw_txt = _ipv4(trunk, (10, 0))
    orig_ip = np.where(orig_is_trunk, gw_ip, phone_ip)
    orig_txt = pc.if_else(pa.array(orig_is_trunk), gw_txt, phone_txt)
    dest_ip = np.where(dest_is_trunk, gw_ip, np.where(orig_is_trunk, phone_ip, far_ip))
    dest_txt = pc.if_else(pa.array(dest_is_trunk), gw_txt, pc.if_else(pa.array(orig_is_trunk), phone_txt, far_txt))

    idx = np.arange(seq0, seq0 + n, dtype=np.int64)
    pkid = uuid5_strings(calls["call_id"].to_pylist())
    internal = np.asarray(pc.equal(direction, "internal").to_numpy(zero_copy_only=False), dtype=bool)

    values: dict[str, Part] = {
        "cdrRecordType": "1",
        "globalCallID_callManagerId": str(node),
        "globalCallID_callId": _num(idx % 0xFFFFFF + 1),
        "origLegCallIdentifier": _num(16_000_000 + 2 * idx),
        "dateTimeOrigination": _num(t["orig"]),
        "origNodeId": str(node),
        "origIpAddr": _num(orig_ip),
        "callingPartyNumber": _quoted(calling),
        "origCause_value": _num(orig_cause),
        "origPrecedenceLevel": "4",
        "origMediaTransportAddress_IP": _num(np.where(answered, orig_ip, 0)),
        "origMediaTransportAddress_Port": _num(np.where(answered, 16384 + 2 * (idx % 8000), 0)),
        "origMediaCap_payloadCapability": "4",
        "origMediaCap_maxFramesPerPacket": "20",
        "origRSVPAudioStat": '"0"',
        "origRSVPVideoStat": '"0"',
        "destLegIdentifier": _num(16_000_001 + 2 * idx),
        "destNodeId": str(node),
        "destIpAddr": _num(dest_ip),
        "originalCalledPartyNumber": _quoted(original),
        "finalCalledPartyNumber": _quoted(called),
        "destCause_value": _num(dest_cause),
        "destPrecedenceLevel": "4",
        "destMediaTransportAddress_IP": _num(np.where(answered, dest_ip, 0)),
        "destMediaTransportAddress_Port": _num(np.where(answered, 24576 + 2 * (idx % 8000), 0)),
        "destMediaCap_payloadCapability": "4",
        "destMediaCap_maxFramesPerPacket": "20",
        "destRSVPAudioStat": '"0"',
        "destRSVPVideoStat": '"0"',
        "dateTimeConnect": _num(t["conn"]),
        "dateTimeDisconnect": _num(t["disc"]),
        "lastRedirectDn": _quoted(original),
        "pkid": _quoted(pkid),
        "duration": _num(t["dur"]),
        "origDeviceName": _quoted(orig_dev),
        "destDeviceName": _quoted(dest_dev),
        "origCallTerminationOnBehalfOf": _num(np.where(answered, 12, 0)),
        "destCallTerminationOnBehalfOf": _num(np.where(answered, 0, 12)),
        "globalCallId_ClusterID": f'"{cluster}"',
        "clientMatterCode": _quoted(_str(calls, "account_code")),
        "origDTMFMethod": "3",
        "destDTMFMethod": "3",
        "origMediaCap_Bandwidth": "64",
        "destMediaCap_Bandwidth": "64",
        "origIpv4v6Addr": _quoted(orig_txt),
        "destIpv4v6Addr": _quoted(dest_txt),
        "IncomingProtocolID": _num(np.where(orig_is_trunk, 1, 0)),
        "OutgoingProtocolID": _num(np.where(dest_is_trunk, 1, 0)),
        "calledPartyPatternUsage": _num(np.where(internal & ~dest_is_trunk, 2, 5)),
    }
    parts: list[Part] = []
    literal: list[str] = []
    for k, (name, typ) in enumerate(CDR_FIELDS[:CUCM_COLUMNS]):
        v = values.get(name, "0" if typ == "INTEGER" else '""')
        sep = "," if k else ""
        if isinstance(v, str):
            literal.append(sep + v)
            continue
        literal.append(sep)
        parts.append("".join(literal))
        literal = []
        parts.append(v)
    literal.append("\n")
    parts.append("".join(literal))
    line = pc.binary_join_element_wise(*parts, "")
    if isinstance(line, pa.ChunkedArray):
        line = line.combine_chunks()
    return line
