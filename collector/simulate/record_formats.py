"""Generated calls written as Avaya CM, Asterisk, FreeSWITCH and SMDR records: what those PBXs would send.

The companion of ``cucm_and_canonical_csv.py`` for the record-oriented connectors (those that share
``collector/connectors/records.py``): the traffic
generator's PARSED_SCHEMA tables go out in each vendor format and come back through the real connector,
so a round trip tests both sides and the demo can feed every connector type.

Each writer is the inverse of its connector *for the facts the format carries*; what a format cannot say
is lost on purpose, exactly as on a real switch: Avaya times have minute resolution and standard-format
durations are in tenths of a minute; SMDR numbers are cut to the column width; trunk names become trunk
access codes (Avaya) or route numbers.  Lines are built column-wise with Arrow string kernels, no
per-call Python loop (the NEC section format, a serial-rate format, is the exception).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.asterisk import cdr_csv_columns
from collector.connectors.avaya_layouts import CUSTOMIZED_PRESETS, STANDARD_LAYOUTS, TERMINATORS, Item
from collector.connectors.freeswitch import TEMPLATES
from collector.connectors.smdr_layouts import HIPATH, IPO
from warehouse.schema import PARSED_SCHEMA, conform

_STR = pa.string()
_NUL_PAD = b"\x00\x00\x00"


# --------------------------------------------------------------------------------------------------------
# shared column helpers
# --------------------------------------------------------------------------------------------------------

def _s(calls: pa.Table, name: str) -> pa.ChunkedArray:
    return pc.fill_null(pc.cast(calls[name], _STR), "")


def _times(calls: pa.Table) -> dict[str, np.ndarray]:
    """Epoch seconds of start / answer (-1 = none) / end, talk seconds and the answered mask."""
    def sec(col: pa.ChunkedArray) -> np.ndarray:
        ints = pc.cast(pc.cast(col, pa.timestamp("s", tz="UTC")), pa.int64())
        return np.asarray(pc.fill_null(ints, -1).to_numpy(zero_copy_only=False), dtype=np.int64)

    start, answer, end = sec(calls["start_utc"]), sec(calls["answer_utc"]), sec(calls["end_utc"])
    dur = np.asarray(pc.fill_null(calls["duration_s"], 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    ring = np.asarray(pc.fill_null(calls["ring_s"], 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    disposition = np.asarray(_s(calls, "disposition").to_numpy(zero_copy_only=False), dtype=object)
    answered = (dur > 0) | (disposition == "answered")
    answer = np.where(answer >= 0, answer, np.where(answered, start + ring, -1))
    end = np.where(end >= 0, end, np.where(answered, answer + dur, start + ring))
    return {"start": start, "answer": answer, "end": end, "dur": np.where(answered, dur, 0), "answered": answered,
            "ring": np.where(answered, answer - start, end - start)}


def _fmt(epoch: np.ndarray, timezone: str, fmt: str, valid: np.ndarray | None = None) -> pa.Array:
    """Epoch seconds → wall-clock text of *timezone* ('' where not *valid*)."""
    ts = pa.array(epoch, pa.int64()).cast(pa.timestamp("s", tz="UTC")).cast(pa.timestamp("s", tz=timezone))
    text = pc.strftime(ts, format=fmt)
    if valid is not None:
        text = pc.if_else(pa.array(valid), text, "")
    return text


def _num(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, pa.int64()), _STR)


def _fit(col: pa.Array | pa.ChunkedArray, width: int, *, right: bool) -> pa.Array | pa.ChunkedArray:
    """Exactly *width* characters: cut, then padded with spaces (right-adjusted when *right*)."""
    cut = pc.utf8_slice_codeunits(col, 0, width)
    return pc.utf8_lpad(cut, width=width) if right else pc.utf8_rpad(cut, width=width)


def _join_lines(cells: Sequence[pa.Array | pa.ChunkedArray | str], sep: str, end: str) -> bytes:
    """One line per row: *cells* joined by *sep*, each line ended by *end*; the bytes of all lines."""
    joined = pc.binary_join_element_wise(*cells, sep) if len(cells) > 1 else cells[0]
    joined = pc.binary_join_element_wise(joined, end, "")
    arr = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
    if not len(arr):
        return b""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    return arr.buffers()[2].to_pybytes()[int(offsets[0]):int(offsets[-1])]


def _quote(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")


def _write(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _order_by_end(calls: pa.Table) -> pa.Table:
    """PBXs write a record when the call ends: records in end order (start order among equal ends)."""
    t = _times(calls)
    order = np.lexsort((t["start"], t["end"]))
    return calls.take(pa.array(order))


# --------------------------------------------------------------------------------------------------------
# Avaya Communication Manager
# --------------------------------------------------------------------------------------------------------

def trunk_access_codes(calls: pa.Table, first: int = 701) -> dict[str, str]:
    """A trunk access code (TAC) per distinct trunk name, in name order: what the CM dial plan would give."""
    names = sorted(n for n in set(pc.drop_null(calls["trunk"]).to_pylist()) if n)
    return {name: str(first + k) for k, name in enumerate(names)}


def write_avaya(
    calls: pa.Table,
    path: Path,
    *,
    timezone: str,
    layout: str = "customized",
    fields: Sequence[Item] | str = "sszokoly",
    date_format: str | None = None,
    trunk_codes: Mapping[str, str] | None = None,
    nul_padding: bytes = _NUL_PAD,
) -> Path:
    """*calls* as a CM CDR stream: fixed-width records, CR LF + NUL padding, in end-time order.

    *layout* ``customized`` uses *fields* (a preset name or ``(item, length)`` pairs); a standard layout
    name writes that format, preceded by a date record whenever the (local) end date changes.
    *date_format* (``mmdd``/``ddmm``) defaults to the preset's, else ``mmdd``.
    """
    calls = _order_by_end(conform(calls, PARSED_SCHEMA))
    if layout == "customized":
        items = CUSTOMIZED_PRESETS[fields][0] if isinstance(fields, str) else tuple(fields)
        date_format = date_format or (CUSTOMIZED_PRESETS[fields][1] if isinstance(fields, str) else "mmdd")
    else:
        items = STANDARD_LAYOUTS[layout].items
        date_format = date_format or "mmdd"
    t = _times(calls)
    codes = dict(trunk_codes or trunk_access_codes(calls))
    trunk = _s(calls, "trunk")
    tac = pc.fill_null(pc.cast(pc.index_in(trunk, value_set=pa.array(list(codes), _STR)), pa.int64()), -1)
    tac_np = np.asarray(tac.to_numpy(zero_copy_only=False), dtype=np.int64)
    tac_values = np.array(list(codes.values()) + [""], dtype=object)[tac_np]
    tac_col = pa.array(tac_values, _STR)
    direction = np.asarray(_s(calls, "direction").to_numpy(zero_copy_only=False), dtype=object)
    inbound = direction == "inbound"
    disposition = np.asarray(_s(calls, "disposition").to_numpy(zero_copy_only=False), dtype=object)
    has_trunk = tac_values != ""
    cond = np.select(
        [disposition == "busy", disposition == "failed", ~t["answered"], inbound, has_trunk],
        ["I", "E", "H", "9", "7"], "0")
    tenths = t["dur"] // 6
    hmmt = tenths // 600 * 1000 + tenths // 10 % 60 * 10 + tenths % 10
    values: dict[str, pa.Array | pa.ChunkedArray] = {
        "date": _fmt(t["end"], timezone, "%m%d%y" if date_format == "mmdd" else "%d%m%y"),
        "time": _fmt(t["end"], timezone, "%H%M"),
        "sec-dur": _num(t["dur"]),
        "duration": pc.utf8_lpad(_num(hmmt), width=4, padding="0"),
        "cond-code": pa.array(cond.astype(object), _STR),
        "code-used": tac_col,
        "in-trk-code": pc.if_else(pa.array(inbound), tac_col, ""),
        "dialed-num": _s(calls, "called_number"),
        "calling-num": _s(calls, "calling_number"),
        "clg-num/in-tac": _s(calls, "calling_number"),
        "acct-code": _s(calls, "account_code"),
    }
    cells = []
    for item, length in items:
        if item in TERMINATORS:
            continue
        value = values.get(item)
        if value is None:
            cells.append(" " * length)
        else:
            cells.append(_fit(value, length, right=item not in ("dialed-num",)))
    eol = "\r\n" + nul_padding.decode("latin-1")
    body = _join_lines(cells, "", eol)
    if "date" not in {i for i, _ in items}:  # standard formats: a date record when the date changes
        body = _with_date_records(body, calls.num_rows, _fmt(t["end"], timezone, "%m%d" if date_format == "mmdd"
                                                             else "%d%m"), eol)
    return _write(path, body)


def _with_date_records(body: bytes, n: int, dates: pa.Array, eol: str) -> bytes:
    if n == 0:
        return body
    text = body.decode("latin-1")
    records = text.split(eol)[:n]
    day = dates.to_pylist()
    out = []
    for k, rec in enumerate(records):
        if k == 0 or day[k] != day[k - 1]:
            out.append(f"{day[k][:2]}{day[k][2:]}{eol}")
        out.append(rec + eol)
    return "".join(out).encode("latin-1")


# --------------------------------------------------------------------------------------------------------
# Asterisk cdr_csv / cdr_custom
# --------------------------------------------------------------------------------------------------------

_AST_DISPOSITION = {"answered": "ANSWERED", "no_answer": "NO ANSWER", "busy": "BUSY", "failed": "FAILED"}
_INTEGER_COLUMNS = {"duration", "billsec", "sequence"}


def write_asterisk(
    calls: pa.Table,
    path: Path,
    *,
    timezone: str,
    usegmtime: bool = False,
    columns: Sequence[str] | None = None,
    quote_integers: bool = False,
    channel_tech: str = "SIP",
) -> Path:
    """*calls* as an Asterisk ``Master.csv`` (default: cdr_csv with all options on, 21 columns).

    Channels are ``<tech>/<peer>-<hex>``: the trunk's name on the trunk side, the extension (or number)
    on the phone side, so ``trunk_channels = ["SIP/<trunk glob>"]`` tells the connector which is which.
    """
    calls = _order_by_end(conform(calls, PARSED_SCHEMA))
    n = calls.num_rows
    columns = tuple(columns or cdr_csv_columns(True, True, True))
    t = _times(calls)
    zone = "UTC" if usegmtime else timezone
    fmt = "%Y-%m-%d %H:%M:%S"
    direction = _s(calls, "direction")
    trunk, ext = _s(calls, "trunk"), _s(calls, "extension")
    calling, called = _s(calls, "calling_number"), _s(calls, "called_number")
    inbound = pc.equal(direction, "inbound")
    seq = np.arange(n, dtype=np.int64)
    hexes = pa.array(np.char.zfill(np.char.mod("%x", seq * 2), 8).astype(object), _STR)
    hexes2 = pa.array(np.char.zfill(np.char.mod("%x", seq * 2 + 1), 8).astype(object), _STR)
    our = pc.if_else(pc.equal(ext, ""), pc.if_else(inbound, called, calling), ext)
    src_peer = pc.if_else(inbound, trunk, our)
    dst_peer = pc.if_else(inbound, our, pc.if_else(pc.equal(trunk, ""), called, trunk))
    channel = pc.binary_join_element_wise(f"{channel_tech}/", src_peer, "-", hexes, "")
    dstchannel = pc.binary_join_element_wise(f"{channel_tech}/", dst_peer, "-", hexes2, "")
    uniqueid = pc.binary_join_element_wise(_num(t["start"]), _num(seq), ".")
    disposition = pa.array([_AST_DISPOSITION.get(d, "FAILED") for d in _s(calls, "disposition").to_pylist()], _STR)
    values = {
        "accountcode": _s(calls, "account_code"), "src": calling, "dst": called, "dcontext": pc.if_else(
            inbound, "from-pstn", "from-internal"),
        "clid": pc.binary_join_element_wise('"', calling, '" <', calling, ">", ""),
        "channel": channel, "dstchannel": dstchannel, "lastapp": "Dial",
        "lastdata": pc.binary_join_element_wise(dstchannel, ",60", ""),
        "start": _fmt(t["start"], zone, fmt), "answer": _fmt(t["answer"], zone, fmt, t["answered"]),
        "end": _fmt(t["end"], zone, fmt), "duration": _num(t["end"] - t["start"]), "billsec": _num(t["dur"]),
        "disposition": disposition, "amaflags": "DOCUMENTATION", "uniqueid": uniqueid, "userfield": "",
        "peeraccount": "", "linkedid": uniqueid, "sequence": _num(seq),
    }
    cells = []
    for name in columns:
        v = values.get(name, "")
        if isinstance(v, str):
            v = pa.array([v] * n, _STR)
        if name == "answer":  # cdr_csv leaves a missing answer time empty *and unquoted*
            cells.append(pc.if_else(pa.array(t["answered"]), _quote(v), ""))
        elif name in _INTEGER_COLUMNS and not quote_integers:
            cells.append(v)
        else:
            cells.append(_quote(v))
    return _write(path, _join_lines(cells, ",", "\n"))


# --------------------------------------------------------------------------------------------------------
# FreeSWITCH mod_cdr_csv
# --------------------------------------------------------------------------------------------------------

_FS_CAUSE = {"answered": "NORMAL_CLEARING", "no_answer": "NO_ANSWER", "busy": "USER_BUSY", "failed":
             "NORMAL_TEMPORARY_FAILURE"}
#: The "example" template plus the gateway, so direction and trunk survive the round trip.
FS_GATEWAY_TEMPLATE = TEMPLATES["example"] + ("sip_gateway_name",)


def write_freeswitch(calls: pa.Table, path: Path, *, timezone: str,
                     columns: Sequence[str] = FS_GATEWAY_TEMPLATE) -> Path:
    """*calls* as a FreeSWITCH ``Master.csv`` (A-legs) through a template of channel variables."""
    calls = _order_by_end(conform(calls, PARSED_SCHEMA))
    n = calls.num_rows
    t = _times(calls)
    fmt = "%Y-%m-%d %H:%M:%S"
    direction = _s(calls, "direction")
    inbound = pc.equal(direction, "inbound")
    cause = [_FS_CAUSE.get(d, "NORMAL_CLEARING") for d in _s(calls, "disposition").to_pylist()]
    numeric = {"16": "NORMAL_CLEARING", "17": "USER_BUSY", "19": "NO_ANSWER", "18": "NO_USER_RESPONSE",
               "21": "CALL_REJECTED", "487": "ORIGINATOR_CANCEL"}
    given = _s(calls, "cause_code").to_pylist()
    cause = [numeric.get(g, c) for g, c in zip(given, cause)]
    uuid = pc.binary_join_element_wise("00000000-0000-4000-8000-", pc.utf8_lpad(_num(np.arange(n)), width=12,
                                                                               padding="0"), "")
    values = {
        "caller_id_name": _s(calls, "calling_number"), "caller_id_number": _s(calls, "calling_number"),
        "destination_number": _s(calls, "called_number"),
        "context": pc.if_else(inbound, "public", "default"),
        "start_stamp": _fmt(t["start"], timezone, fmt), "answer_stamp": _fmt(t["answer"], timezone, fmt, t["answered"]),
        "end_stamp": _fmt(t["end"], timezone, fmt), "duration": _num(t["end"] - t["start"]),
        "billsec": _num(t["dur"]), "hangup_cause": pa.array(cause, _STR), "uuid": uuid, "bleg_uuid": "",
        "accountcode": _s(calls, "account_code"), "read_codec": "PCMU", "write_codec": "PCMU",
        "sip_gateway_name": _s(calls, "trunk"),
        "start_epoch": _num(t["start"]), "answer_epoch": _num(np.where(t["answered"], t["answer"], 0)),
        "end_epoch": _num(t["end"]),
    }
    cells = []
    for name in columns:
        v = values.get(name, "")
        cells.append(_quote(pa.array([v] * n, _STR) if isinstance(v, str) else v))
    return _write(path, _join_lines(cells, ",", "\n"))


# --------------------------------------------------------------------------------------------------------
# SMDR: IP Office (CSV), Siemens HiPath (fixed), Panasonic (pattern A), NEC (flexible sections)
# --------------------------------------------------------------------------------------------------------

def write_smdr(calls: pa.Table, path: Path, *, layout: str, timezone: str,
               trunk_numbers: Mapping[str, str] | None = None) -> Path:
    """*calls* as the SMDR output of the PBX that *layout* names (``ipo``, ``hipath``, ``panasonic``, ``nec``).

    Panasonic CO lines, HiPath trunks and NEC routes are numbers: trunk names become *trunk_numbers*
    (default: 1, 2, … in name order, see :func:`trunk_access_codes`); IP Office keeps names (``T<name>``).
    """
    calls = _order_by_end(conform(calls, PARSED_SCHEMA))
    if layout != "ipo":
        numbers = dict(trunk_numbers or trunk_access_codes(calls, first=1))
        trunk = [numbers.get(name, "") if name else None for name in calls["trunk"].to_pylist()]
        calls = calls.set_column(calls.schema.get_field_index("trunk"), "trunk", pa.array(trunk, _STR))
    writer = {"ipo": _ipo, "hipath": _hipath, "panasonic": _panasonic, "nec": _nec}[layout]
    return _write(path, writer(calls, _times(calls), timezone))


def _ipo(calls: pa.Table, t: dict, tz: str) -> bytes:
    n = calls.num_rows
    direction = np.asarray(_s(calls, "direction").to_numpy(zero_copy_only=False), dtype=object)
    inbound, internal = direction == "inbound", direction == "internal"
    ext, trunk = _s(calls, "extension"), _s(calls, "trunk")
    hms = t["dur"]
    connected = pc.binary_join_element_wise(
        pc.utf8_lpad(_num(hms // 3600), width=2, padding="0"), pc.utf8_lpad(_num(hms // 60 % 60), width=2, padding="0"),
        pc.utf8_lpad(_num(hms % 60), width=2, padding="0"), ":")
    ext_dev = pc.binary_join_element_wise("E", ext, "")
    trunk_dev = pc.if_else(pc.equal(trunk, ""), "", pc.binary_join_element_wise("T", trunk, ""))
    other_dev = pc.if_else(pa.array(internal & (np.asarray(trunk.to_numpy(zero_copy_only=False), object) == "")),
                           pc.binary_join_element_wise("E", _s(calls, "called_number"), ""), trunk_dev)
    party1 = pc.if_else(pa.array(inbound), other_dev, ext_dev)
    party2 = pc.if_else(pa.array(inbound), ext_dev, other_dev)
    values = {
        "call_start": _fmt(t["start"], tz, "%Y/%m/%d %H:%M:%S"), "connected_time": connected,
        "ring_time": _num(np.maximum(t["ring"], 0)), "caller": _s(calls, "calling_number"),
        "direction": pa.array(np.where(inbound, "I", "O").astype(object), _STR),
        "called_number": _s(calls, "called_number"), "dialled_number": _s(calls, "called_number"),
        "account": _s(calls, "account_code"), "is_internal": pa.array(np.where(internal, "1", "0").astype(object), _STR),
        "call_id": _num(1_000_000 + np.arange(n)), "continuation": "0", "party1_device": party1,
        "party1_name": ext, "party2_device": party2, "party2_name": trunk,
    }
    cells = []
    for name in IPO["columns"]:
        v = values.get(name, "")
        cells.append(pa.array([v] * n, _STR) if isinstance(v, str) else v)
    return _join_lines(cells, ",", "\r\n")


def _hipath(calls: pa.Table, t: dict, tz: str) -> bytes:
    direction = np.asarray(_s(calls, "direction").to_numpy(zero_copy_only=False), dtype=object)
    inbound = direction == "inbound"
    far = pc.if_else(pa.array(inbound), _s(calls, "calling_number"), _s(calls, "called_number"))
    dur = t["dur"]
    hms = pc.binary_join_element_wise(
        pc.utf8_lpad(_num(dur // 3600), width=2, padding="0"), pc.utf8_lpad(_num(dur // 60 % 60), width=2, padding="0"),
        pc.utf8_lpad(_num(dur % 60), width=2, padding="0"), ":")
    values = {
        "date": _fmt(t["end"], tz, "%d.%m.%y"), "time": _fmt(t["end"], tz, "%H:%M:%S"), "trunk": _s(calls, "trunk"),
        "node": "1", "ext": _s(calls, "extension"), "seconds": _num(dur), "hms": hms, "number": far,
        "charge": "0", "call_type": pa.array(np.select([inbound, direction == "outbound"], ["1", "2"], "3")
                                             .astype(object), _STR),
        "account": _s(calls, "account_code"),
    }
    cells = []
    for name, first, last in HIPATH["columns"]:
        v = values.get(name, "")
        v = pa.array([v] * calls.num_rows, _STR) if isinstance(v, str) else v
        cells.append(_fit(v, last - first + 1, right=name in ("seconds", "charge", "trunk", "node")))
    return _join_lines(cells, "", "\r\n")


def _panasonic(calls: pa.Table, t: dict, tz: str) -> bytes:
    n = calls.num_rows
    direction = np.asarray(_s(calls, "direction").to_numpy(zero_copy_only=False), dtype=object)
    marker = np.select([direction == "inbound", direction == "internal"], ["<I>", "EXT"], "")
    far = pc.if_else(pa.array(direction == "inbound"), _s(calls, "calling_number"), _s(calls, "called_number"))
    dial = pc.binary_join_element_wise(pa.array(marker.astype(object), _STR), far, "")
    ring = np.clip(t["ring"], 0, 599)
    dur = t["dur"]
    ring_txt = pc.binary_join_element_wise(_num(ring // 60), pc.utf8_lpad(_num(ring % 60), width=2, padding="0"), "'")
    dur_txt = pc.binary_join_element_wise(
        pc.binary_join_element_wise(pc.utf8_lpad(_num(dur // 3600), width=2, padding="0"),
                                    pc.utf8_lpad(_num(dur // 60 % 60), width=2, padding="0"), ":"),
        pc.utf8_lpad(_num(dur % 60), width=2, padding="0"), "'")
    trunk = pc.if_else(pc.equal(_s(calls, "trunk"), ""), "  ", pc.utf8_lpad(_s(calls, "trunk"), width=2, padding="0"))
    cd = np.where(t["answered"], "AN", "NA")
    cells = [
        _fmt(t["end"], tz, "%m/%d/%y"), " ", pc.utf8_lpad(_fmt(t["end"], tz, "%I:%M%p"), width=7),
        "   ", _fit(_s(calls, "extension"), 5, right=True), " ", trunk, " ", _fit(dial, 25, right=False), " ",
        pc.utf8_lpad(ring_txt, width=4), " ", dur_txt, " ", _fit(_s(calls, "account_code"), 10, right=False), " ",
        pa.array(cd.astype(object), _STR),
    ]
    cells = [pa.array([c] * n, _STR) if isinstance(c, str) else c for c in cells]
    return _join_lines(cells, "", "\r\n")


def _nec(calls: pa.Table, t: dict, tz: str) -> bytes:
    """NEC flexible format (KK/KL/KM), STX/ETX framed; sections with their declared lengths."""
    out = []
    direction = _s(calls, "direction").to_pylist()
    # NEC times the talk: from answer (or seizure) to release; an unanswered attempt has no length
    start = _fmt(np.where(t["answered"], t["answer"], t["end"]), tz, "%Y%m%d%H%M%S").to_pylist()
    end = _fmt(t["end"], tz, "%Y%m%d%H%M%S").to_pylist()
    rows = zip(direction, start, end, _s(calls, "extension").to_pylist(), _s(calls, "calling_number").to_pylist(),
               _s(calls, "called_number").to_pylist(), _s(calls, "trunk").to_pylist(),
               _s(calls, "account_code").to_pylist())
    for way, st, en, ext, calling, called, trunk, account in rows:
        route = (trunk or "0").rjust(3, "0")
        # an on-net call over a tie line seizes a trunk: NEC prints it as outgoing (KK)
        kind = "KL" if way == "inbound" else "KM" if way == "internal" and not trunk else "KK"
        parts = []
        if kind != "KM":
            parts.append("0112" + "001" + route + "001" + route)
        if kind in ("KK", "KM"):
            parts.append("0210" + "0" + "001" + ext[:6].ljust(6))
        if kind in ("KL", "KM"):
            target = ext if kind == "KL" else called
            parts.append("0410" + "0" + "001" + target[:6].ljust(6))
        parts.append("0634" + st + "000" + en + "000")
        if account:
            parts.append(f"07{len(account) + 1:02d}" + account)
        parts.append("0803000")
        if kind != "KL" and called:
            parts.append(f"10{len(called) + 1:02d}" + called)
        if kind == "KL" and calling:
            parts.append(f"16{len(calling) + 1:02d}" + "1" + calling)
        out.append("\x020!" + kind + "".join(parts) + "\x03")
    return "".join(out).encode("latin-1")
