"""FreeSWITCH ``mod_cdr_csv`` files: the columns are the CSV template, given as data.

``mod_cdr_csv`` writes one row per leg through a template of channel variables (reference §3.4).  The
``[[pbx]] template`` option is one of the templates shipped in ``cdr_csv.conf.xml`` (``example``, the
vanilla default; ``default`` is the compiled-in 13-column one; ``snom``, ``linksys``, ``asterisk``,
``opencdrrate``), the template string itself (``'"${caller_id_number}","${destination_number}",…'``), or a
list of variable names.  Cells that are not a plain ``${variable}`` are read and ignored.

Times are the FreeSWITCH host's local time (``*_stamp``; the PBX site's zone) or epoch seconds
(``*_epoch``).  ``hangup_cause`` (Q.850 names) becomes the numeric cause in ``cause_code`` and drives the
disposition.  With ``legs = "ab"`` a B-leg row (its ``uuid`` is an A-leg's ``bleg_uuid`` in the same file)
is recognised and not turned into a second call (nor counted as a record); each A-leg is one call.  Direction: a ``context`` matching
``inbound_contexts`` (default ``public``, FreeSWITCH's context for calls from outside) is inbound; a
non-empty ``sip_gateway_name`` column otherwise means outbound through that gateway (the trunk); with a
gateway column and neither, the call is internal.  ``call_id`` is the leg's ``uuid``: an exact repeat of
a line is the same call (same id, stored once), a uuid repeated with other fields is quarantined.
Call chains: an A-leg and its B-leg are linked by ``bleg_uuid`` (on the A-leg) or by ``originating_leg_uuid``
/ ``originator`` (on the B-leg), and the legs of one ``call_uuid`` are one group, where the template has them.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.base import Connector, ParseResult, PbxContext, Quarantined
from collector.connectors.csvtable import Lines, normalise_text, read_strings
from collector.connectors.records import (
    Checks, CsvRows, constant, epoch_seconds, glob_mask, int_check, line_refs, local_times, null_if_empty,
    occurrence, record_ids, seconds_to_ts, time_check,
)
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

SOURCE_FORMAT = "freeswitch"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_DEFAULT = ("caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp",
            "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid", "accountcode")
#: Templates shipped with FreeSWITCH (conf/autoload_configs/cdr_csv.conf.xml, and the compiled-in default).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "default": _DEFAULT,
    "example": _DEFAULT + ("read_codec", "write_codec"),
    "snom": _DEFAULT + ("read_codec", "write_codec", "sip_user_agent", "call_clientcode", "sip_rtp_rxstat",
                        "sip_rtp_txstat", "sofia_record_file"),
    "linksys": _DEFAULT + ("read_codec", "write_codec", "sip_user_agent", "sip_p_rtp_stat"),
    "asterisk": ("accountcode", "caller_id_number", "destination_number", "context", "caller_id", "channel_name",
                 "bridge_channel", "last_app", "last_arg", "start_stamp", "answer_stamp", "end_stamp", "duration",
                 "billsec", "hangup_cause", "amaflags", "uuid", "userfield"),
    "opencdrrate": ("uuid", "signal_bond", "direction", "ani", "destination_number", "answer_stamp", "end_stamp",
                    "billsec", "accountcode", "userfield", "network_addr", "column12", "sip_gateway_name"),
}
#: Q.850 cause names FreeSWITCH writes → cause number (``switch_channel.c`` cause table, common subset).
Q850: dict[str, int] = {
    "UNALLOCATED_NUMBER": 1, "NO_ROUTE_DESTINATION": 3, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21, "NUMBER_CHANGED": 22,
    "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29, "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34, "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42, "REQUESTED_CHAN_UNAVAIL": 44, "BEARERCAPABILITY_NOTAVAIL": 58,
    "INCOMPATIBLE_DESTINATION": 88, "RECOVERY_ON_TIMER_EXPIRE": 102, "INTERWORKING": 127,
    "ORIGINATOR_CANCEL": 487, "LOSE_RACE": 502, "USER_NOT_REGISTERED": 606, "ALLOTTED_TIMEOUT": 602,
    "MEDIA_TIMEOUT": 604, "PROGRESS_TIMEOUT": 607,
}
BUSY_CAUSES = frozenset({"USER_BUSY"})
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT",
                              "PROGRESS_TIMEOUT", "LOSE_RACE", "SUBSCRIBER_ABSENT"})
_CELL = re.compile(r'"([^"]*)"')
_VAR = re.compile(r"^\$\{([A-Za-z0-9_]+)\}$")


def template_columns(template: str) -> tuple[str, ...]:
    """Variable names of a ``mod_cdr_csv`` template string; a cell that is not ``${var}`` is ``columnN``."""
    if template.lstrip().upper().startswith("INSERT"):
        raise ConfigError("the sql template writes SQL statements, not CSV", field="template",
                          expected="a CSV template such as example")
    cells = _CELL.findall(template)
    if not cells:
        raise ConfigError("no quoted ${variable} cells in the template", field="template",
                          expected='"${caller_id_number}","${destination_number}",…')
    out = []
    for k, cell in enumerate(cells, 1):
        m = _VAR.match(cell.strip())
        out.append(m[1] if m else f"column{k}")
    return tuple(out)


def templates_from_conf(xml_text: str) -> dict[str, tuple[str, ...]]:
    """The CSV templates defined in a ``cdr_csv.conf.xml`` (the ``sql`` one is skipped)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml_text)
    out = {}
    for node in root.iter("template"):
        text = node.text or ""
        if text.lstrip().upper().startswith("INSERT"):
            continue
        out[node.get("name", "")] = template_columns(text)
    return out


class FreeswitchConnector(Connector):
    """FreeSWITCH mod_cdr_csv Master.csv (and per-account) files."""

    type = "freeswitch"
    options = {
        "template": "a shipped mod_cdr_csv template name (default example), a template string, or a column list",
        "legs": "mod_cdr_csv legs: a (default) | b | ab",
        "inbound_contexts": "contexts that mean the call came from outside (default: public)",
    }
    stream_state = True  # repeats are numbered along a stream (Connector.for_stream)
    fields = frozenset({
        "call_id", "pbx", "source_format", "start_utc", "answer_utc", "end_utc", "duration_s", "ring_s",
        "calling_number", "called_number", "extension", "direction", "trunk", "account_code", "disposition",
        "cause_code", "chain_id", "raw_ref", "leg_id", "peer_leg_id",
    })

    def __init__(self, pbx: PbxContext) -> None:
        super().__init__(pbx)
        opts = pbx.options
        template = opts.get("template", "example")
        if isinstance(template, list):
            self.columns = tuple(str(c).strip() for c in template)
        elif isinstance(template, str) and template in TEMPLATES:
            self.columns = TEMPLATES[template]
        elif isinstance(template, str) and "${" in template:
            self.columns = template_columns(template)
        else:
            raise ConfigError(f"unknown template {template!r}", field="template",
                              expected="one of " + ", ".join(sorted(TEMPLATES)) + ", a template string or a list")
        cols = set(self.columns)
        if not cols & {"end_stamp", "end_epoch"}:
            raise ConfigError("the template has no end time", field="template", expected="end_stamp or end_epoch")
        if not cols & {"start_stamp", "start_epoch", "answer_stamp", "answer_epoch"} and "billsec" not in cols:
            raise ConfigError("the template has no start time", field="template",
                              expected="start_stamp, start_epoch or billsec")
        self.legs = str(opts.get("legs", "a")).lower()
        if self.legs not in ("a", "b", "ab"):
            raise ConfigError(f"legs = {self.legs!r}", field="legs", expected="a, b or ab")
        self.inbound_contexts = [str(g) for g in opts.get("inbound_contexts", ["public"])]

    def decode(self, data: bytes, source: str) -> ParseResult:
        data = normalise_text(data)
        lines = Lines(data)
        if not len(lines):
            return ParseResult(PARSED_SCHEMA.empty_table(), [], 0)
        names = [c if c not in self.columns[:k] else f"{c}_{k}" for k, c in enumerate(self.columns)]
        rows = read_strings(data, source, names, 1, lines=lines)
        t = rows.table
        n = t.num_rows

        s = s_of(t)

        checks = Checks(n)
        times = {}
        for kind in ("start", "answer", "end"):
            if f"{kind}_epoch" in t.column_names:
                raw = s(f"{kind}_epoch")
                secs = int_check(checks, f"{kind}_epoch", raw, required=kind == "end", digits=12)
                valid = np.asarray(pc.not_equal(raw, "").to_numpy(zero_copy_only=False), bool) & (secs > 0)
                times[kind] = seconds_to_ts(secs, valid)
            else:
                raw = s(f"{kind}_stamp")
                times[kind] = local_times(raw, TIME_FORMAT, self.pbx.timezone)
                if f"{kind}_stamp" in t.column_names:
                    time_check(checks, f"{kind}_stamp", raw, times[kind], required=kind != "answer",
                               what="a time YYYY-MM-DD HH:MM:SS")
        billsec = int_check(checks, "billsec", s("billsec")) if "billsec" in t.column_names else None
        good, bad = checks.quarantine(CsvRows.of(rows), source)
        quarantined = sorted(rows.quarantined + bad, key=lambda q: q.line or 0)
        t, times, billsec, row_lines = _keep_rows(good, t, times, billsec, rows.lines)
        skip_b = self._b_legs(t) if self.legs == "ab" else np.zeros(t.num_rows, bool)
        if skip_b.any():
            t, times, billsec, row_lines = _keep_rows(~skip_b, t, times, billsec, row_lines)
        # a B-leg is the far half of a call its A-leg already reports: a control record, like a header, so it
        # is not counted as a record (received = parsed + quarantined still holds for ingest accounting)
        seen = rows.records_seen - int(skip_b.sum())
        clash, clashes = _uuid_clashes(t, row_lines, rows.raw, source)
        if clash.any():
            t, times, billsec, row_lines = _keep_rows(~clash, t, times, billsec, row_lines)
            quarantined = sorted(quarantined + clashes, key=lambda q: q.line or 0)
        return ParseResult(self._map(t, s_of(t), times, billsec, row_lines, source), quarantined, seen)

    @staticmethod
    def _b_legs(t: pa.Table) -> np.ndarray:
        if "uuid" not in t.column_names or "bleg_uuid" not in t.column_names:
            return np.zeros(t.num_rows, bool)
        bleg = pc.utf8_trim_whitespace(t["bleg_uuid"])
        others = pc.filter(bleg, pc.not_equal(bleg, ""))
        return np.asarray(pc.is_in(pc.utf8_trim_whitespace(t["uuid"]), value_set=others.combine_chunks()
                                   if isinstance(others, pa.ChunkedArray) else others).to_numpy(zero_copy_only=False), bool)

    def _map(self, t: pa.Table, s, times: dict, billsec, lines: np.ndarray, source: str) -> pa.Table:
        n = t.num_rows
        end_s = epoch_seconds(times["end"])
        answer_s = epoch_seconds(times.get("answer", pa.nulls(n, pa.timestamp("s", tz="UTC"))))
        if "start" in times and times["start"].null_count < n:
            start_s = epoch_seconds(times["start"])
        else:
            start_s = np.full(n, -1, np.int64)
        has_answer = answer_s >= 0
        talk = billsec if billsec is not None else np.where(has_answer, end_s - np.maximum(answer_s, 0), 0)
        start_s = np.where(start_s >= 0, start_s, np.where(has_answer, answer_s, end_s - talk))
        cause = np.asarray(pc.utf8_upper(s("hangup_cause")).to_numpy(zero_copy_only=False), dtype=object)
        answered = (talk > 0) | has_answer
        disposition = np.select(
            [answered, np.isin(cause, list(BUSY_CAUSES)), np.isin(cause, list(NO_ANSWER_CAUSES)), cause == ""],
            ["answered", "busy", "no_answer", "no_answer"], "failed")
        cause_code = np.array([str(Q850[c]) if c in Q850 else (c or None) for c in cause], dtype=object) if n else cause
        ring = np.where(has_answer, answer_s - start_s, end_s - start_s)
        calling = s("caller_id_number") if "caller_id_number" in t.column_names else s("ani")
        called = s("destination_number")
        gateway_known = "sip_gateway_name" in t.column_names
        gateway = s("sip_gateway_name")
        has_gw = np.asarray(pc.not_equal(gateway, "").to_numpy(zero_copy_only=False), bool)
        inbound = glob_mask(s("context"), self.inbound_contexts)
        code = np.select([inbound, has_gw], [2, 1], 0 if gateway_known else -1)
        direction = pa.array(np.array(["internal", "outbound", "inbound"], dtype=object)[np.maximum(code, 0)],
                             pa.string(), mask=code < 0)
        extension = pc.if_else(pa.array(code == 2), called, calling)
        extension = pc.if_else(pa.array(code < 0), pa.scalar(None, pa.string()), null_if_empty(extension))
        if "uuid" in t.column_names:
            # a vendor id, one per channel: an exact repeat of a line is the same call, so it gets the same id
            # (stored once, counted as already stored); only rows without a uuid are numbered
            uuid = s("uuid")
            ids = pc.if_else(pc.equal(uuid, ""), record_ids(self.pbx.pbx_id, [uuid], hashed=False),
                             pc.binary_join_element_wise(f"{self.pbx.pbx_id}:", uuid, ""))
        else:
            ids = record_ids(self.pbx.pbx_id, [calling, called, s("answer_stamp"), s("end_stamp")], hashed=True,
                             repeats=self.repeats)
        cols = {
            "call_id": ids,
            "pbx": constant(self.pbx.pbx_id, n),
            "source_format": constant(SOURCE_FORMAT, n),
            "start_utc": seconds_to_ts(start_s),
            "answer_utc": seconds_to_ts(answer_s, has_answer),
            "end_utc": times["end"],
            "duration_s": pa.array(np.where(answered, talk, 0), pa.int64()).cast(pa.int32()),
            "ring_s": pa.array(np.maximum(ring, 0), pa.int64()).cast(pa.int32()),
            "calling_number": null_if_empty(calling),
            "called_number": null_if_empty(called),
            "extension": extension,
            "direction": direction,
            "trunk": null_if_empty(gateway),
            "account_code": null_if_empty(s("accountcode")),
            "disposition": pa.array(disposition.astype(object), pa.string()),
            "cause_code": pa.array(cause_code, pa.string()),
            # the group of the call's legs: ``call_uuid`` (the A-leg's uuid, on both legs) where the template
            # has it, else the leg's own uuid
            "chain_id": pc.coalesce(null_if_empty(s("call_uuid")), null_if_empty(s("uuid"))),
            "raw_ref": line_refs(source, lines),
            "leg_id": null_if_empty(s("uuid")),
            # the other leg: an A-leg names its B-leg (``bleg_uuid``); a B-leg its A-leg, by the originator
            # variables (``originating_leg_uuid``, ``originator``) where the template has them
            "peer_leg_id": pc.coalesce(*(null_if_empty(s(v)) for v in PEER_VARIABLES)),
        }
        return pa.table(cols)


#: Template variables naming the other leg of a call, in order of preference (FreeSWITCH channel variables).
PEER_VARIABLES = ("bleg_uuid", "originating_leg_uuid", "originator")


def _keep_rows(keep: np.ndarray, t: pa.Table, times: dict, billsec: np.ndarray | None, lines: np.ndarray):
    """The rows where *keep* is true, of the table and of the columns parsed beside it."""
    mask = pa.array(keep)
    return (t.filter(mask), {k: v.filter(mask) for k, v in times.items()},
            billsec[keep] if billsec is not None else None, lines[keep])


def _uuid_clashes(t: pa.Table, lines: np.ndarray, raw, source: str) -> tuple[np.ndarray, list[Quarantined]]:
    """Rows whose ``uuid`` an earlier row of this input already has, with *different* fields.

    ``mod_cdr_csv`` writes one line per channel when it hangs up (``Master.csv``, and the same line again
    in ``<accountcode>.csv``), and a uuid names one channel.  An exact repeat of a line is that call again
    (a file concatenated twice, Master.csv imported with an account file): kept, it gets the same
    ``call_id`` and is stored once.  A different line under a uuid already used is not a second call of
    the same channel: it is quarantined naming the line it clashes with, rather than stored as ``#1``.
    Per-row Python runs on repeated uuids only.
    """
    n = t.num_rows
    none = np.zeros(n, bool), []
    if "uuid" not in t.column_names or n == 0:
        return none
    uuid = s_of(t)("uuid")
    uuid = uuid.combine_chunks() if isinstance(uuid, pa.ChunkedArray) else uuid
    if pc.count_distinct(uuid).as_py() == n:
        return none
    values = np.asarray(uuid.to_numpy(zero_copy_only=False), dtype=object)
    first_of: dict[str, int] = {}
    clash = np.zeros(n, bool)
    bad: list[Quarantined] = []
    for k in np.flatnonzero(occurrence(uuid) > 0):
        u = values[k]
        if not u:
            continue
        j = first_of.setdefault(u, int(np.flatnonzero(values == u)[0]))
        text = raw.text(int(lines[k]))
        if text.strip() != raw.text(int(lines[j])).strip():
            clash[k] = True
            bad.append(Quarantined(source, int(lines[k]), int(raw.starts[lines[k] - 1]), "uuid",
                                   f"uuid {u!r} is already the call of line {int(lines[j])}, with other fields "
                                   f"(mod_cdr_csv writes one line per channel uuid)", text))
    return clash, bad


def s_of(t: pa.Table):
    """A column getter for *t*: trimmed strings, empty for absent columns, and the stray quotes removed that
    the snom/linksys templates leave (``, "1008"`` — a space before the quote — reads as `` "1008"``)."""
    n = t.num_rows

    def s(name: str) -> pa.ChunkedArray | pa.Array:
        if name not in t.column_names:
            return constant("", n)
        col = pc.utf8_trim_whitespace(t[name])
        quoted = pc.and_(pc.starts_with(col, '"'), pc.ends_with(col, '"'))
        return pc.if_else(quoted, pc.utf8_slice_codeunits(col, 1, -1), col)

    return s
