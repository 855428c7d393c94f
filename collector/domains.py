"""The declared domain of every canonical field, checked after every connector's parse (issue 16, defect 2).

A connector reads what its format says; it does not know that a 1,000,000-digit calling number or a
number with bytes ``\\xff\\xfe`` in it (decoded by a latin-1 or cp1252 reader as ``ÿþ``) is not a phone
number.  Stored, such a value is rated, exported and shown.  So every column of ``PARSED_SCHEMA`` has a
domain here — a length limit, the characters it may hold, the values it may take, a plausible range —
and :func:`violations` finds the rows outside it with a few Arrow compute calls per column, no Python
per row.  :meth:`collector.connectors.base.Connector.parse` quarantines those rows with the field and the
reason (the good records around them are kept), so the rule holds for every connector, built-in or
plugin, whichever path (file import, live stream, replay) parsed the bytes.

The domains (a field ``PARSED_SCHEMA`` marks not nullable is also never missing):

* numbers (``calling_number``, ``called_number``, ``original_called_number``, ``extension``): at most
  :data:`MAX_NUMBER` characters, each a digit, ``+``, ``*`` or ``#`` — or, since SIP PBXs dial names too,
  a dialplan or SIP address in ASCII: letters, digits and ``. _ - @`` (Asterisk's ``s``, ``ch1`` and
  ``voicemail`` extensions, FreeSWITCH's ``gonzalo@parzee.com``, CUCM's ``b00…`` conference bridges,
  all in the shipped samples).  Never a non-ASCII character: ``12ÿþ34`` is bytes ``FF FE`` read as
  latin-1, not a number;
* text: valid UTF-8 (Arrow guarantees it for a valid string array), no control characters but tab,
  CR and LF (a quoted CSV value may span lines), no U+FFFD (the mark a decoder leaves for bytes that
  are not text in the vendor's declared encoding), and a length limit per field;
* closed vocabularies: ``direction`` and ``disposition``;
* times: between :data:`EARLIEST` and :data:`LATEST`, answer and end not before the start;
* durations: ``duration_s`` from 0 to :data:`MAX_DURATION_S`, ``ring_s`` from 0 to :data:`MAX_RING_S`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.schema import PARSED_SCHEMA, TS

#: Longest dialled string kept: E.164 allows 15 digits; access codes, international prefixes and
#: CUCM's 50-character party numbers fit, a field run-on does not.
MAX_NUMBER = 64
#: A call's talk time at most a week (SMDR's 99:59:59 is about four days).
MAX_DURATION_S = 7 * 24 * 3600
#: Ringing (or queueing) at most a day.
MAX_RING_S = 24 * 3600
#: Plausible call times: after digital PBXs kept CDRs, before any PBX clock could honestly say.
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)

#: Characters no text field holds: C0 controls but tab, LF and CR, DEL, C1 controls, and U+FFFD (an
#: undecodable byte).
_NOT_TEXT = r"[\x{00}-\x{08}\x{0b}\x{0c}\x{0e}-\x{1f}\x{7f}-\x{9f}\x{fffd}]"
#: Characters no number holds: anything but digits, ``+ * #`` and a dialplan or SIP address's ASCII.
_NOT_NUMBER = r"[^0-9+*#A-Za-z._@-]"


@dataclass(frozen=True, slots=True)
class Domain:
    """What one canonical field may hold; None means no rule of that kind."""

    max_length: int | None = None  # characters
    forbidden: str | None = None  # RE2 class of characters the field never holds
    values: frozenset[str] | None = None  # a closed vocabulary
    number: bool = False  # for the reason: "not a number" rather than "a character not allowed"
    min_value: int | None = None  # integers
    max_value: int | None = None


def _text(max_length: int) -> Domain:
    return Domain(max_length=max_length, forbidden=_NOT_TEXT)


_NUMBER = Domain(max_length=MAX_NUMBER, forbidden=_NOT_NUMBER, number=True)

#: The declared domain of each ``PARSED_SCHEMA`` column (times are checked together: see ``_time_rules``).
DOMAINS: dict[str, Domain] = {
    "call_id": _text(256),
    "pbx": _text(128),
    "site": _text(128),
    "source_format": _text(64),
    "duration_s": Domain(min_value=0, max_value=MAX_DURATION_S),
    "ring_s": Domain(min_value=0, max_value=MAX_RING_S),
    "calling_number": _NUMBER,
    "called_number": _NUMBER,
    "original_called_number": _NUMBER,
    "extension": _NUMBER,
    "direction": Domain(values=frozenset({"inbound", "outbound", "internal"})),
    "trunk": _text(128),
    "account_code": _text(64),
    "disposition": Domain(values=frozenset({"answered", "no_answer", "busy", "failed"})),
    "cause_code": _text(32),
    "chain_id": _text(256),
    "raw_ref": _text(4096),
    # chain linkage (docs/chains.md): vendor ids and the feature codes the connector names
    "call_group": _text(256),
    "leg_id": _text(256),
    "peer_leg_id": _text(256),
    "trunk_leg_id": _text(256),
    "leg_feature": _text(32),
    "split_feature": _text(32),
}
TIME_FIELDS = ("start_utc", "answer_utc", "end_utc")
assert set(DOMAINS) | set(TIME_FIELDS) == set(PARSED_SCHEMA.names), "every canonical field has a domain"


@dataclass(frozen=True, slots=True)
class Violation:
    """Row *row* of a parsed table is outside *field*'s domain, for *reason*."""

    row: int
    field: str
    reason: str


def violations(calls: pa.Table) -> list[Violation]:
    """The rows of *calls* (``PARSED_SCHEMA``) outside their fields' domains, the first field that fails each.

    Vectorised: each rule is a numpy scan or one or two compute kernels over a column; Python runs only
    for the rows that fail (to word their reason), which on good input is none.
    """
    if calls.num_rows == 0:
        return []
    found: dict[int, Violation] = {}
    for f in PARSED_SCHEMA:
        if not f.nullable and calls.column(f.name).null_count:
            _collect(found, pc.is_null(calls.column(f.name)), f.name, "missing", calls.column(f.name))
    for name in PARSED_SCHEMA.names:
        if name in TIME_FIELDS:
            continue
        for mask, reason in _field_rules(name, calls.column(name), DOMAINS[name]):
            _collect(found, mask, name, reason, calls.column(name))
    for name, mask, reason in _time_rules(calls):
        _collect(found, mask, name, reason, calls.column(name))
    return [found[r] for r in sorted(found)]


def _field_rules(name: str, col: pa.ChunkedArray, d: Domain):
    """(violation mask, reason) pairs for one column; a reason may name the value via ``{value}``.

    String rules first scan the column's bytes with numpy (:func:`_may_violate`): on good input that
    settles it, and the Arrow kernels that find the rows (and count characters, not bytes) run only
    when some byte could break a rule.
    """
    if d.max_length is not None and _may_be_longer(col, d.max_length):
        lengths = pc.utf8_length(col)
        if (_max(lengths) or 0) > d.max_length:
            yield pc.greater(lengths, d.max_length), f"longer than {d.max_length} characters"
    if d.forbidden is not None and _may_violate(col, _NUMBER_BYTES if d.number else _TEXT_BYTES):
        bad = pc.match_substring_regex(col, d.forbidden)
        if pc.any(bad).as_py():
            what = ("not a number (digits, +, *, # or an ASCII dialplan address)" if d.number
                    else "holds a control character or an undecodable byte")
            yield bad, what + ": {value}"
    if d.values is not None:
        bad = pc.invert(pc.is_in(col, value_set=pa.array(sorted(d.values), col.type)))
        bad = pc.and_(bad, pc.is_valid(col))
        if pc.any(bad).as_py():
            yield bad, "not one of " + ", ".join(sorted(d.values)) + ": {value}"
    if d.min_value is not None and (_min(col) or 0) < d.min_value:
        yield pc.less(col, d.min_value), f"below {d.min_value}: {{value}}"
    if d.max_value is not None and (_max(col) or 0) > d.max_value:
        yield pc.greater(col, d.max_value), f"above {d.max_value}: {{value}}"


def _byte_table(allowed: bytes) -> np.ndarray:
    table = np.zeros(256, bool)
    table[np.frombuffer(allowed, np.uint8)] = True
    return table


#: Bytes that settle a value as in-domain on their own.  Text: printable ASCII, tab, LF, CR (a byte from
#: 0x80 up starts a character that may be C1 or U+FFFD: the regex decides).  Numbers: the allowed ASCII.
_TEXT_BYTES = _byte_table(bytes(range(0x20, 0x7F)) + b"\t\n\r")
_NUMBER_BYTES = _byte_table(b"0123456789+*#._@-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _string_buffers(col: pa.ChunkedArray):
    """(offsets, data bytes) of each chunk of a ``string`` column, as numpy views (no copy)."""
    for chunk in col.chunks:
        if len(chunk) == 0:
            continue
        _, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)
        data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        yield offsets, data[offsets[0]:offsets[-1]]


def _may_be_longer(col: pa.ChunkedArray, limit: int) -> bool:
    """Whether some value may have more than *limit* characters: it has more than *limit* bytes."""
    if col.type != pa.string():
        return True
    return any(len(offsets) > 1 and int(np.diff(offsets).max()) > limit for offsets, _ in _string_buffers(col))


def _may_violate(col: pa.ChunkedArray, allowed: np.ndarray) -> bool:
    """Whether some byte of the column is not in *allowed* (null slots' bytes too: then the regex decides).

    The bytes' minimum and maximum first (a SIMD reduction, twenty times the speed of a table look-up):
    all printable ASCII, or all digits, is settled by them.
    """
    if col.type != pa.string():
        return True
    for _, data in _string_buffers(col):
        if not len(data):
            continue
        low, high = int(data.min()), int(data.max())
        if allowed[low:high + 1].all():
            continue
        if not allowed[data].all():
            return True
    return False


def _time_rules(calls: pa.Table):
    lo, hi = pa.scalar(EARLIEST, TS), pa.scalar(LATEST, TS)
    start = calls.column("start_utc")
    for name in TIME_FIELDS:
        col = calls.column(name)
        low, high = pc.min_max(col).values()
        if (low.is_valid and low.as_py() < EARLIEST) or (high.is_valid and high.as_py() >= LATEST):
            yield name, pc.or_(pc.less(col, lo), pc.greater_equal(col, hi)), \
                f"not a plausible time (before {EARLIEST:%Y} or from {LATEST:%Y} on): {{value}}"
        if name != "start_utc":
            before = pc.less(col, start)
            if pc.any(before).as_py():
                yield name, before, "before the call's start: {value}"


def _collect(found: dict[int, Violation], mask, name: str, reason: str, col: pa.ChunkedArray) -> None:
    rows = np.flatnonzero(np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), bool))
    for r in rows:
        r = int(r)
        if r not in found:
            found[r] = Violation(r, name, reason.format(value=_show(col[r].as_py())))


def _show(value: object) -> str:
    """The offending value for a message: its repr, cut short (a 1 MB field is not a message)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:32]}… ({len(str(value)):,} characters)"


def _max(values) -> int | None:
    return pc.max(values).as_py()


def _min(values) -> int | None:
    return pc.min(values).as_py()
