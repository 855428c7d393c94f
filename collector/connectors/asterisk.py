"""Asterisk ``Master.csv`` from ``cdr_csv`` (16–21 columns) and ``cdr_custom`` (a column order of its own).

Both write CSV without a header, so the column list is configuration (reference §3.1–3.2):

* ``cdr_csv``: 16 base columns, plus ``uniqueid`` (``loguniqueid``), ``userfield`` (``loguserfield``) and
  ``peeraccount, linkedid, sequence`` (``newcdrcolumns``).  The ``[[pbx]]`` flags say which are on; when
  they are not given, the field count of the first record picks the documented combination (16, 17, 18, 19,
  20 or 21 columns).  Times are local unless ``usegmtime = true`` (Asterisk's own option name).
* ``cdr_custom``: ``columns = "cdr_custom"`` for the legacy sample mapping (19 columns), or the mapping's
  own list of CDR variable names.

Asterisk writes one CDR per channel pair, not per call: a forked Dial gives one row per ringing
destination, grouped by ``linkedid`` (``chain_id``).  Which side is a trunk is site knowledge:
``trunk_channels`` (globs on the channel's peer, e.g. ``SIP/carrier*``) and ``inbound_contexts`` (globs
on ``dcontext``) give ``direction`` and ``trunk``; without them both stay empty and the classifier decides
from the numbers.  A call is outbound only if it left over a trunk: a leg that ran a dialplan
pseudo-extension (``s``, ``t``, ``i``, ``h`` …), a menu key, or a prompt / voicemail application without
dialling anyone is an internal IVR leg, configured or not.  ``call_id`` is ``uniqueid`` + ``sequence``
when logged (unique per CDR), otherwise the channel pair with its times.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.base import Connector, ParseResult, PbxContext
from collector.connectors.csvtable import Lines, normalise_text, read_strings, split_line
from collector.connectors.records import (
    Checks, CsvRows, constant, epoch_seconds, glob_mask, int_check, line_refs, local_times, null_if_empty,
    record_ids, time_check, to_numpy_bool,
)
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

SOURCE_FORMAT = "asterisk"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

BASE_COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
                "start", "answer", "end", "duration", "billsec", "disposition", "amaflags")
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
#: cdr_custom.conf.sample's legacy mapping (what most cdr_custom files in the field use).
CDR_CUSTOM_LEGACY = ("clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start",
                     "answer", "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid",
                     "userfield", "sequence")
#: cdr_csv column count → (loguniqueid, loguserfield, newcdrcolumns) when the flags are not configured.
#: 20 is ambiguous (uniqueid or userfield with the new columns); uniqueid is the one the sample cdr.conf enables.
COUNT_FLAGS = {16: (False, False, False), 17: (True, False, False), 18: (True, True, False),
               19: (False, False, True), 20: (True, False, True), 21: (True, True, True)}
DISPOSITIONS = {"ANSWERED": "answered", "NO ANSWER": "no_answer", "BUSY": "busy", "FAILED": "failed",
                "CONGESTION": "failed"}
REQUIRED = ("src", "dst", "start", "end")
#: Dialplan pseudo-extensions (start, timeout, absolute timeout, invalid, hangup, assistant, operator,
#: exception): a CDR whose dst is one of them ran the dialplan, it dialled no number.
PSEUDO_EXTENSIONS = ("s", "t", "T", "i", "h", "a", "o", "e")
#: An IVR menu choice: one key.
MENU_KEY = r"^[0-9*#]$"
#: Applications that answer a caller on the PBX itself (menus, prompts, voicemail) rather than connect it on.
IVR_APPS = ("Background", "Playback", "Read", "WaitExten", "VoiceMail", "VoiceMailMain", "SayDigits", "SayNumber",
            "SayAlpha", "SayPhonetic", "ControlPlayback", "Record", "Directory")


def cdr_csv_columns(loguniqueid: bool, loguserfield: bool, newcdrcolumns: bool) -> tuple[str, ...]:
    """The column order ``cdr_csv.c`` writes for these ``cdr.conf [csv]`` flags."""
    cols = list(BASE_COLUMNS)
    if loguniqueid:
        cols.append("uniqueid")
    if loguserfield:
        cols.append("userfield")
    if newcdrcolumns:
        cols.extend(NEW_COLUMNS)
    return tuple(cols)


def peer(channel: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``SIP/carrier-0000001a`` → ``SIP/carrier``: the channel name without its unique suffix."""
    return pc.replace_substring_regex(channel, r"-[0-9a-fA-F]+(;\d+)?$", "")


class AsteriskConnector(Connector):
    """Asterisk cdr_csv / cdr_custom Master.csv files."""

    type = "asterisk"
    options = {
        "columns": "cdr_csv (default) | cdr_custom (legacy sample mapping) | a list of CDR variable names",
        "usegmtime": "cdr.conf [csv] usegmtime: times in UTC (default: the site's local time)",
        "loguniqueid": "cdr.conf [csv] flag; with loguserfield and newcdrcolumns it fixes the cdr_csv columns",
        "loguserfield": "cdr.conf [csv] flag (see loguniqueid)",
        "newcdrcolumns": "cdr.conf [csv] flag (see loguniqueid)",
        "trunk_channels": "globs on the channel peer that are trunks (outbound through it, inbound from it)",
        "inbound_contexts": "globs on dcontext that mean the call came from outside",
    }
    stream_state = True  # repeats are numbered along a stream (Connector.for_stream)
    fields = frozenset({
        "call_id", "pbx", "source_format", "start_utc", "answer_utc", "end_utc", "duration_s", "ring_s",
        "calling_number", "called_number", "extension", "direction", "trunk", "account_code", "disposition",
        "chain_id", "raw_ref", "leg_id", "leg_feature",
    })

    def __init__(self, pbx: PbxContext) -> None:
        super().__init__(pbx)
        opts = pbx.options
        self.timezone = "UTC" if opts.get("usegmtime") else pbx.timezone
        columns = opts.get("columns", "cdr_csv")
        self.flags = tuple(bool(opts[k]) for k in ("loguniqueid", "loguserfield", "newcdrcolumns")) \
            if all(k in opts for k in ("loguniqueid", "loguserfield", "newcdrcolumns")) else None
        if columns == "cdr_csv":
            self.columns = cdr_csv_columns(*self.flags) if self.flags else None  # None: by field count
        elif columns == "cdr_custom":
            self.columns = CDR_CUSTOM_LEGACY
        elif isinstance(columns, list) and all(isinstance(c, str) for c in columns):
            self.columns = tuple(c.strip().lower() for c in columns)
            missing = [c for c in REQUIRED if c not in self.columns]
            if missing:
                raise ConfigError(f"the column list lacks {', '.join(missing)}", field="columns",
                                  expected="Asterisk CDR variable names including " + ", ".join(REQUIRED))
        else:
            raise ConfigError(f"unknown columns setting {columns!r}", field="columns",
                              expected='"cdr_csv", "cdr_custom" or a list of CDR variable names')
        self.trunks = [str(g) for g in opts.get("trunk_channels", ())]
        self.inbound_contexts = [str(g) for g in opts.get("inbound_contexts", ())]
        self.voicemail = list(pbx.voicemail_devices)  # Asterisk's own voicemail is an application (IVR_APPS)

    def _columns_for(self, data: bytes, lines: Lines, source: str) -> tuple[str, ...] | None:
        if self.columns is not None:
            return self.columns
        first = lines.nonempty(1)
        if not len(first):
            return None
        count = len(split_line(lines.text(int(first[0]))))
        if count not in COUNT_FLAGS:
            # an unknown width: every row is quarantined by the field-count check against the full layout
            return cdr_csv_columns(True, True, True)
        return cdr_csv_columns(*COUNT_FLAGS[count])

    def decode(self, data: bytes, source: str) -> ParseResult:
        data = normalise_text(data)
        lines = Lines(data)
        names = self._columns_for(data, lines, source) if len(lines) else None
        if names is None:
            return ParseResult(PARSED_SCHEMA.empty_table(), [], 0)
        rows = read_strings(data, source, list(names), 1, lines=lines)
        t = rows.table
        n = t.num_rows
        where = CsvRows.of(rows)

        def s(name: str) -> pa.ChunkedArray | pa.Array:
            return pc.utf8_trim_whitespace(t[name]) if name in t.column_names else constant("", n)

        checks = Checks(n)
        start = local_times(s("start"), TIME_FORMAT, self.timezone)
        answer = local_times(s("answer"), TIME_FORMAT, self.timezone)
        end = local_times(s("end"), TIME_FORMAT, self.timezone)
        time_check(checks, "start", s("start"), start, required=True, what="a time YYYY-MM-DD HH:MM:SS")
        time_check(checks, "answer", s("answer"), answer, required=False, what="a time YYYY-MM-DD HH:MM:SS")
        time_check(checks, "end", s("end"), end, required=True, what="a time YYYY-MM-DD HH:MM:SS")
        billsec = int_check(checks, "billsec", s("billsec")) if "billsec" in t.column_names else None
        duration = int_check(checks, "duration", s("duration"), required=False) if "duration" in t.column_names else None
        good, bad = checks.quarantine(where, source)
        quarantined = sorted(rows.quarantined + bad, key=lambda q: q.line or 0)
        if not good.all():
            keep = pa.array(good)
            t = t.filter(keep)
            start, answer, end = start.filter(keep), answer.filter(keep), end.filter(keep)
            billsec = billsec[good] if billsec is not None else None
            duration = duration[good] if duration is not None else None
        lines_kept = rows.lines[good]
        return ParseResult(self._map(t, start, answer, end, billsec, duration, lines_kept, source), quarantined,
                           rows.records_seen)

    def _map(self, t: pa.Table, start, answer, end, billsec, duration, lines: np.ndarray, source: str) -> pa.Table:
        n = t.num_rows

        def s(name: str) -> pa.ChunkedArray | pa.Array:
            return pc.utf8_trim_whitespace(t[name]) if name in t.column_names else constant("", n)

        start_s, answer_s, end_s = epoch_seconds(start), epoch_seconds(answer), epoch_seconds(end)
        has_answer = answer_s >= 0
        talk = billsec if billsec is not None else np.where(has_answer, end_s - np.maximum(answer_s, 0), 0)
        disp_raw = np.asarray(pc.utf8_upper(s("disposition")).to_numpy(zero_copy_only=False), dtype=object)
        disposition = np.array([DISPOSITIONS.get(d) for d in disp_raw], dtype=object) if n else disp_raw
        # a Dial leg that rang out on an already-answered channel has billsec > 0: its talk time is 0
        talk = np.where(np.isin(disposition, ["no_answer", "busy", "failed"]), 0, talk)
        ring = np.where(has_answer, answer_s - start_s, end_s - start_s)
        channel, dstchannel = s("channel"), s("dstchannel")
        src_peer, dst_peer = peer(channel), peer(dstchannel)
        from_trunk = glob_mask(src_peer, self.trunks) | glob_mask(s("dcontext"), self.inbound_contexts)
        to_trunk = glob_mask(dst_peer, self.trunks)
        configured = bool(self.trunks or self.inbound_contexts)
        ivr = self._ivr_legs(s("dst"), s("lastapp"), dstchannel, dst_peer) & ~from_trunk & ~to_trunk
        code = np.select([from_trunk, to_trunk, ivr], [2, 1, 0], 0 if configured else -1)
        direction = pa.array(np.array(["internal", "outbound", "inbound"], dtype=object)[np.maximum(code, 0)],
                             pa.string(), mask=code < 0)
        trunk_name = pc.if_else(pa.array(code == 2), pc.if_else(glob_mask_arr(src_peer, self.trunks), src_peer,
                                                                 pa.scalar(None, pa.string())),
                                pc.if_else(pa.array(code == 1), dst_peer, pa.scalar(None, pa.string())))
        src, dst = s("src"), s("dst")
        extension = pc.if_else(pa.array(code == 2), dst, src)
        extension = pc.if_else(pa.array(code < 0), pa.scalar(None, pa.string()), null_if_empty(extension))
        if "sequence" in t.column_names and "uniqueid" in t.column_names:
            ids = record_ids(self.pbx.pbx_id, [s("uniqueid"), s("sequence")], hashed=False)  # a vendor id: no stream counting
        else:
            first = s("uniqueid") if "uniqueid" in t.column_names else channel
            ids = record_ids(self.pbx.pbx_id, [first, dstchannel, s("start"), s("end"), dst], hashed=False,
                             repeats=self.repeats)
        chain = s("linkedid") if "linkedid" in t.column_names else s("uniqueid")
        cols = {
            "call_id": ids,
            "pbx": constant(self.pbx.pbx_id, n),
            "source_format": constant(SOURCE_FORMAT, n),
            "start_utc": start,
            "answer_utc": answer,
            "end_utc": end,
            "duration_s": pa.array(np.minimum(talk, 2**31 - 1), pa.int64()).cast(pa.int32()),
            "ring_s": pa.array(np.maximum(ring, 0), pa.int64()).cast(pa.int32()),
            "calling_number": null_if_empty(src),
            "called_number": null_if_empty(dst),
            "extension": extension,
            "direction": direction,
            "trunk": trunk_name,
            "account_code": null_if_empty(s("accountcode")),
            "disposition": pa.array(disposition, pa.string()),
            "chain_id": null_if_empty(chain),
            "raw_ref": line_refs(source, lines),
            "leg_id": null_if_empty(s("uniqueid")) if "uniqueid" in t.column_names else pa.nulls(n, pa.string()),
            "leg_feature": app_features(s("lastapp")),
        }
        return pa.table(cols)


    def _ivr_legs(self, dst, lastapp, dstchannel, dst_peer) -> np.ndarray:
        """Legs that stayed on the PBX: the dialplan ran a pseudo-extension (``s``, ``t``, ``i``, ``h`` …) or an
        IVR menu key, or a prompt/voicemail application answered without dialling anyone, or the destination
        is one of the site's voicemail devices.  Such a leg is never outbound (nothing left over a trunk),
        and without trunk configuration its caller cannot be told from outside: it is internal."""
        pseudo = np.isin(np.asarray(dst.to_numpy(zero_copy_only=False), dtype=object), PSEUDO_EXTENSIONS)
        key = to_numpy_bool(pc.match_substring_regex(dst, MENU_KEY))
        app = glob_mask(lastapp, IVR_APPS) & to_numpy_bool(pc.equal(dstchannel, ""))
        return pseudo | key | app | glob_mask(dst_peer, self.voicemail)


#: The dialplan application a leg ended in → the ``leg_role`` it gives the leg in its chain (issue 17); the
#: legs of one conversation share ``linkedid``, so the application is the only feature Asterisk logs.
APP_ROLES: dict[str, str] = {
    "ConfBridge": "conference", "MeetMe": "conference", "Park": "park", "ParkedCall": "pickup",
    "ParkAndAnnounce": "park", "Pickup": "pickup", "PickupChan": "pickup", "ChanSpy": "barge",
    "ExtenSpy": "barge", "BridgeWait": "conference",
}


def app_features(lastapp: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``APP_ROLES`` of each leg's ``lastapp`` (null for any other application), column-wise."""
    keys = pa.array(list(APP_ROLES), pa.string())
    idx = pc.index_in(lastapp, value_set=keys)
    return pa.array(list(APP_ROLES.values()), pa.string()).take(idx)


def glob_mask_arr(col, globs) -> pa.Array:
    return pa.array(glob_mask(col, globs))
