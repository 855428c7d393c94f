"""The ``canonical-csv`` PBX type: a CSV whose header uses the canonical column names (SPEC §6).

For PBXs without a native connector (an export script, a call-centre platform, another billing tool):
whoever can write this CSV gets the same rating as a native format.  ``call_id``, ``start_utc``,
``duration_s``, ``calling_number`` and ``called_number`` are required; every other PARSED_SCHEMA
column may be absent or empty, and columns the reader does not know are ignored (so an export of rated
calls can be re-imported).

Derivations for what is absent: ``site`` is the PBX's site; ``answer_utc`` is ``start_utc`` for a call
with talk time (a CSV that knows the answer time says so); ``end_utc`` is answer (or start) plus
``duration_s``; ``disposition`` is ``answered`` when ``duration_s > 0``, else ``no_answer``.  Times must
carry ``Z`` or an offset: a bare local time is quarantined rather than guessed, because a wrong guess
at a DST change prices the call at the wrong band without anyone noticing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.base import Connector, ParseResult, Quarantined
from collector.connectors.csvtable import Lines, StringTable, normalise_text, read_strings, split_line
from warehouse.errors import ParseError
from warehouse.schema import PARSED_SCHEMA, TS

SOURCE_FORMAT = "canonical-csv"
REQUIRED = ("call_id", "start_utc", "duration_s", "calling_number", "called_number")
#: Columns the file may carry; ``pbx``, ``source_format`` and ``raw_ref`` are always set by the reader.
OPTIONAL = tuple(f.name for f in PARSED_SCHEMA if f.name not in REQUIRED + ("pbx", "source_format", "raw_ref"))
#: Allowed values of the enumerated columns (empty is always allowed).
ALLOWED = {
    "direction": ("inbound", "outbound", "internal"),
    "disposition": ("answered", "no_answer", "busy", "failed"),
}
_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"
_INT = r"^\d{1,9}$"
_TIMES = ("start_utc", "answer_utc", "end_utc")
_INTS = ("duration_s", "ring_s")
_STR_NULL = pa.scalar(None, pa.string())


class CanonicalCsvConnector(Connector):
    """CSV with a header of canonical column names; one call per row."""

    type = "canonical-csv"
    fields = frozenset(f.name for f in PARSED_SCHEMA)

    def parse(self, data: bytes, source: str) -> ParseResult:
        data = normalise_text(data)
        lines = Lines(data)
        nonempty = lines.nonempty(1) if len(lines) else np.zeros(0, np.int64)
        if not nonempty.size:  # an empty file holds no calls, as for every format (PBXs rotate empty files)
            return ParseResult(PARSED_SCHEMA.empty_table(), [], 0)
        header_line = int(nonempty[0])
        names = [n.strip().lower() for n in split_line(lines.text(header_line))]
        for col in REQUIRED:
            if col not in names:
                raise ParseError("required column missing", file=source, line=header_line, field=col,
                                 expected="a header naming " + ", ".join(REQUIRED))
        names = [n if n and n not in names[:k] else f"_ignored_{k}" for k, n in enumerate(names)]
        rows = read_strings(data, source, names, header_line + 1, lines=lines)
        table, row_lines, bad = _validate(rows, source)
        quarantined = sorted(rows.quarantined + bad, key=lambda q: q.line or 0)
        return ParseResult(self._map(table, row_lines, source), quarantined, rows.records_seen)

    def _map(self, t: pa.Table, lines: np.ndarray, source: str) -> pa.Table:
        n = t.num_rows
        pbx = self.pbx.pbx_id

        def s(name: str) -> pa.ChunkedArray:
            col = t[name] if name in t.column_names else pa.chunked_array([pa.array([""] * n, pa.string())])
            return pc.utf8_trim_whitespace(col)

        duration = _ints(s("duration_s"))
        start = _times(s("start_utc"))
        answered = pc.greater(duration, 0)
        given_answer = _times(s("answer_utc"))
        answer = pc.coalesce(given_answer, pc.if_else(answered, start, pa.scalar(None, TS)))
        end_default = pc.add(pc.coalesce(answer, start), pc.cast(pc.cast(duration, pa.int64()),
                                                                  pa.duration("s")))
        end = pc.coalesce(_times(s("end_utc")), end_default)
        ring_default = pc.cast(pc.cast(pc.subtract(given_answer, start), pa.int64()), pa.int32())
        ring = pc.coalesce(_ints(s("ring_s")), ring_default)
        disposition = pc.coalesce(_null_if_empty(s("disposition")),
                                  pc.if_else(answered, "answered", "no_answer"))
        site = pc.coalesce(_null_if_empty(s("site")), pa.scalar(self.pbx.site, pa.string()))
        cols = {
            "call_id": pc.binary_join_element_wise(pbx, s("call_id"), ":"),
            "pbx": pa.array(np.full(n, pbx, dtype=object), pa.string()),
            "site": site,
            "source_format": pa.array(np.full(n, SOURCE_FORMAT, dtype=object), pa.string()),
            "start_utc": start,
            "answer_utc": answer,
            "end_utc": end,
            "duration_s": duration,
            "ring_s": ring,
            "disposition": disposition,
            "raw_ref": pc.binary_join_element_wise(source, pc.cast(pa.array(lines, pa.int64()), pa.string()), ":"),
        }
        for name in ("calling_number", "called_number", "original_called_number", "extension", "direction",
                     "trunk", "account_code", "cause_code", "chain_id"):
            cols[name] = _null_if_empty(s(name))
        return pa.table(cols)


def _null_if_empty(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(col, ""), _STR_NULL, col)


def _ints(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Validated digit strings → int32 (empty → null)."""
    return pc.cast(_null_if_empty(col), pa.int32())


def _times(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Validated ISO 8601 strings with an offset → UTC seconds (empty → null; fractions truncated)."""
    ns = pc.cast(_null_if_empty(col), pa.timestamp("ns", tz="UTC"))
    return pc.cast(ns, TS, safe=False)


def _validate(rows: StringTable, source: str) -> tuple[pa.Table, np.ndarray, list[Quarantined]]:
    """Find each row's first bad field, vectorised per column; quarantine those rows, keep the rest."""
    t = rows.table
    n = t.num_rows
    checks: list[tuple[str, np.ndarray, str]] = []  # (field, ok mask, reason)

    def mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool) if n else np.zeros(0, bool)

    def col(name: str) -> pa.ChunkedArray | None:
        return pc.utf8_trim_whitespace(t[name]) if name in t.column_names else None

    # numbers may be empty (a withheld caller id); the record's identity may not
    checks.append(("call_id", mask(pc.not_equal(col("call_id"), "")), "empty"))
    for name in _TIMES:
        c = col(name)
        if c is None:
            continue
        ok = pc.match_substring_regex(c, _ISO)
        if name != "start_utc":
            ok = pc.or_(ok, pc.equal(c, ""))
        ok_np = mask(ok)
        ok_np &= _parses_as_time(c, ok_np)
        checks.append((name, ok_np, "not an ISO 8601 time with Z or a UTC offset"))
    for name in _INTS:
        c = col(name)
        if c is None:
            continue
        ok = pc.match_substring_regex(c, _INT)
        if name != "duration_s":
            ok = pc.or_(ok, pc.equal(c, ""))
        checks.append((name, mask(ok), "not a non-negative whole number of seconds"))
    for name, allowed in ALLOWED.items():
        c = col(name)
        if c is None:
            continue
        ok = pc.or_(pc.is_in(c, value_set=pa.array(allowed)), pc.equal(c, ""))
        checks.append((name, mask(ok), "not one of " + ", ".join(allowed)))

    first_bad = np.full(n, -1, dtype=np.int16)
    for k, (_, ok, _) in enumerate(checks):
        first_bad[(~ok) & (first_bad < 0)] = k
    quarantined = []
    raw = rows.raw
    for r in np.flatnonzero(first_bad >= 0):
        name, _, reason = checks[first_bad[r]]
        value = t[name][int(r)].as_py()
        line = int(rows.lines[r])
        quarantined.append(Quarantined(source, line, int(raw.starts[line - 1]) if raw else None, name,
                                       f"{reason}: {value!r}", raw.text(line) if raw else b""))
    keep = first_bad < 0
    if not keep.all():
        t = t.filter(pa.array(keep))
    return t, rows.lines[keep], quarantined


def _parses_as_time(c: pa.ChunkedArray, looks_ok: np.ndarray) -> np.ndarray:
    """Values that look like ISO times but are not (month 13): one cast normally, per value only on failure."""
    candidates = pc.if_else(pa.array(looks_ok) if len(looks_ok) else pa.array([], pa.bool_()), c, _STR_NULL)
    candidates = _null_if_empty(candidates)
    try:
        pc.cast(candidates, pa.timestamp("ns", tz="UTC"))
        return np.ones(len(looks_ok), bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = np.ones(len(looks_ok), bool)
    for r in np.flatnonzero(looks_ok):
        v = c[int(r)].as_py()
        if not v:
            continue
        try:
            pc.cast(pa.array([v]), pa.timestamp("ns", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out[r] = False
    return out
