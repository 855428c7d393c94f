"""Avaya Communication Manager CDR record layouts, as data (``shared/reference/avaya-asterisk-smdr.md`` §1).

A layout is a list of ``(item, length)`` pairs in record order — exactly what page 2 of
``display system-parameters cdr`` shows for the *customized* format — so the standard formats, the
presets seen in public collectors and a site's own customized record are all read by the same slicer.
Item names are the SAT keywords (``date``, ``time``, ``sec-dur``, ``cond-code``, …); ``space`` is filler.
``return``, ``line-feed`` and ``null`` end a record and are not part of its text.

Positions of the standard formats are those of the DEFINITY/MultiVantage/CM admin guides quoted in the
reference.  Several tables were only partly retrieved (printer, expanded, int-isdn) and *unformatted* is
the reference's **unverified** reconstruction; their ``width`` is ``None`` (records may be longer than the
known part) and ``verified`` says so.  LSU has no time of day and int-process / 59-char were not retrieved,
so they are not offered: a site using them gets a configuration error naming the layouts that exist.
"""

from __future__ import annotations

from dataclasses import dataclass

Item = tuple[str, int]

#: SAT keywords that end a record (not part of its text).
TERMINATORS = frozenset({"return", "line-feed", "null"})
#: Items the parser reads; any other keyword is sliced and ignored (newer CM releases add items).
USED_ITEMS = frozenset({
    "date", "time", "duration", "sec-dur", "cond-code", "code-dial", "code-used", "in-trk-code",
    "dialed-num", "calling-num", "clg-num/in-tac", "auth-code", "acct-code", "ucid", "vdn",
})


@dataclass(frozen=True, slots=True)
class AvayaLayout:
    name: str
    items: tuple[Item, ...]
    width: int | None  # record length without CR LF; None: only a prefix of the record is known
    verified: str  # where the positions come from


def from_positions(fields: list[tuple[str, int, int]], width: int | None) -> tuple[Item, ...]:
    """(item, first, last) 1-based inclusive positions → (item, length) pairs with ``space`` filler."""
    items: list[Item] = []
    pos = 1
    for name, first, last in sorted(fields, key=lambda f: f[1]):
        if first > pos:
            items.append(("space", first - pos))
        items.append((name, last - first + 1))
        pos = last + 1
    if width is not None and width >= pos:
        items.append(("space", width - pos + 1))
    return tuple(items)


def layout_width(items: tuple[Item, ...] | list[Item]) -> int:
    return sum(length for name, length in items if name not in TERMINATORS)


_TELESEER = [
    ("time", 4, 7), ("duration", 8, 11), ("cond-code", 12, 12), ("code-dial", 13, 15), ("code-used", 16, 18),
    ("dialed-num", 19, 33), ("calling-num", 34, 38), ("acct-code", 39, 53), ("frl", 54, 54), ("ixc-code", 55, 55),
    ("in-crt-id", 56, 58), ("out-crt-id", 59, 61), ("feat-flag", 62, 62), ("auth-code", 63, 69),
]
_PRINTER = [
    ("time", 1, 4), ("duration", 6, 9), ("cond-code", 11, 11), ("code-dial", 13, 15), ("code-used", 17, 19),
    ("dialed-num", 21, 35), ("calling-num", 37, 41), ("acct-code", 43, 57), ("auth-code", 59, 65), ("frl", 70, 70),
    ("ixc-code", 72, 72), ("in-crt-id", 74, 76),
]
_EXPANDED = [
    ("time", 1, 4), ("duration", 6, 9), ("cond-code", 11, 11), ("code-dial", 13, 16), ("code-used", 18, 21),
    ("dialed-num", 23, 37), ("calling-num", 39, 48), ("acct-code", 50, 64),
]
_INT_ISDN = _EXPANDED + [
    ("auth-code", 66, 72), ("frl", 76, 76), ("in-crt-id", 78, 80), ("out-crt-id", 82, 84), ("feat-flag", 86, 86),
    ("attd-console", 88, 89), ("in-trk-code", 91, 94), ("node-num", 96, 97), ("ins", 99, 101), ("ixc-code", 103, 106),
    ("bcc", 108, 108), ("ma-uui", 110, 110), ("res-flag", 112, 112),
]
_UNFORMATTED = [
    ("time", 1, 4), ("duration", 5, 8), ("cond-code", 9, 9), ("code-dial", 10, 13), ("code-used", 14, 17),
    ("dialed-num", 18, 32), ("calling-num", 33, 42), ("acct-code", 43, 57), ("auth-code", 58, 64),
]

#: The standard formats CM's *Primary/Secondary Output Format* offers, as far as the manuals were retrieved.
STANDARD_LAYOUTS: dict[str, AvayaLayout] = {
    "teleseer": AvayaLayout("teleseer", from_positions(_TELESEER, 76), 76,
                            "R8.2/MV1.2 admin guide table (complete)"),
    "printer": AvayaLayout("printer", from_positions(_PRINTER, None), None,
                           "R8.2 Table 31, columns 1-76 (the rest not retrieved)"),
    "expanded": AvayaLayout("expanded", from_positions(_EXPANDED, None), None,
                            "MV1.2 Table 44, columns 1-64 (the rest not retrieved)"),
    "int-isdn": AvayaLayout("int-isdn", from_positions(_INT_ISDN, None), None,
                            "CM Nov 2003 Table 52, pages 1-2 of 3 (columns 1-112)"),
    "unformatted": AvayaLayout("unformatted", from_positions(_UNFORMATTED, None), None,
                               "UNVERIFIED reconstruction (reference §1.3.7): check against a capture"),
}

#: Customized records published with open-source CM collectors (reference §1.4), selectable by name in
#: ``[[pbx]] fields = "yaacc"``; their ``date_format`` is the one the collector was written for.
CUSTOMIZED_PRESETS: dict[str, tuple[tuple[Item, ...], str]] = {
    "avayacdrparce": (from_positions([
        ("date", 1, 6), ("time", 8, 11), ("sec-dur", 13, 17), ("calling-num", 19, 33), ("dialed-num", 35, 57),
        ("auth-code", 59, 71), ("in-trk-code", 73, 76), ("in-crt-id", 77, 79), ("code-dial", 81, 84),
        ("code-used", 86, 89), ("out-crt-id", 90, 92), ("cond-code", 94, 94)], 95), "mmdd"),
    "sszokoly": (from_positions([
        ("date", 1, 6), ("time", 8, 11), ("sec-dur", 13, 17), ("cond-code", 19, 19), ("code-dial", 21, 24),
        ("code-used", 26, 29), ("in-trk-code", 31, 34), ("dialed-num", 36, 53), ("calling-num", 55, 65),
        ("auth-code", 67, 74), ("acct-code", 76, 79), ("in-crt-id", 81, 83), ("out-crt-id", 85, 87),
        ("vdn", 89, 93), ("frl", 95, 95)], 95), "mmdd"),
    "yaacc": (from_positions([
        ("date", 1, 6), ("time", 8, 11), ("sec-dur", 13, 17), ("cond-code", 19, 19), ("code-dial", 21, 24),
        ("code-used", 26, 29), ("dialed-num", 31, 53), ("calling-num", 55, 69), ("acct-code", 71, 85),
        ("ppm", 87, 91), ("in-crt-id", 93, 95), ("out-crt-id", 97, 99), ("in-trk-code", 101, 104),
        ("vdn", 106, 112), ("feat-flag", 114, 114)], 114), "ddmm"),
}

#: Condition codes (reference §1.5).  Unknown codes are kept as they are in ``cause_code``, never an error.
CONDITION_CODES: dict[str, str] = {
    "0": "intraswitch", "1": "attendant", "A": "outgoing", "B": "adjunct-placed outgoing", "4": "long call interim",
    "D": "long call interim", "6": "not recorded / ISDN failure", "E": "ineffective attempt (unverified)",
    "7": "AAR/ARS", "G": "ring time record", "8": "ringback queuing", "H": "abandoned while ringing",
    "9": "incoming or tandem", "I": "busy", "C": "conference", "L": "conference", "J": "incoming new connection",
    "K": "outgoing new connection (unverified)", "F": "unknown (unverified)", "M": "unknown (unverified)",
    "T": "unknown (unverified)", "N": "ineffective attempt (unverified)",
}
#: Condition codes that say which way the call went; others fall back to the trunk codes present.
INBOUND_CODES = frozenset({"9"})  # the 59-char letters (I = 9 …) are not used: that format is not offered
OUTBOUND_CODES = frozenset({"7", "A", "B"})
INTERNAL_CODES = frozenset({"0"})
#: Condition codes that say how the call ended, when it did not simply connect.
BUSY_CODES = frozenset({"I"})
NO_ANSWER_CODES = frozenset({"H"})
FAILED_CODES = frozenset({"6", "E", "N"})
#: Condition codes that say which feature made the record, as a ``leg_role`` (issue 17): a conference (and a
#: trunk-to-trunk transfer, which CM records as one) writes one record per trunk; an attendant-handled call
#: was extended by the attendant.  The records of one call share its UCID (``chain_id``) where the layout has it.
FEATURE_CODES: dict[str, str] = {"C": "conference", "L": "conference", "1": "transferred"}
#: Interim record of a call longer than 10 hours (duration 9:59.9): the final record carries the call.
INTERIM_CODES = frozenset({"4", "D"})
