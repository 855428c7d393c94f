"""Parse stage: many small stream parts become one connector call; raw references point into the dump.

Why combine: 200 links each delivering a few records per read would mean thousands of tiny parse
calls per second.  Parts of the same PBX that share a session preamble (the CSV header line) hold
whole records, so their concatenation is a valid input; one vectorised parse covers them all, and
each row is traced back to its part (for accounting) and its raw-dump byte (for ``raw_ref``) with a
newline scan and ``searchsorted`` — no per-row Python.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.base import Quarantined
from collector.parts import ParsedGroup, Part
from warehouse.errors import CallcostError
from warehouse.schema import PARSED_SCHEMA

_names = itertools.count(1)


def group_parts(parts: list[Part]) -> list[list[Part]]:
    """Files alone; stream parts together per (PBX, preamble), in arrival order."""
    groups: dict[tuple, list[Part]] = {}
    out: list[list[Part]] = []
    for p in parts:
        if p.is_file:
            out.append([p])
            continue
        key = (p.pbx, p.preamble, id(p.connector))
        if key not in groups:
            groups[key] = []
            out.append(groups[key])
        groups[key].append(p)
    return out


def parse_group(parts: list[Part]) -> ParsedGroup:
    """Parse *parts* (one group) and quarantine the incomplete tails of ended sessions."""
    n = len(parts)
    received = np.zeros(n, np.int64)
    parsed = np.zeros(n, np.int64)
    n_quar = np.zeros(n, np.int64)
    quarantined: list[Quarantined] = []
    calls = PARSED_SCHEMA.empty_table()
    row_part = np.zeros(0, np.int64)

    live = [k for k, p in enumerate(parts) if p.data]
    if live:
        first = parts[live[0]]
        if first.is_file:
            calls, row_part, quar, q_part, seen = _parse_file(first)
        else:
            calls, row_part, quar, q_part, seen = _parse_streams([parts[k] for k in live])
        idx = np.asarray(live, np.int64)
        row_part = idx[row_part] if len(row_part) else row_part
        q_idx = idx[np.asarray(q_part, np.int64)] if q_part else np.zeros(0, np.int64)
        quarantined.extend(quar)
        parsed += np.bincount(row_part, minlength=n)
        n_quar += np.bincount(q_idx, minlength=n)
        received += parsed + n_quar
        # records the connector saw but neither returned nor quarantined (it should not happen): keep visible
        missing = seen - int(received.sum())
        if missing > 0:
            received[live[0]] += missing
    for k, p in enumerate(parts):
        if p.incomplete:
            loc = p.dump_location(p.range_end - len(p.incomplete))
            quarantined.append(Quarantined(loc[0] if loc else p.stream, None, loc[1] if loc else None, None,
                                           "incomplete record: the link closed in the middle of it",
                                           p.incomplete))
            n_quar[k] += 1
            received[k] += 1
    q_order = quarantined
    return ParsedGroup(parts, calls, row_part, q_order, received, parsed, n_quar)


def _parse_file(p: Part):
    try:
        result = p.connector.parse(p.data, p.source or p.stream)
    except CallcostError as exc:
        return _whole_part_failed([p], exc)
    return (result.calls, np.zeros(result.calls.num_rows, np.int64), result.quarantined,
            [0] * len(result.quarantined), result.records_seen)


def _whole_part_failed(parts: list[Part], exc: Exception):
    quar = []
    for p in parts:
        loc = p.dump_location(p.first_offset)
        quar.append(Quarantined(loc[0] if loc else (p.source or p.stream), None, loc[1] if loc else p.first_offset,
                                None, f"cannot parse: {exc}", p.data))
    return PARSED_SCHEMA.empty_table(), np.zeros(0, np.int64), quar, list(range(len(parts))), len(parts)


def _parse_streams(parts: list[Part]):
    name = f"collector-chunk-{next(_names)}"
    pre = parts[0].preamble
    data = pre + b"".join(p.data for p in parts)
    part_starts = np.cumsum([len(pre)] + [len(p.data) for p in parts[:-1]]).astype(np.int64)
    try:
        result = parts[0].connector.parse(data, name)
    except CallcostError as exc:
        return _whole_part_failed(parts, exc)
    line_starts = _line_starts(data)
    calls = result.calls

    # rows: raw_ref "<name>:<line>" (or "<name>@<offset>") → byte in *data* → part → raw-dump byte
    offsets = _ref_offsets(calls.column("raw_ref"), name, line_starts)
    known = offsets >= 0
    row_part = np.zeros(calls.num_rows, np.int64)
    row_part[known] = np.searchsorted(part_starts, offsets[known], side="right") - 1
    row_part = np.clip(row_part, 0, len(parts) - 1)
    refs = _dump_refs(parts, part_starts, row_part, offsets)
    if refs is not None:
        calls = calls.set_column(calls.schema.get_field_index("raw_ref"), "raw_ref",
                                 pc.if_else(pa.array(known), refs, calls.column("raw_ref")))

    quar, q_part = [], []
    for q in result.quarantined:
        off = q.offset if q.offset is not None else (int(line_starts[q.line - 1]) if q.line else len(pre))
        k = int(np.clip(np.searchsorted(part_starts, off, side="right") - 1, 0, len(parts) - 1))
        at = parts[k].first_offset + max(off - int(part_starts[k]), 0)  # in the stream, not in this chunk
        loc = parts[k].dump_location(at)
        # the quarantine is idempotent by (source, position): the position must be the stream's
        quar.append(replace(q, source=loc[0] if loc else parts[k].stream, line=None,
                            offset=loc[1] if loc else at))
        q_part.append(k)
    return calls, row_part, quar, q_part, result.records_seen


def _line_starts(data: bytes) -> np.ndarray:
    nl = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    return np.concatenate([[0], nl + 1]).astype(np.int64)


def _ref_offsets(raw_ref: pa.ChunkedArray, name: str, line_starts: np.ndarray) -> np.ndarray:
    """Byte offset in the parsed buffer of each row, from the connector's raw_ref; -1 when unknown.

    The connector was called with *name*, so its refs are ``<name>:<line>`` or ``<name>@<offset>``:
    two prefix tests and one slice read them (a regex per row cost as much as the parse itself).
    """
    n = len(raw_ref)
    if n == 0:
        return np.zeros(0, np.int64)
    refs = pc.fill_null(raw_ref, "")
    by_line = _flags(pc.starts_with(refs, name + ":"))
    by_offset = _flags(pc.starts_with(refs, name + "@"))
    digits = pc.utf8_slice_codeunits(refs, len(name) + 1)
    number = pc.and_(pc.ascii_is_decimal(digits), pc.less_equal(pc.binary_length(digits), 18))
    nums = np.asarray(pc.cast(pc.if_else(number, digits, "-1"), pa.int64()).to_numpy(zero_copy_only=False),
                      np.int64)
    out = np.full(n, -1, np.int64)
    by_line &= (nums >= 1) & (nums <= len(line_starts))
    out[by_line] = line_starts[nums[by_line] - 1]
    by_offset &= nums >= 0
    out[by_offset] = nums[by_offset]
    return out


def _flags(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), bool)


_PART_SPAN = 1 << 40  # a part is far smaller: part k's offsets map to [k * span, (k + 1) * span)


def _dump_refs(parts: list[Part], part_starts: np.ndarray, row_part: np.ndarray,
               offsets: np.ndarray) -> pa.Array | None:
    """``<dump file>@<byte offset>`` for every row: one ``searchsorted`` over every part's dump blocks.

    Each part's stream offsets are shifted into a range of their own, so the blocks of all parts form
    one sorted key array and each row finds the last block of its part starting at or before it.
    A part without blocks refers to its stream name and stream offsets.
    """
    if not any(p.blocks for p in parts) or not len(row_part):
        return None
    base = np.asarray([min([p.first_offset] + [b[0] for b in p.blocks]) for p in parts], np.int64)
    blocks = [(k, start, path, off) for k, p in enumerate(parts)
              for start, path, off in (p.blocks or ((p.first_offset, p.stream, p.first_offset),))]
    blk_part = np.asarray([b[0] for b in blocks], np.int64)
    blk_start = np.asarray([b[1] for b in blocks], np.int64)
    blk_off = np.asarray([b[3] for b in blocks], np.int64)
    keys = blk_part * _PART_SPAN + (blk_start - base[blk_part])
    order = np.argsort(keys, kind="stable")
    first_offsets = np.asarray([p.first_offset for p in parts], np.int64)
    stream_off = first_offsets[row_part] + np.maximum(offsets - part_starts[row_part], 0)
    found = np.searchsorted(keys[order], row_part * _PART_SPAN + (stream_off - base[row_part]), side="right") - 1
    b = order[np.clip(found, 0, len(order) - 1)]
    # a row before its part's first block still takes that block (as before): clamp into the part
    first_block = order[np.searchsorted(keys[order], np.arange(len(parts)) * _PART_SPAN, side="left")
                        .clip(0, len(order) - 1)]
    b = np.where(blk_part[b] == row_part, b, first_block[row_part])
    paths = pa.DictionaryArray.from_arrays(pa.array(b, pa.int32()),
                                           pa.array([x[2] for x in blocks], pa.string())).cast(pa.string())
    dump_off = blk_off[b] + stream_off - blk_start[b]
    return pc.binary_join_element_wise(paths, pc.cast(pa.array(dump_off), pa.string()), "@")
