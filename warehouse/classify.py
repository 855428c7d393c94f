"""Classify parsed calls (SPEC §5 call types): which site, which way, which trunk and carrier, which E.164.

Input: a PARSED_SCHEMA table as a pandas frame.  Output: the same frame plus the classification
columns of ``warehouse.schema.CLASSIFIED_FIELDS`` and the private ``_``-prefixed columns the pricing
stage needs (what to price, from where, with which carrier).  Work is per column; Python loops only
run over sites and over *distinct* trunk names, never over calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
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

    e164 = pd.Series(pd.NA, index=df.index, dtype="str")
    did_e164 = pd.Series(pd.NA, index=df.index, dtype="str")
    emergency = pd.Series(False, index=df.index)
    for site in ent.sites.values():
        here = (df["site"] == site.id).fillna(False)
        if not here.any():
            continue
        plan = DialPlan.for_site(site)
        out = here & (direction == OUTBOUND)
        inb = here & (direction == INBOUND)
        if out.any():
            e164[out] = to_e164(df.loc[out, "called_number"], plan, strip_access=True)
            emergency[out] = is_emergency(df.loc[out, "called_number"], plan).to_numpy()
        if inb.any():
            e164[inb] = to_e164(df.loc[inb, "calling_number"], plan, strip_access=False)
            did_e164[inb] = to_e164(df.loc[inb, "called_number"], plan, strip_access=False)

    call_type = pd.Series(direction.to_numpy(), index=df.index, dtype="str")
    dest_site = called_site.copy()
    # internal (ext→ext): same site or another site over the IP WAN
    internal = direction == INTERNAL
    call_type[internal & (dest_site != df["site"]).fillna(False)] = ONNET
    # outbound over an on-net trunk to another site's extension or DID
    did_site = _site_of(e164.fillna(""), ent, "dids")
    onnet_trunk = (direction == OUTBOUND) & (df["_trunk_kind"] == "onnet").fillna(False)
    dest_site = dest_site.mask(onnet_trunk & dest_site.isna(), did_site)
    call_type[onnet_trunk] = ONNET
    call_type[(direction == OUTBOUND) & emergency & ~onnet_trunk] = EMERGENCY
    # inbound to one of our toll-free numbers: the enterprise pays
    tollfree = _is_tollfree(did_e164)
    call_type[(direction == INBOUND) & tollfree] = TOLLFREE_INBOUND

    df["call_type"] = call_type
    df["dest_site"] = dest_site.where(call_type.isin([INTERNAL, ONNET]))
    df["connected_number_e164"] = e164
    df["_did_e164"] = did_e164
    df["dest_country"] = dest_country(e164)
    df["category"] = pd.Series(pd.NA, index=df.index, dtype="str")
    df.loc[call_type.isin([INTERNAL, ONNET]), "category"] = "internal"
    df.loc[call_type == EMERGENCY, "category"] = "emergency"
    df.loc[call_type == TOLLFREE_INBOUND, "category"] = "tollfree"

    ext = df["extension"].copy()
    ext = ext.mask(ext.isna() & calling_site.notna() & (direction != INBOUND), df["calling_number"])
    ext = ext.mask(ext.isna() & called_site.notna() & (direction == INBOUND), df["called_number"])
    df["extension"] = ext
    return df


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
