"""SMDR line layouts of older PBXs, as data (``shared/reference/avaya-asterisk-smdr.md`` §4).

Each layout says how a record is framed (one line, or STX … ETX), how its text is cut into named vendor
fields (fixed columns, a regular expression, CSV columns, or NEC's numbered sections) and which vendor
field plays which role in a call (``roles``: the first non-empty of the listed fields wins).  The
connector (``smdr.py``) has no vendor-specific branch: a new PBX is a new entry here, or a table under
``[[pbx]] layout = { … }`` in the configuration with the same keys.

Roles: ``start``/``end`` (a date-time), ``start_date``+``start_time`` or ``end_date``+``end_time``,
``duration``, ``ring``, ``calling``, ``called``, ``number`` (the far end: the caller of an inbound call,
the called number otherwise), ``extension``, ``trunk``, ``account``, ``condition`` (kept in
``cause_code``), ``direction`` (a vendor code looked up in ``direction_map``), ``chain``.
Formats are ``strptime`` patterns; durations are ``seconds``, ``hh:mm:ss`` or ``hh:mm'ss``; ring times
``seconds`` or ``m'ss``.  Optional keys: ``skip`` (lines that are not records), ``dial_markers`` (a prefix
of the number that says the direction, Panasonic ``<I>``), ``default_direction``, ``flags`` (a column
kept only when equal to the value), ``devices`` (derived trunk/extension columns from party devices by
prefix), ``identity`` (columns that identify a record; otherwise its text is digested), ``width``;
CSV layouts may add ``field_counts`` (the field counts releases write, each a prefix of ``columns``: records
are cut at commas and matched by their count), ``billed_extra`` (whole-second columns added to the billed
talk time, IP Office hold and park) and ``voicemail`` (columns whose values, matched against the layout's
and the site's voicemail globs, make a leg without a trunk party internal).
"""

from __future__ import annotations

from typing import Any

#: Panasonic KX-TDA/TDE/NS "Pattern A" (80 columns): one line per call, the time is the call's end.
PANASONIC: dict[str, Any] = {
    "kind": "regex",
    "framing": "line",
    "pattern": (r"^(?P<date>\d\d/\d\d/\d\d) (?P<time>[\d ]\d:\d\d[AP]M) +(?P<ext>\d{2,5}) +(?P<co>\d{1,3}| {2}) "
                r"(?P<dial>.{25}) (?P<ring>[\d ]'\d\d| {4}) (?P<duration>\d\d:\d\d'\d\d) ?(?P<acc>.{0,10}?) *"
                r"(?P<cd>[A-Z]{2})? *$"),
    "skip": r"^\s*(Date\s+Time|-{5,}|=+$|\f)|^\s*$",
    "roles": {"end_date": ["date"], "end_time": ["time"], "duration": ["duration"], "ring": ["ring"],
              "extension": ["ext"], "trunk": ["co"], "number": ["dial"], "account": ["acc"], "condition": ["cd"]},
    "date_format": "%m/%d/%y",  # dd/mm/yy sites: [[pbx]] date_format = "%d/%m/%y"
    "time_format": "%I:%M%p",
    "duration_format": "hh:mm'ss",
    "ring_format": "m'ss",
    # the dial field marks the call: <I> incoming (caller's number follows), <D> DDI, EXT intercom
    "dial_markers": {"<I>": "inbound", "<D>": "inbound", "EXT": "internal"},
    "default_direction": "outbound",  # no marker: the extension dialled out on the CO line
    "source": "KX-TDA/TDE SMDR manual pattern A and a public Perl reader's regex (reference §4.1)",
}

#: Siemens/Unify HiPath 3000/5000 GetAccount record (109 columns + CR LF).
HIPATH: dict[str, Any] = {
    "kind": "fixed",
    "framing": "line",
    "columns": [  # name, first, last (1-based, inclusive)
        ["date", 1, 8], ["time", 9, 16], ["trunk", 17, 19], ["node", 20, 22], ["ext", 23, 28], ["seconds", 29, 33],
        ["hms", 34, 41], ["number", 42, 66], ["charge", 67, 77], ["call_type", 78, 78], ["account", 79, 89],
        ["msn", 90, 100], ["line", 101, 105], ["lcr", 106, 109],
    ],
    "width": 109,
    "skip": r"^\s*$|^\f",
    "roles": {"end_date": ["date"], "end_time": ["time"], "duration": ["seconds"], "extension": ["ext"],
              "trunk": ["trunk"], "number": ["number"], "account": ["account"], "condition": ["call_type"],
              "direction": ["call_type"]},
    "date_format": "%d.%m.%y",
    "time_format": "%H:%M:%S",
    "duration_format": "seconds",
    "direction_map": {"1": "inbound", "2": "outbound"},
    "source": "HiPath 3000 GetAccount layout (reference §4.3); call types other than 1/2 leave direction open",
}

#: Avaya IP Office SMDR: CSV pushed over TCP, the call's start time, talk time as HH:MM:SS.  Releases add
#: fields at the end of the record, so the columns are the newest field list and ``field_counts`` the
#: counts released versions write (each a prefix of it; a record of any other count is quarantined).
IPO: dict[str, Any] = {
    "kind": "csv",
    "framing": "line",
    "columns": ["call_start", "connected_time", "ring_time", "caller", "direction", "called_number",
                "dialled_number", "account", "is_internal", "call_id", "continuation", "party1_device",
                "party1_name", "party2_device", "party2_name", "hold_time", "park_time", "auth_valid", "auth_code",
                "user_charged", "call_charge", "currency", "amount_at_last_user_change", "call_units",
                "units_at_last_user_change", "cost_per_unit", "mark_up", "external_targeting_cause",
                "external_targeter_id", "external_targeted_number",
                "calling_party_server_ip", "caller_unique_call_id", "called_party_server_ip",
                "called_unique_call_id", "smdr_record_time", "caller_consent_directive",
                "calling_number_verification"],
    "field_counts": {
        17: "IP Office 3.x/4.0 SMDR (Delta Server), up to Park Time; the records of Avaya's SMDR examples page",
        30: "IP Office 4.2 - 8.x direct SMDR: + authorisation, advice of charge, external targeting",
        34: "IP Office 9.0 and later: + calling/called party server IP address and unique call id",
        35: "later releases (Avaya's R11 field list): + SMDR Record Time",
        37: "R11.1/R12 (STIR/SHAKEN): + Caller Consent Directive, Calling Number Verification",
    },
    # a header line a logging tool (or Delta Server) writes in front of the records is not a record
    "skip": r'(?i)^(?:\xef\xbb\xbf)?\s*"?call[ _]?start',
    "roles": {"start": ["call_start"], "duration": ["connected_time"], "ring": ["ring_time"], "calling": ["caller"],
              "called": ["dialled_number", "called_number"], "account": ["account"],
              "direction": ["is_internal", "direction"], "chain": ["call_id"], "trunk": ["party_trunk"],
              "extension": ["party_extension"]},
    # Connected Time excludes hold and park, but a held or parked call still holds the trunk: both are billed
    # (Avaya: the total duration of a record is Connected Time + Ring Time + Hold Time + Park Time)
    "billed_extra": ["hold_time", "park_time"],
    "flags": {"is_internal": "1"},  # kept only when equal to this value, so the direction column decides otherwise
    "start_format": "%Y/%m/%d %H:%M:%S",
    "duration_format": "hh:mm:ss",
    "ring_format": "seconds",
    "direction_map": {"1": "internal", "I": "inbound", "O": "outbound"},
    # party devices: T… is a trunk line, E… an extension → derived columns party_trunk / party_extension
    "devices": {"columns": ["party1_device", "party2_device"], "party_trunk": "T", "party_extension": "E"},
    # voicemail channels (V9501…, named "VM Channel n"): a leg to one without a trunk party is internal
    "voicemail": {"columns": ["party1_device", "party1_name", "party2_device", "party2_name"],
                  "devices": ["V95*", "VM Channel*"]},
    "identity": ["call_id", "call_start", "party1_device", "party2_device", "continuation"],
    "source": "Avaya IP Office SMDR field list (Manager / Web Manager 'SMDR Fields', R9-R12) and emceha/ipo500-smdr",
}

#: NEC SV8100/SV9100/SV9500 "flexible format" records (KK outgoing, KL incoming, KM station-to-station):
#: STX-framed, ``0!`` + kind, then numbered sections ``NN`` + 2-digit length + data.
NEC: dict[str, Any] = {
    "kind": "sections",
    "framing": "stx_etx",
    "header": r"^0!(?P<kind>K[A-Z])",
    "sections": {  # number: [[subfield, length or 0 for "the rest"], …], length adjustment
        "01": [[["fusion", 3], ["route", 3], ["trunk", 3], ["logical_route", 3]], 0],
        "02": [[["cpi", 1], ["tenant", 3], ["number", 6]], 0],
        "03": [[["fusion", 3], ["user_group", 3], ["number", 0]], 0],
        "04": [[["cpi", 1], ["tenant", 3], ["number", 6]], 0],
        "05": [[["fusion", 3], ["user_group", 3], ["number", 0]], 0],
        "06": [[["start", 17], ["end", 17]], 0],
        "07": [[["account", 0]], -1],
        "08": [[["condition", 3]], 0],
        "09": [[["used", 9], ["first", 9]], 0],
        "10": [[["dialled", 0]], -1],
        "11": [[["calling_office", 4], ["billing_office", 4]], 0],
        "12": [[["auth", 0]], -1],
        "13": [[["charge_kind", 1], ["charge", 0]], 0],
        "14": [[["notify", 1], ["attcon", 0]], 0],
        "15": [[["department", 3]], 0],
        "16": [[["presentation", 1], ["number", 0]], 0],
        "17": [[["converted", 0]], 0],
        "18": [[["calling_maid", 5], ["route_maid", 5]], 0],
        "19": [[["received", 17]], 0],
    },
    "roles": {"start": ["06.start"], "end": ["06.end"], "extension": ["02.number", "04.number"],
              "calling": ["02.number", "16.number"], "called": ["10.dialled", "04.number"],
              "trunk": ["01.route"], "account": ["07.account"], "condition": ["08.condition"], "direction": ["kind"]},
    "start_format": "%Y%m%d%H%M%S",  # the last 3 digits (milliseconds) are cut before parsing
    "end_format": "%Y%m%d%H%M%S",
    "direction_map": {"KK": "outbound", "KA": "outbound", "KH": "outbound", "KI": "outbound", "KL": "inbound",
                      "KE": "inbound", "KM": "internal", "KB": "internal", "KJ": "internal"},
    "source": "zombat/NEC-SMDR-Collector parse-nec-smdr.js section table, checked on its three sample records",
}

LAYOUTS: dict[str, dict[str, Any]] = {"panasonic": PANASONIC, "hipath": HIPATH, "ipo": IPO, "nec": NEC}
