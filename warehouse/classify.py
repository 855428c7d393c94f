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
import phonenumbers

from warehouse.config import Enterprise
from warehouse.numbering import DialPlan, dest_country, in_ranges, is_emergency, to_e164

INTERNAL, ONNET, OUTBOUND, INBOUND, TOLLFREE_INBOUND, EMERGENCY = (
    "internal", "onnet", "outbound", "inbound", "tollfree_inbound", "emergency",
)


def _site_of(numbers: pd.Series, ent: Enterprise, attr: str) -> pd.Series:
    """The site whose extension (attr='extensions') or DID (attr='dids') ranges hold each number."""
    out = pd.Series(pd.NA, index=numbers.index, dtype="str")
    for site in ent.sites.values():
        hit = in_ranges(numbers, getattr(site, attr))
        out = out.mask(hit & out.isna(), site.id)
    return out


def resolve_trunks(df: pd.DataFrame, ent: Enterprise) -> pd.DataFrame:
    """Kind, carrier and site of the trunk each call used (first matching ``[[trunk]]`` glob of its PBX)."""
    pairs = df[["pbx", "trunk"]].dropna().drop_duplicates()
    rows = []
    for pbx, name in pairs.itertuples(index=False):
        match = next((t for t in ent.trunks_of(pbx) if t.matches(name)), None)
        if match is not None:
            rows.append((pbx, name, match.kind, match.carrier, match.site))
    table = pd.DataFrame(rows, columns=["pbx", "trunk", "_trunk_kind", "carrier", "trunk_site"], dtype="str")
    return df[["pbx", "trunk"]].merge(table, on=["pbx", "trunk"], how="left").set_index(df.index)


def classify(df: pd.DataFrame, ent: Enterprise) -> pd.DataFrame:
    """Add call_type, E.164 numbers, sites, carrier and the pricing inputs to parsed calls."""
    df = df.copy()
    pbx_site = df["pbx"].map({p.id: p.site for p in ent.pbxs.values()})
    df["site"] = df["site"].fillna(pbx_site).astype("str")

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

    ext = df["extension"].copy()
    ext = ext.mask(ext.isna() & calling_site.notna() & (direction != INBOUND), df["calling_number"])
    ext = ext.mask(ext.isna() & called_site.notna() & (direction == INBOUND), df["called_number"])
    ext = ext.fillna(did_extension(did_s, ent))
    df["extension"] = ext
    return df


def did_extension(did_e164: pd.Series, ent: Enterprise) -> pd.Series:
    """The extension behind each dialled DID: its last *k* digits, when they form one of the site's extensions.

    CUCM and most PBXs log an inbound call with the public number dialled (the DID), not the extension
    the translation pattern rang; without this, inbound minutes would belong to no extension and no
    department.  The convention (DID ``+1 212 555 1374`` rings extension ``1374``) is the common one;
    a DID whose tail is no extension (toll-free hunt groups) stays unassigned rather than guessed.
    """
    out = pd.Series(pd.NA, index=did_e164.index, dtype="str")
    numbers = did_e164.fillna("")
    for site in ent.sites.values():
        ours = in_ranges(numbers, site.dids) & out.isna()
        if not ours.any():
            continue
        for length in sorted({len(r.first) for r in site.extensions}):
            tail = numbers.str[-length:]
            hit = ours & in_ranges(tail, site.extensions) & out.isna()
            out = out.mask(hit, tail)
    return out


def _objects(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=object, na_value=None)


_STR_MAPPER = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get


def _strings(values: np.ndarray, index: pd.Index) -> pd.Series:
    """An object array (None = missing) as a pandas ``str`` column, converted by Arrow (twice pandas' speed)."""
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    return pd.Series(arr.to_pandas(types_mapper=_STR_MAPPER).array, index=index)


def _is_tollfree(e164: pd.Series) -> pd.Series:
    """Toll-free by ``phonenumbers`` number type, decided once per distinct number (inbound DIDs are few)."""
    uniq = e164.dropna().unique()
    free = set()
    for num in uniq:
        try:
            if phonenumbers.number_type(phonenumbers.parse(num, None)) == phonenumbers.PhoneNumberType.TOLL_FREE:
                free.add(num)
        except phonenumbers.NumberParseException:
            continue
    return e164.isin(free).fillna(False).astype(bool)
