"""Classify parsed calls (SPEC §5 call types): which site, which way, which trunk and carrier, which E.164.

Input: a PARSED_SCHEMA Arrow table (``classify_table``).  Output: a ``Classified`` batch — the
classification columns of ``warehouse.schema.CLASSIFIED_FIELDS`` as Arrow arrays, and what the pricing
stage needs (what to price, from where, with which carrier) as small integer *codes* into short
vocabularies (call types, sites, carriers, categories), so that no string is compared or built per
call: a batch is a handful of Arrow kernels and numpy gathers.  Python loops only run over sites and
over *distinct* values (trunk names, dialled strings, short numbers, DIDs), never over calls.
``classify`` is the same for a pandas frame (``callcost explain`` shows the intermediate columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import phonenumbers

from warehouse.config import Enterprise
from analytics.rating.numbering import (
    DialPlan, dest_country_arrow, in_ranges_arrow, is_emergency_arrow, str_series, to_e164_arrow,
    true_mask,
)
from warehouse.schema import PARSED_SCHEMA, conform

INTERNAL, ONNET, OUTBOUND, INBOUND, TOLLFREE_INBOUND, EMERGENCY, TANDEM = (
    "internal", "onnet", "outbound", "inbound", "tollfree_inbound", "emergency", "tandem",
)


#: Every ``call_type`` of SPEC §3, in this order: the one definition (analytics, reports and dashboards
#: import it).  ``tandem`` (a call through our PBX between two trunks) comes from a connector that writes it
#: as the direction: the call type starts as the direction.
CALL_TYPES = (INTERNAL, ONNET, OUTBOUND, INBOUND, TOLLFREE_INBOUND, EMERGENCY, TANDEM)
CT_INTERNAL, CT_ONNET, CT_OUTBOUND, CT_INBOUND, CT_TOLLFREE_INBOUND, CT_EMERGENCY, CT_TANDEM = range(len(CALL_TYPES))
#: directions as codes: 0 internal, 1 outbound, 2 inbound, 3… a value a connector wrote that is none of these
_DIRECTIONS = (INTERNAL, OUTBOUND, INBOUND)
_D_INTERNAL, _D_OUTBOUND, _D_INBOUND = range(3)
CATEGORIES = ("internal", "emergency", "tollfree")


@dataclass
class Classified:
    """A classified batch: output columns as Arrow arrays, and the small integer codes pricing works on.

    Codes index a vocabulary (``-1`` = null), so pricing compares integers, never strings per call.
    """

    n: int
    site: pa.Array  # originating site id
    site_code: np.ndarray  # into ``site_ids``; ≥ len(ent.sites): a site the config does not know
    site_ids: list[str]
    direction: pa.Array
    call_type: np.ndarray  # int16 into ``call_types`` (CALL_TYPES first, then unknown directions)
    call_types: list[str]
    dest_site_code: np.ndarray  # into ``site_ids``, on-net calls only
    carrier_code: np.ndarray  # into ``carriers``
    carriers: list[str]
    trunk_kind: np.ndarray  # codes into ``trunk_kinds``
    trunk_kinds: list[str]
    trunk_site_code: np.ndarray  # into ``site_ids``
    category: np.ndarray  # into ``categories`` (pricing appends the tariff's categories)
    categories: list[str]
    e164: pa.Array  # connected_number_e164
    did_e164: pa.Array
    dest_country: pa.Array
    extension: pa.Array

    def column(self, name: str) -> pa.Array:
        """An output string column decoded from its codes (``site``, ``call_type`` … as the stored schema names them)."""
        if name == "call_type":
            return decode(self.call_type, self.call_types)
        if name == "dest_site":
            return decode(self.dest_site_code, self.site_ids)
        if name == "trunk_site":
            return decode(self.trunk_site_code, self.site_ids)
        if name == "carrier":
            return decode(self.carrier_code, self.carriers)
        if name == "category":
            return decode(self.category, self.categories)
        return {"site": self.site, "direction": self.direction, "connected_number_e164": self.e164,
                "_did_e164": self.did_e164, "dest_country": self.dest_country, "extension": self.extension,
                "_trunk_kind": decode(self.trunk_kind, self.trunk_kinds)}[name]


def codes_of(arr: pa.Array | pa.ChunkedArray, vocab: list[str], index: dict[str, int] | None = None) -> np.ndarray:
    """Each value's position in *vocab* (values not in it are appended), ``-1`` for null; one lookup per
    distinct value (Arrow dictionary), one gather per call."""
    enc = _single(pc.dictionary_encode(arr))
    index = {v: k for k, v in enumerate(vocab)} if index is None else index
    lut = np.empty(len(enc.dictionary) + 1, dtype=np.int32)
    for k, v in enumerate(enc.dictionary.to_pylist()):
        if v not in index:
            index[v] = len(vocab)
            vocab.append(v)
        lut[k] = index[v]
    lut[-1] = -1
    return lut[pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)]


def decode(codes: np.ndarray, vocab: list[str]) -> pa.Array:
    """Codes (``-1`` = null) back to an Arrow string array, by one ``take``."""
    if not vocab:
        return pa.nulls(len(codes), pa.string())
    return pa.array(vocab, pa.string()).take(pa.array(codes, mask=codes < 0))


def _single(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _site_of(numbers: pa.Array, ent: Enterprise, attr: str) -> np.ndarray:
    """Index (in ``ent.sites`` order) of the site whose extension (attr='extensions') or DID (attr='dids')
    ranges hold each number; -1 for none."""
    code = np.full(len(numbers), -1, dtype=np.int32)
    for k, site in enumerate(ent.sites.values()):
        hit = in_ranges_arrow(numbers, getattr(site, attr)) & (code < 0)
        code[hit] = k
    return code


@dataclass
class Trunks:
    """Kind, carrier and site of the trunk each call used, as codes into their vocabularies."""

    kind: np.ndarray
    kinds: list[str]
    carrier: np.ndarray
    carriers: list[str]
    site: np.ndarray  # into the caller's site vocabulary


def resolve_trunks(pbx: pa.Array, trunk: pa.Array, ent: Enterprise, site_ids: list[str]) -> Trunks:
    """The first matching ``[[trunk]]`` glob of each call's PBX, decided once per distinct (pbx, trunk) pair.

    Trunk sites are coded into *site_ids* (extended when a trunk names a site not in it)."""
    p = _single(pc.dictionary_encode(pbx))
    t = _single(pc.dictionary_encode(trunk))
    pbx_code = pc.fill_null(p.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    trunk_code = pc.fill_null(t.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    pbx_names, trunk_names = p.dictionary.to_pylist(), t.dictionary.to_pylist()
    width = max(len(trunk_names), 1)
    key = np.where((pbx_code >= 0) & (trunk_code >= 0), pbx_code * width + trunk_code, -1)
    pair_of_row, pairs = pd.factorize(key)  # hashing, not sorting
    kinds: list[str] = []
    carriers: list[str] = []
    lut = np.full((len(pairs), 3), -1, dtype=np.int32)
    for j, k in enumerate(pairs.tolist()):
        if k < 0:
            continue
        match = next((tr for tr in ent.trunks_of(pbx_names[k // width]) if tr.matches(trunk_names[k % width])), None)
        if match is None:
            continue
        for col, value, vocab in ((0, match.kind, kinds), (1, match.carrier, carriers), (2, match.site, site_ids)):
            if value is not None:
                if value not in vocab:
                    vocab.append(value)
                lut[j, col] = vocab.index(value)
    rows = lut[pair_of_row.reshape(-1)]
    return Trunks(rows[:, 0], kinds, rows[:, 1], carriers, rows[:, 2])


def classify_table(parsed: pa.Table, ent: Enterprise) -> Classified:
    """Call type, E.164 numbers, sites, carrier and the pricing inputs of a PARSED_SCHEMA table."""
    n = parsed.num_rows
    col = {name: _single(parsed.column(name)) for name in
           ("pbx", "site", "calling_number", "called_number", "direction", "trunk", "extension")}
    pbx = _single(pc.dictionary_encode(col["pbx"]))
    sites_of_pbx = {p.id: p.site for p in ent.pbxs.values()}
    pbx_site = pa.array([sites_of_pbx.get(v) for v in pbx.dictionary.to_pylist()], pa.string()).take(pbx.indices)
    site = _single(pc.coalesce(col["site"], pbx_site))
    site_ids = list(ent.sites)
    site_code = codes_of(site, site_ids)

    calling_site = _site_of(col["calling_number"], ent, "extensions")
    called_site = _site_of(col["called_number"], ent, "extensions")
    trunks = resolve_trunks(col["pbx"], col["trunk"], ent, site_ids)

    guess = np.where((calling_site >= 0) & (called_site >= 0), _D_INTERNAL,
                     np.where(calling_site >= 0, _D_OUTBOUND, _D_INBOUND))
    direction = _single(pc.coalesce(col["direction"], decode(guess, list(_DIRECTIONS))))
    dir_vocab = list(_DIRECTIONS)
    dir_code = codes_of(direction, dir_vocab)  # unknown directions are appended to dir_vocab

    e164_parts: list[tuple[np.ndarray, pa.Array]] = []
    did_parts: list[tuple[np.ndarray, pa.Array]] = []
    emergency = np.zeros(n, dtype=bool)
    for k, site_cfg in enumerate(ent.sites.values()):
        here = site_code == k
        if not here.any():
            continue
        plan = DialPlan.for_site(site_cfg)
        out = np.flatnonzero(here & (dir_code == _D_OUTBOUND))
        inb = np.flatnonzero(here & (dir_code == _D_INBOUND))
        if out.size:
            called = col["called_number"].take(pa.array(out))
            e164_parts.append((out, to_e164_arrow(called, plan, strip_access=True)))
            emergency[out] = is_emergency_arrow(called, plan)
        if inb.size:
            take = pa.array(inb)
            e164_parts.append((inb, to_e164_arrow(col["calling_number"].take(take), plan, strip_access=False)))
            did_parts.append((inb, to_e164_arrow(col["called_number"].take(take), plan, strip_access=False)))
    e164 = _scatter(n, e164_parts)
    did = _scatter(n, did_parts)

    # the call type starts as the direction (a direction written as some call type's name is that type)
    call_types = list(CALL_TYPES)
    ct_of_dir = np.full(len(dir_vocab) + 1, -1, dtype=np.int32)
    for k, d in enumerate(dir_vocab):
        if d not in call_types:
            call_types.append(d)
        ct_of_dir[k] = call_types.index(d)
    ct = ct_of_dir[dir_code].astype(np.int16)
    dest_site = called_site.copy()
    # internal (ext→ext): same site, or another site's extension over the IP WAN.  A called number that is no
    # site's extension — a voicemail or hunt pilot, an IVR menu key, a dialplan pseudo-extension — never
    # left the PBX: internal at the caller's site.
    internal = dir_code == _D_INTERNAL
    ct[internal & (dest_site >= 0) & (dest_site != site_code)] = CT_ONNET
    dest_site[internal & (dest_site < 0)] = site_code[internal & (dest_site < 0)]
    # outbound over an on-net trunk to another site's extension or DID
    onnet_kind = trunks.kinds.index("onnet") if "onnet" in trunks.kinds else -2
    outbound = dir_code == _D_OUTBOUND
    onnet_trunk = outbound & (trunks.kind == onnet_kind)
    fill = onnet_trunk & (dest_site < 0)
    if fill.any():
        did_site = _site_of(_single(pc.fill_null(e164, "")), ent, "dids")
        dest_site[fill] = did_site[fill]
    ct[onnet_trunk] = CT_ONNET
    ct[outbound & emergency & ~onnet_trunk] = CT_EMERGENCY
    # inbound to one of our toll-free numbers: the enterprise pays
    ct[(dir_code == _D_INBOUND) & _is_tollfree_arrow(did)] = CT_TOLLFREE_INBOUND

    on_net = (ct == CT_INTERNAL) | (ct == CT_ONNET)
    category = np.full(n, -1, dtype=np.int32)
    category[on_net] = 0
    category[ct == CT_EMERGENCY] = 1
    category[ct == CT_TOLLFREE_INBOUND] = 2

    # the billed extension, when the format does not say: the caller's (out) or the called one's (in)
    ext = col["extension"]
    from_caller = true_mask(pc.is_null(ext)) & (calling_site >= 0) & (dir_code != _D_INBOUND)
    ext = pc.if_else(from_caller, col["calling_number"], ext)
    from_called = true_mask(pc.is_null(ext)) & (called_site >= 0) & (dir_code == _D_INBOUND)
    ext = pc.if_else(from_called, col["called_number"], ext)
    ext = _single(pc.coalesce(ext, did_extension_arrow(_single(pc.fill_null(did, "")), ent)))

    return Classified(
        n=n, site=site, site_code=site_code, site_ids=site_ids, direction=direction, call_type=ct,
        call_types=call_types, dest_site_code=np.where(on_net, dest_site, -1), carrier_code=trunks.carrier,
        carriers=trunks.carriers, trunk_kind=trunks.kind, trunk_kinds=trunks.kinds, trunk_site_code=trunks.site,
        category=category, categories=list(CATEGORIES), e164=e164, did_e164=did,
        dest_country=dest_country_arrow(e164), extension=ext,
    )


def _scatter(n: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """A string array of *n* rows (null elsewhere) holding each part's values at its row positions."""
    if not parts:
        return pa.nulls(n, pa.string())
    values = pa.concat_arrays([_single(v).cast(pa.string()) for _, v in parts] + [pa.nulls(1, pa.string())])
    idx = np.full(n, len(values) - 1, dtype=np.int64)
    offset = 0
    for rows, v in parts:
        idx[rows] = np.arange(offset, offset + len(rows))
        offset += len(rows)
    return values.take(pa.array(idx))


CLASSIFY_COLUMNS = ("site", "direction", "_trunk_kind", "carrier", "trunk_site", "call_type", "dest_site",
                    "connected_number_e164", "_did_e164", "dest_country", "category", "extension")


def classify(df: pd.DataFrame, ent: Enterprise) -> pd.DataFrame:
    """``classify_table`` for a pandas frame of parsed calls: the frame plus the classification columns."""
    df = df.copy()
    table = pa.Table.from_pandas(df[[c for c in PARSED_SCHEMA.names if c in df.columns]], preserve_index=False)
    c = classify_table(conform(table, PARSED_SCHEMA), ent)
    for name in CLASSIFY_COLUMNS:
        df[name] = str_series(c.column(name), df.index)
    return df


def did_extension_arrow(numbers: pa.Array, ent: Enterprise) -> pa.Array:
    """The extension behind each dialled DID (an Arrow string array, no nulls): its last *k* digits, when
    they form one of the site's extensions.

    CUCM and most PBXs log an inbound call with the public number dialled (the DID), not the extension
    the translation pattern rang; without this, inbound minutes would belong to no extension and no
    department.  The convention (DID ``+1 212 555 1374`` rings extension ``1374``) is the common one;
    a DID whose tail is no extension (toll-free hunt groups) stays unassigned rather than guessed.
    """
    out = pa.nulls(len(numbers), pa.string())
    taken = np.zeros(len(numbers), dtype=bool)
    for site in ent.sites.values():
        ours = in_ranges_arrow(numbers, site.dids) & ~taken
        if not ours.any():
            continue
        for length in sorted({len(r.first) for r in site.extensions}):
            tail = pc.utf8_slice_codeunits(numbers, -length)
            hit = ours & in_ranges_arrow(tail, site.extensions) & ~taken
            out = pc.if_else(hit, tail, out)
            taken |= hit
    return out


def _is_tollfree_arrow(e164: pa.Array) -> np.ndarray:
    """Toll-free by ``phonenumbers`` number type, decided once per distinct number and remembered across batches.

    Inbound DIDs are few and the same every batch, and ``phonenumbers.number_type`` is slow Python
    (``docs/dev/rating-stage-performance.md``).
    """
    uniq = [u for u in pc.unique(e164).to_pylist() if u is not None]
    known = _TOLLFREE
    if len(known) > 1_000_000:  # a bound, not a policy: an enterprise has thousands of DIDs, not millions
        known.clear()
    free = [num for num in uniq if (known[num] if num in known else known.setdefault(num, _tollfree(num)))]
    if not free:
        return np.zeros(len(e164), dtype=bool)
    return true_mask(pc.is_in(e164, value_set=pa.array(free, pa.string())))


#: E.164 number → toll-free?, remembered across batches (phonenumbers is the slow part).
_TOLLFREE: dict[str, bool] = {}


def _tollfree(num: str) -> bool:
    try:
        return phonenumbers.number_type(phonenumbers.parse(num, None)) == phonenumbers.PhoneNumberType.TOLL_FREE
    except phonenumbers.NumberParseException:
        return False
