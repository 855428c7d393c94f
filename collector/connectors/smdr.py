"""Serial / TCP SMDR of older PBXs (Panasonic, NEC, Siemens HiPath, Avaya IP Office …): one record per call.

The vendor is data: ``[[pbx]] layout = "nec"`` picks an entry of ``smdr_layouts.LAYOUTS`` (or an inline
table with the same keys defines a site's own printer format).  This module only knows the four ways a
record's text is cut into vendor fields — fixed columns, a regular expression, CSV columns, numbered
sections (NEC flexible format) — and one mapping from the layout's *roles* to the canonical call.

Framing: ``line`` (CR, LF or CR LF; page headers, separators and form feeds matching the layout's ``skip``
are not records; ``raw_ref`` is ``source:line``) or ``stx_etx`` (``complete_prefix`` keeps a partial frame
for the next read; framed records have no lines, so ``raw_ref`` is ``source@byte-offset`` and a quarantine
entry's "line" is the frame number, its offset the frame's first byte after STX).

Times are the PBX's wall clock (the site's zone).  Most SMDR has minute or second resolution and no answer
time; the start is the given start, or end − duration.  ``call_id`` is the layout's ``identity`` columns
when it has a call reference (IP Office), else a digest of the record text — stable across replays.

NEC sections: the public sample records declare lengths that disagree with their data for some sections
(see docs/connectors.md); the decoder takes the declared length (with the section's documented
adjustment) and, when the next two characters are not a later section number, tries lengths ±1, ±2 and
takes the first that lands on one, quarantining the record when none does.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.base import Connector, ParseResult, PbxContext
from collector.connectors.csvtable import Lines, normalise_text, read_strings
from collector.connectors.records import (
    Checks, CsvRows, Records, complete_frames, constant, epoch_seconds, glob_mask, line_refs, local_to_utc,
    null_if_empty, offset_refs,
    record_ids, seconds_to_ts, split_frames, split_lines, strptime, to_numpy_bool,
)
from collector.connectors.smdr_layouts import LAYOUTS
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

SOURCE_FORMAT = "smdr"
_DURATION_RE = {"hh:mm:ss": r"^(\d{1,3}):(\d\d):(\d\d)$", "hh:mm'ss": r"^(\d{1,3}):(\d\d)'(\d\d)$"}
_RING_RE = {"m'ss": r"^(\d{1,3})'(\d\d)$"}
_KINDS = ("fixed", "regex", "csv", "sections")

#: Canonical columns each role fills (the instance's ``fields`` follow from its layout's roles).
_ROLE_FIELDS = {
    "calling": {"calling_number"}, "called": {"called_number"}, "number": {"calling_number", "called_number"},
    "extension": {"extension"}, "trunk": {"trunk"}, "account": {"account_code"}, "condition": {"cause_code"},
    "chain": {"chain_id"}, "ring": {"ring_s"},
}
_ALWAYS = {"call_id", "pbx", "source_format", "start_utc", "end_utc", "duration_s", "disposition", "raw_ref",
           "direction"}


def resolve_layout(options: dict) -> tuple[str, dict[str, Any]]:
    """The layout a ``[[pbx]]`` table selects (name or inline table), with per-site format overrides."""
    chosen = options.get("layout")
    if isinstance(chosen, dict):
        layout, name = dict(chosen), str(chosen.get("name", "custom"))
    elif isinstance(chosen, str) and chosen in LAYOUTS:
        layout, name = dict(LAYOUTS[chosen]), chosen
    else:
        raise ConfigError(f"unknown SMDR layout {chosen!r}" if chosen else "no SMDR layout given", field="layout",
                          expected="one of " + ", ".join(sorted(LAYOUTS)) + " or an inline layout table")
    for key in ("date_format", "time_format", "start_format", "end_format", "default_direction"):
        if key in options:
            layout[key] = options[key]
    if layout.get("kind") not in _KINDS:
        raise ConfigError(f"layout kind {layout.get('kind')!r}", field="layout.kind", expected=" | ".join(_KINDS))
    roles = layout.get("roles", {})
    if not ({"start", "start_date"} & set(roles) or {"end", "end_date"} & set(roles)):
        raise ConfigError("the layout has no start or end time role", field="layout.roles",
                          expected="start, end, start_date+start_time or end_date+end_time")
    if layout["kind"] == "regex":
        try:
            re.compile(layout["pattern"])
        except (KeyError, re.error) as exc:
            raise ConfigError(f"bad pattern: {exc}", field="layout.pattern", expected="a regular expression") from exc
    return name, layout


class SmdrConnector(Connector):
    """One-line-per-call SMDR over serial or TCP, vendor layouts as data."""

    type = "smdr"
    options = {
        "layout": "nec | panasonic | hipath | ipo, or an inline layout table",
        "date_format": "strptime format of the layout's dates, overriding it (Panasonic sites print dd/mm/yy)",
        "time_format": "strptime format of the layout's times, overriding it",
        "start_format": "strptime format of a combined start date-time, overriding the layout's",
        "end_format": "strptime format of a combined end date-time, overriding the layout's",
        "default_direction": "the direction of a record whose layout marks none (inbound | outbound | internal)",
    }
    stream_state = True  # repeats are numbered along a stream (Connector.for_stream)
    #: Everything some shipped layout can fill; each instance narrows this to what *its* layout has.
    fields = frozenset(_ALWAYS | set().union(*_ROLE_FIELDS.values()) | {"answer_utc"})

    def __init__(self, pbx: PbxContext) -> None:
        super().__init__(pbx)
        self.layout_name, self.layout = resolve_layout(pbx.options)
        roles = set(self.layout.get("roles", {}))
        filled = set(_ALWAYS).union(*(_ROLE_FIELDS[r] for r in roles if r in _ROLE_FIELDS))
        if "ring" in roles and ({"start", "start_date"} & roles):
            filled.add("answer_utc")
        self.fields = frozenset(filled)  # per-layout capabilities (Connector.fields may be set per instance)
        self._framed = self.layout.get("framing") == "stx_etx"

    def complete_prefix(self, buffer: bytes) -> int:
        return complete_frames(buffer) if self._framed else super().complete_prefix(buffer)

    # ------------------------------------------------------------------------------------------------
    def decode(self, data: bytes, source: str) -> ParseResult:
        kind = self.layout["kind"]
        if kind == "csv":
            cols, where, seen, pre_bad = self._csv(data, source)
        else:
            recs = split_frames(data) if self._framed else split_lines(data, strip="\x00\r\n")
            skip = self.layout.get("skip")
            if skip and len(recs):
                recs = recs.take(~to_numpy_bool(pc.match_substring_regex(recs.text, skip)))
            decode = {"fixed": self._fixed, "regex": self._regex, "sections": self._sections}[kind]
            cols, ok, reason = decode(recs)
            where, seen, pre_bad = recs, len(recs), []
            cols["__ok"], cols["__reason"] = ok, reason
        return self._finish(cols, where, seen, pre_bad, source)

    # --- decoders: record text → vendor columns (strings) --------------------------------------------
    def _fixed(self, recs: Records) -> tuple[dict, np.ndarray, str]:
        width = int(self.layout.get("width") or max(c[2] for c in self.layout["columns"]))
        length = np.asarray(pc.utf8_length(recs.text).to_numpy(zero_copy_only=False), dtype=np.int64)
        needed = max(c[1] for c in self.layout["columns"])
        padded = pc.utf8_rpad(recs.text, width=width)
        cols = {name: pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(padded, first - 1, last))
                for name, first, last in self.layout["columns"]}
        ok = (length >= needed) & (length <= width + 1)
        return cols, ok, f"record length is not the layout's {width} characters"

    def _regex(self, recs: Records) -> tuple[dict, np.ndarray, str]:
        pattern = self.layout["pattern"]
        names = re.compile(pattern).groupindex
        matched = pc.extract_regex(recs.text, pattern)
        ok = to_numpy_bool(pc.is_valid(matched))
        cols = {name: pc.utf8_trim_whitespace(pc.fill_null(pc.struct_field(matched, name), "")) for name in names}
        return cols, ok, "does not match the layout's pattern"

    def _sections(self, recs: Records) -> tuple[dict, np.ndarray, str]:
        """NEC flexible records: per-record section walk (serial/TCP SMDR rates: tens of records a second)."""
        header = re.compile(self.layout["header"])
        spec = self.layout["sections"]
        rows: list[dict[str, str]] = []
        ok = np.ones(len(recs), dtype=bool)
        for k, text in enumerate(recs.text.to_pylist()):
            row: dict[str, str] = {}
            m = header.match(text)
            if not m:
                ok[k] = False
                rows.append(row)
                continue
            row.update(m.groupdict())
            if not _walk_sections(text[m.end():], spec, row):
                ok[k] = False
            rows.append(row)
        names = sorted({key for r in rows for key in r})
        cols = {n: pa.array([r.get(n, "") for r in rows], pa.string()) for n in names}
        for role_cols in self.layout["roles"].values():
            for c in role_cols:
                cols.setdefault(c, constant("", len(recs)))
        return cols, ok, "sections do not follow the flexible-format layout"

    def _csv(self, data: bytes, source: str):
        if self.layout.get("field_counts"):
            return self._csv_by_count(data)
        data = normalise_text(data)
        lines = Lines(data)
        names = list(self.layout["columns"])
        rows = read_strings(data, source, names, 1, lines=lines)
        cols = {n: pc.utf8_trim_whitespace(rows.table[n]) for n in names}
        n = rows.table.num_rows
        cols["__ok"], cols["__reason"] = np.ones(n, bool), ""
        return cols, CsvRows.of(rows), rows.records_seen, rows.quarantined

    def _csv_by_count(self, data: bytes):
        """Unquoted CSV whose records have one of ``field_counts`` fields, each count a prefix of ``columns``.

        IP Office releases append fields, and one file or stream can span an upgrade: each record is cut
        at its commas (IP Office defines no quoting) and read by its own count, column-wise — the record
        text is padded with one empty field per column, so a shorter record's missing fields read empty.
        """
        recs = split_lines(data, strip="\x00\r\n")
        skip = self.layout.get("skip")
        if skip and len(recs):
            recs = recs.take(~to_numpy_bool(pc.match_substring_regex(recs.text, skip)))
        names = list(self.layout["columns"])
        counts = sorted(int(c) for c in self.layout["field_counts"])
        if not len(recs):
            return {n: constant("", 0) for n in names} | {"__ok": np.zeros(0, bool), "__reason": ""}, recs, 0, []
        found = np.asarray(pc.count_substring(recs.text, ",").to_numpy(zero_copy_only=False), dtype=np.int64) + 1
        padded = pc.binary_join_element_wise(recs.text, "," * len(names), "")
        parts = pc.split_pattern(padded, ",", max_splits=len(names))
        used = _used_columns(self.layout)  # the vendor fields the mapping reads; the others are only counted
        cols = {n: pc.utf8_trim_whitespace(pc.list_element(parts, k)) for k, n in enumerate(names) if n in used}
        cols["__ok"] = np.isin(found, counts)
        expected = ", ".join(map(str, counts[:-1])) + f" or {counts[-1]}"
        cols["__reason"] = lambda k: f"{found[k]} fields; {self.layout_name} records have {expected}"
        return cols, recs, len(recs), []

    # --- roles → canonical call ----------------------------------------------------------------------
    def _finish(self, cols: dict, where, seen: int, pre_bad: list, source: str) -> ParseResult:
        lay = self.layout
        ok0, reason0 = cols.pop("__ok"), cols.pop("__reason")
        n = len(ok0)
        if not n:
            return ParseResult(PARSED_SCHEMA.empty_table(), pre_bad, seen)
        for flag_col, wanted in lay.get("flags", {}).items():
            if flag_col in cols:
                cols[flag_col] = pc.if_else(pc.equal(cols[flag_col], wanted), cols[flag_col], "")
        devices = lay.get("devices")
        if devices:
            for derived, prefix in devices.items():
                if derived == "columns":
                    continue
                value = constant("", n)
                for dev_col in reversed(devices["columns"]):
                    dev = cols[dev_col]
                    value = pc.if_else(pc.starts_with(dev, prefix), dev, value)
                cols[derived] = pc.utf8_slice_codeunits(value, 1) if derived.endswith("extension") else value
        roles = lay["roles"]

        def role(name: str) -> pa.Array | pa.ChunkedArray | None:
            names = roles.get(name)
            if not names:
                return None
            out = cols[names[-1]]
            for c in reversed(names[:-1]):
                out = pc.if_else(pc.equal(cols[c], ""), out, cols[c])
            return out

        checks = Checks(n)
        checks.add(None, ok0, reason0 if isinstance(reason0, str) or callable(reason0) else "malformed")
        start = self._datetime(role, "start", checks)
        end = self._datetime(role, "end", checks)
        duration = self._seconds(role("duration"), lay.get("duration_format", "seconds"), _DURATION_RE, checks,
                                 "duration", required=False)
        ring = self._seconds(role("ring"), lay.get("ring_format", "seconds"), _RING_RE, checks, "ring",
                             required=False)
        extra = [self._seconds(cols[c], "seconds", {}, checks, c, required=False) for c in lay.get("billed_extra", ())]
        good, bad = checks.quarantine(where, source)
        quarantined = sorted(pre_bad + bad, key=lambda q: q.line or 0)
        mask = pa.array(good)
        keep = {k: v.filter(mask) for k, v in cols.items()}
        cols = keep
        m = int(good.sum())
        start_s = epoch_seconds(start.filter(mask)) if start is not None else None
        end_s = epoch_seconds(end.filter(mask)) if end is not None else None
        dur = duration[good] if duration is not None else None
        ring_v = ring[good] if ring is not None else None
        if dur is None:
            dur = np.maximum(end_s - start_s, 0)
        for seconds in extra:  # time the call held the line outside its connected part (IP Office hold, park)
            dur = dur + np.maximum(seconds[good], 0)
        if start_s is None:
            start_s = end_s - dur
        if end_s is None:
            end_s = start_s + (np.where(ring_v >= 0, ring_v, 0) if ring_v is not None else 0) + dur
        answered = dur > 0
        ring_ok = ring_v is not None
        answer_s = start_s + (np.where(ring_v >= 0, ring_v, 0) if ring_ok else 0)

        # direction, numbers
        number = role("number")
        direction = np.full(m, lay.get("default_direction") or "", dtype=object)
        markers = lay.get("dial_markers", {})
        if number is not None and markers:
            for marker, way in markers.items():
                hit = to_numpy_bool(pc.starts_with(number, marker))
                direction[hit] = way
                number = pc.if_else(pa.array(hit), pc.utf8_slice_codeunits(number, len(marker)), number)
            number = pc.utf8_trim_whitespace(number)
        code = role("direction")
        if code is not None:
            mapped = np.array([lay.get("direction_map", {}).get(c) for c in
                               np.asarray(code.to_numpy(zero_copy_only=False), dtype=object)], dtype=object)
            direction = np.where(mapped != None, mapped, direction)  # noqa: E711 (element-wise)
        direction = np.where(direction == "", None, direction)
        vm = lay.get("voicemail")
        if vm:  # a voicemail channel and no trunk party: the leg never left the PBX
            globs = [*vm.get("devices", ()), *self.pbx.voicemail_devices]
            to_vm = np.zeros(m, bool)
            for c in vm["columns"]:
                to_vm |= glob_mask(cols[c], globs)
            trunk_col = role("trunk")
            no_trunk = to_numpy_bool(pc.equal(trunk_col, "")) if trunk_col is not None else np.ones(m, bool)
            direction = np.where(to_vm & no_trunk, "internal", direction)
        inbound = pa.array(direction == "inbound")
        extension = role("extension")
        calling, called = role("calling"), role("called")
        if number is not None:
            ext = extension if extension is not None else constant("", m)
            calling = calling if calling is not None else pc.if_else(inbound, number, ext)
            called = called if called is not None else pc.if_else(inbound, ext, number)
        identity = lay.get("identity")
        if identity:
            ids = record_ids(self.pbx.pbx_id, [cols[c] for c in identity], hashed=False)  # a vendor id: no stream counting
        else:
            texts = where.text.filter(mask) if isinstance(where, Records) else constant("", m)
            ids = record_ids(self.pbx.pbx_id, [texts], hashed=True, repeats=self.repeats)
        lines = where.line[good]

        def opt(value) -> pa.Array | pa.ChunkedArray:
            return null_if_empty(value) if value is not None else pa.nulls(m, pa.string())

        out = {
            "call_id": ids,
            "pbx": constant(self.pbx.pbx_id, m),
            "source_format": constant(SOURCE_FORMAT, m),
            "start_utc": seconds_to_ts(start_s),
            "answer_utc": seconds_to_ts(answer_s, answered & ring_ok & (start is not None)),
            "end_utc": seconds_to_ts(end_s),
            "duration_s": pa.array(dur, pa.int64()).cast(pa.int32()),
            "ring_s": pa.array(ring_v, pa.int64(), mask=ring_v < 0).cast(pa.int32()) if ring_ok else None,
            "calling_number": opt(calling),
            "called_number": opt(called),
            "extension": opt(extension),
            "direction": pa.array(direction, pa.string()),
            "trunk": opt(role("trunk")),
            "account_code": opt(role("account")),
            "disposition": pa.array(np.where(answered, "answered", "no_answer").astype(object), pa.string()),
            "cause_code": opt(role("condition")),
            "chain_id": opt(role("chain")),
            "raw_ref": offset_refs(source, where.offset[good]) if self._framed else line_refs(source, lines),
        }
        return ParseResult(pa.table({k: v for k, v in out.items() if v is not None and k in self.fields}),
                           quarantined, seen)

    def _datetime(self, role, which: str, checks: Checks) -> pa.Array | None:
        lay = self.layout
        whole = role(which)
        if whole is not None:
            fmt = lay.get(f"{which}_format", "%Y-%m-%d %H:%M:%S")
            text = pc.utf8_slice_codeunits(whole, 0, 14) if fmt == "%Y%m%d%H%M%S" else whole
        else:
            d, t = role(f"{which}_date"), role(f"{which}_time")
            if d is None or t is None:
                return None
            fmt = f"{lay.get('date_format', '%Y-%m-%d')} {lay.get('time_format', '%H:%M:%S')}"
            text = pc.binary_join_element_wise(d, pc.utf8_trim_whitespace(t), " ")
        naive = strptime(text, fmt)
        checks.add(which, pc.is_valid(naive), lambda k, c=text: f"not a time ({fmt}): {c[k].as_py()!r}")
        return local_to_utc(naive, self.pbx.timezone)

    @staticmethod
    def _seconds(col, fmt: str, patterns: dict, checks: Checks, name: str, *, required: bool) -> np.ndarray | None:
        if col is None:
            return None
        empty = to_numpy_bool(pc.equal(col, ""))
        if fmt == "seconds":
            ok = to_numpy_bool(pc.match_substring_regex(col, r"^\d{1,9}$"))
            values = np.asarray(pc.cast(pc.if_else(pa.array(ok), col, "0"), pa.int64()).to_numpy(
                zero_copy_only=False), dtype=np.int64)
        else:
            pattern = patterns[fmt]
            ok = to_numpy_bool(pc.match_substring_regex(col, pattern))
            parts = pc.extract_regex(pc.if_else(pa.array(ok), col, _zero(fmt)), _named(pattern))
            values = np.zeros(len(ok), dtype=np.int64)
            for g in range(re.compile(pattern).groups):  # h, m, s → ((h * 60) + m) * 60 + s
                part = pc.cast(pc.struct_field(parts, f"p{g}"), pa.int64())
                values = values * 60 + np.asarray(part.to_numpy(zero_copy_only=False), dtype=np.int64)
        checks.add(name, ok | (empty & (not required)), lambda k: f"not {fmt}: {col[k].as_py()!r}")
        return np.where(empty, -1, values)


def _used_columns(layout: dict[str, Any]) -> set[str]:
    """Vendor columns a layout's mapping reads: roles, flags, party devices, voicemail, identity, billed extras."""
    used = {c for names in layout.get("roles", {}).values() for c in names}
    used |= set(layout.get("flags", {})) | set(layout.get("identity", ())) | set(layout.get("billed_extra", ()))
    used |= set(layout.get("devices", {}).get("columns", ())) | set(layout.get("voicemail", {}).get("columns", ()))
    return used


def _named(pattern: str) -> str:
    """``(\\d+):(\\d\\d)`` → ``(?P<p0>\\d+):(?P<p1>\\d\\d)``."""
    out, k = [], 0
    for ch in pattern:
        if ch == "(":
            out.append(f"(?P<p{k}>")
            k += 1
        else:
            out.append(ch)
    return "".join(out)


def _zero(fmt: str) -> str:
    return {"hh:mm:ss": "0:00:00", "hh:mm'ss": "0:00'00", "m'ss": "0'00"}[fmt]


def _walk_sections(body: str, spec: dict, row: dict[str, str]) -> bool:
    """Decode ``NN LL data…`` sections into ``row["NN.subfield"]``; False when no consistent reading exists.

    Each section's data length is its declared length plus the section's adjustment; when that does not
    lead to a complete reading of the record (every following section number known and increasing, the
    last one ending at the record's end), lengths up to 4 characters shorter or longer are tried, nearest
    first; a last section longer than what is left of the record takes the rest.  Memoised on (position, previous section), so a record costs at most sections × 9 steps.
    """
    failed: set[tuple[int, str]] = set()

    def walk(pos: int, last: str) -> list[tuple[str, int, int]] | None:
        if pos == len(body):
            return []
        if (pos, last) in failed:
            return None
        code, length = body[pos:pos + 2], body[pos + 2:pos + 4]
        if code in spec and length.isdigit() and code > last:
            declared = int(length) + spec[code][1]
            start = pos + 4
            for delta in _NEAREST:
                size = declared + delta
                if size < 0 or start + size > len(body):
                    continue
                rest = walk(start + size, code)
                if rest is not None:
                    return [(code, start, size)] + rest
            if start + declared > len(body):  # a last section cut short: its data is the rest of the record
                return [(code, start, len(body) - start)]
        failed.add((pos, last))
        return None

    found = walk(0, "")
    if found is None:
        return False
    for code, start, size in found:
        value = body[start:start + size]
        at = 0
        for name, width in spec[code][0]:
            piece = value[at:] if width == 0 else value[at:at + width]
            row[f"{code}.{name}"] = piece.strip()
            at = len(value) if width == 0 else at + width
    return True


_NEAREST = (0, -1, 1, -2, 2, -3, 3, -4, 4)
