"""Classify parsed calls (SPEC §5 call types): which site, which way, which trunk and carrier, which E.164.

Input: a PARSED_SCHEMA table as a pandas frame.  Output: the same frame plus the classification
columns of ``warehouse.schema.CLASSIFIED_FIELDS`` and the private ``_``-prefixed columns the pricing
stage needs (what to price, from where, with which carrier).  Work is per column; Python loops only
run over sites and over *distinct* trunk names, never over calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import phonenumbers

from warehouse.config import Enterprise
from warehouse.numbering import (
    DialPlan, true_mask, arrow_strings, dest_country, in_ranges_arrow, is_emergency, str_series, to_e164,
)

INTERNAL, ONNET, OUTBOUND, INBOUND, TOLLFREE_INBOUND, EMERGENCY = (
    "internal", "onnet", "outbound", "inbound", "tollfree_inbound", "emergency",
)


def _site_of(numbers: pd.Series, ent: Enterprise, attr: str) -> pd.Series:
    """The site whose extension (attr='extensions') or DID (attr='dids') ranges hold each number."""
    arr = arrow_strings(numbers)
    code = np.full(len(numbers), -1, dtype=np.int32)
    ids = []
    for site in ent.sites.values():
        hit = in_ranges_arrow(arr, getattr(site, attr)) & (code < 0)
        code[hit] = len(ids)
        ids.append(site.id)
    return _from_codes(code, ids, numbers.index)


def _from_codes(code: np.ndarray, values: list[str], index: pd.Index) -> pd.Series:
    """Codes into *values* (-1 = missing) as a pandas ``str`` column, built by one Arrow ``take``."""
    if not values:
        return str_series(pa.nulls(len(code), pa.string()), index)
    return str_series(pa.array(values, pa.string()).take(pa.array(code, mask=code < 0)), index)


def resolve_trunks(df: pd.DataFrame, ent: Enterprise) -> pd.DataFrame:
    """Kind, carrier and site of the trunk each call used (first matching ``[[trunk]]`` glob of its PBX).

    Decided once per distinct (pbx, trunk) pair; the answers are fanned out by Arrow ``take``.
    """
    pbx_code, pbx_names = pd.factorize(df["pbx"])
    trunk_code, trunk_names = pd.factorize(df["trunk"])
    width = max(len(trunk_names), 1)
    key = np.where((pbx_code >= 0) & (trunk_code >= 0), pbx_code.astype(np.int64) * width + trunk_code, -1)
    pairs, pair_of_row = np.unique(key, return_inverse=True)
    kinds, carriers, sites = [], [], []
    for k in pairs.tolist():
        match = None
        if k >= 0:
            pbx, name = pbx_names[k // width], trunk_names[k % width]
            match = next((t for t in ent.trunks_of(pbx) if t.matches(name)), None)
        kinds.append(match.kind if match else None)
        carriers.append(match.carrier if match else None)
        sites.append(match.site if match else None)
    code = pair_of_row.reshape(-1).astype(np.int64)
    return pd.DataFrame({"_trunk_kind": _from_codes(code, kinds, df.index),
                         "carrier": _from_codes(code, carriers, df.index),
                         "trunk_site": _from_codes(code, sites, df.index)}, index=df.index)


def classify(df: pd.DataFrame, ent: Enterprise) -> pd.DataFrame:
    """Add call_type, E.164 numbers, sites, carrier and the pricing inputs to parsed calls."""
    df = df.copy()
    pbx = pc.dictionary_encode(arrow_strings(df["pbx"]))
    sites_of_pbx = {p.id: p.site for p in ent.pbxs.values()}
    pbx_site = pa.array([sites_of_pbx.get(v) for v in pbx.dictionary.to_pylist()], pa.string()).take(pbx.indices)
    df["site"] = str_series(pc.coalesce(arrow_strings(df["site"]), pbx_site), df.index)

    calling_site = _site_of(df["calling_number"], ent, "extensions")
    called_site = _site_of(df["called_number"], ent, "extensions")
    trunks = resolve_trunks(df, ent)
    df["_trunk_kind"] = trunks["_trunk_kind"]
    df["carrier"] = trunks["carrier"]
    df["trunk_site"] = trunks["trunk_site"]

    guess = np.where(
        calling_site.notna() & called_site.notna(), INTERNAL,
        np.where(calling_site.notna(), OUTBOUND, INBOUND),
    )
    direction = df["direction"].fillna(pd.Series(guess, index=df.index)).astype("str")
    df["direction"] = direction

    # working columns are numpy arrays written by position; they become frame columns once, at the end
    n = len(df)
    site_np = df["site"].to_numpy(dtype=object, na_value=None)
    dir_np = direction.to_numpy(dtype=object, na_value=None)
    e164 = np.full(n, None, dtype=object)
    did_e164 = np.full(n, None, dtype=object)
    emergency = np.zeros(n, dtype=bool)
    for site in ent.sites.values():
        here = site_np == site.id
        if not here.any():
            continue
        plan = DialPlan.for_site(site)
        out = np.flatnonzero(here & (dir_np == OUTBOUND))
        inb = np.flatnonzero(here & (dir_np == INBOUND))
        if out.size:
            called = df["called_number"].iloc[out]
            e164[out] = _objects(to_e164(called, plan, strip_access=True))
            emergency[out] = is_emergency(called, plan).to_numpy()
        if inb.size:
            e164[inb] = _objects(to_e164(df["calling_number"].iloc[inb], plan, strip_access=False))
            did_e164[inb] = _objects(to_e164(df["called_number"].iloc[inb], plan, strip_access=False))
    e164_s = _strings(e164, df.index)
    did_s = _strings(did_e164, df.index)

    call_type = dir_np.copy()
    dest_site = called_site.to_numpy(dtype=object, na_value=None)
    # internal (ext→ext): same site or another site over the IP WAN
    internal = dir_np == INTERNAL
    call_type[internal & (dest_site != site_np)] = ONNET  # an unknown called site counts as another site
    # outbound over an on-net trunk to another site's extension or DID
    onnet_trunk = (dir_np == OUTBOUND) & (df["_trunk_kind"] == "onnet").fillna(False).to_numpy(dtype=bool)
    fill = onnet_trunk & pd.isna(dest_site)
    if fill.any():
        did_site = _site_of(e164_s.fillna(""), ent, "dids").to_numpy(dtype=object, na_value=None)
        dest_site[fill] = did_site[fill]
    call_type[onnet_trunk] = ONNET
    call_type[(dir_np == OUTBOUND) & emergency & ~onnet_trunk] = EMERGENCY
    # inbound to one of our toll-free numbers: the enterprise pays
    tollfree = _is_tollfree(did_s).to_numpy(dtype=bool)
    call_type[(dir_np == INBOUND) & tollfree] = TOLLFREE_INBOUND

    on_net = np.isin(call_type, [INTERNAL, ONNET])
    category = np.full(n, None, dtype=object)
    category[on_net] = "internal"
    category[call_type == EMERGENCY] = "emergency"
    category[call_type == TOLLFREE_INBOUND] = "tollfree"
    df["call_type"] = _strings(call_type, df.index)
    df["dest_site"] = _strings(np.where(on_net, dest_site, None), df.index)
    df["connected_number_e164"] = e164_s
    df["_did_e164"] = did_s
    df["dest_country"] = dest_country(e164_s)
    df["category"] = _strings(category, df.index)

    # the billed extension, when the format does not say: the caller's (out) or the called one's (in)
    ext = arrow_strings(df["extension"])
    from_caller = true_mask(pc.is_null(ext)) & calling_site.notna().to_numpy() & (dir_np != INBOUND)
    ext = pc.if_else(from_caller, arrow_strings(df["calling_number"]), ext)
    from_called = true_mask(pc.is_null(ext)) & called_site.notna().to_numpy() & (dir_np == INBOUND)
    ext = pc.if_else(from_called, arrow_strings(df["called_number"]), ext)
    ext = pc.coalesce(ext, arrow_strings(did_extension(did_s, ent)))
    df["extension"] = str_series(ext, df.index)
    return df


def did_extension(did_e164: pd.Series, ent: Enterprise) -> pd.Series:
    """The extension behind each dialled DID: its last *k* digits, when they form one of the site's extensions.

    CUCM and most PBXs log an inbound call with the public number dialled (the DID), not the extension
    the translation pattern rang; without this, inbound minutes would belong to no extension and no
    department.  The convention (DID ``+1 212 555 1374`` rings extension ``1374``) is the common one;
    a DID whose tail is no extension (toll-free hunt groups) stays unassigned rather than guessed.
    """
    numbers = arrow_strings(did_e164.fillna(""))
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
    return str_series(out, did_e164.index)


def _objects(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=object, na_value=None)


_STR_MAPPER = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get


def _strings(values: np.ndarray, index: pd.Index) -> pd.Series:
    """An object array (None = missing) as a pandas ``str`` column, converted by Arrow (twice pandas' speed)."""
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    return pd.Series(arr.to_pandas(types_mapper=_STR_MAPPER).array, index=index)


def _is_tollfree(e164: pd.Series) -> pd.Series:
    """Toll-free by ``phonenumbers`` number type, decided once per distinct number and remembered across batches.

    Inbound DIDs are few and the same every batch; ``phonenumbers.number_type`` costs ~50 µs a number.
    """
    uniq = e164.dropna().unique()
    known = _TOLLFREE
    if len(known) > 1_000_000:  # a bound, not a policy: an enterprise has thousands of DIDs, not millions
        known.clear()
    free = {num for num in uniq if (known[num] if num in known else known.setdefault(num, _tollfree(num)))}
    return e164.isin(free).fillna(False).astype(bool)


#: E.164 number → toll-free?, remembered across batches (phonenumbers is the slow part).
_TOLLFREE: dict[str, bool] = {}


def _tollfree(num: str) -> bool:
    try:
        return phonenumbers.number_type(phonenumbers.parse(num, None)) == phonenumbers.PhoneNumberType.TOLL_FREE
    except phonenumbers.NumberParseException:
        return False
