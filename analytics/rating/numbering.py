"""Numbers as dialled → E.164, per site, vectorised.

A PBX reports what the user dialled (``9 011 44 20 7946 0000``, ``9 0 20 7946 0000``, ``0 00 86 …``).
Rating needs E.164.  The rules come from each site's country — international and national prefixes
from ``phonenumbers``' metadata (so we do not maintain a dial-plan table) — and its PBX access code.
The work is done with Arrow-backed string kernels over whole columns; ``phonenumbers`` itself is
called only on *distinct* short numbers (emergency check) and distinct destination prefixes
(country), never once per call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.config import Site


@dataclass(frozen=True, slots=True)
class DialPlan:
    """How a user at one site dials the PSTN."""

    country: str
    country_code: str
    international_prefix: str
    national_prefix: str
    national_length: int | None  # the fixed significant-number length (NANP: 10), if the plan has one
    area_code: str  # the site's own area code, for NANP 7-digit local dialling
    access_code: str

    @classmethod
    @cache
    def for_site(cls, site: Site) -> "DialPlan":
        meta = phonenumbers.PhoneMetadata.metadata_for_region(site.country)
        if meta is None:
            raise ValueError(f"phonenumbers has no numbering plan for country '{site.country}'")
        intl = meta.preferred_international_prefix or meta.international_prefix or "00"
        if not intl.isdigit():  # a regex of alternatives: take its first literal branch
            intl = intl.split("|", 1)[0]
        lengths = meta.general_desc.possible_length
        cc = str(meta.country_code)
        area = _area_code(site.main_number)
        return cls(
            country=site.country,
            country_code=cc,
            international_prefix=intl if intl.isdigit() else "00",
            national_prefix=meta.national_prefix or "",
            national_length=lengths[0] if len(lengths) == 1 else None,
            area_code=area,
            access_code=site.access_code,
        )


def _area_code(main_number: str) -> str:
    """The geographic area code of the site's public number (NANP 212, London 20, Shanghai 21)."""
    try:
        parsed = phonenumbers.parse(main_number, None)
    except phonenumbers.NumberParseException:
        return ""
    nsn = phonenumbers.national_significant_number(parsed)
    return nsn[: phonenumbers.length_of_geographical_area_code(parsed)]


def strip_access_code(dialled: pd.Series, access_code: str) -> pd.Series:
    """Remove the PBX's trunk access code ("9") where the number starts with it."""
    if not access_code:
        return dialled
    has = dialled.str.startswith(access_code).fillna(False)
    return dialled.where(~has, dialled.str.slice(len(access_code)))


def per_distinct(fn: Callable[[pd.Series], pd.Series], values: pd.Series) -> pd.Series:
    """``fn(values)``, computed once per *distinct* value and mapped back to every row.

    A month of calls dials far fewer distinct numbers than it has calls (extensions, DIDs, popular
    destinations), so the string rules run on the distinct strings and a vectorised ``take`` fans
    the answers out.  *fn* must be row-wise (each output depends only on its own input).
    """
    if len(values) < 2_000:
        return fn(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) > len(values) // 2:
        return fn(values)
    answers = fn(pd.Series(uniques, dtype=values.dtype)).reset_index(drop=True)
    na = answers.iloc[:0].reindex([0])  # the answer's own missing value, in its own dtype
    table = pd.concat([answers, na], ignore_index=True)
    return pd.Series(table.take(codes).to_numpy() if table.dtype == object else table.take(codes).array,
                     index=values.index, dtype=answers.dtype)


def to_e164(dialled: pd.Series, plan: DialPlan, *, strip_access: bool) -> pd.Series:
    """E.164 ('+' and digits) for each dialled string; null where the string is not a PSTN number.

    Order of rules (first match wins): already '+…'; international prefix; national prefix followed
    by a full national number; a bare full national number; NANP 7-digit local.  Emergency and other
    short numbers stay null here (see ``is_emergency``).  Computed once per distinct dialled string.
    """
    return per_distinct(lambda d: _to_e164(d, plan, strip_access=strip_access), dialled.astype("str"))


def to_e164_arrow(dialled: pa.Array, plan: DialPlan, *, strip_access: bool) -> pa.Array:
    """``to_e164`` on an Arrow string array: the rules run once per distinct string (dictionary), fanned
    out by one ``take``."""
    enc = _single(pc.dictionary_encode(dialled))
    return e164_rules(enc.dictionary, plan, strip_access=strip_access).take(enc.indices)


_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # what ``dtype="str"`` means in pandas ≥ 3


def arrow_strings(values: pd.Series) -> pa.Array:
    """A pandas string column as one Arrow ``string`` array (zero copy when it is Arrow-backed already)."""
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def str_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    """An Arrow string array as a pandas ``str`` column (Arrow-backed, no per-row objects)."""
    return pd.Series(arr.to_pandas(types_mapper={pa.string(): _STR}.get).array, index=index, dtype=_STR)


def _strip_punctuation(arr: pa.Array) -> pa.Array:
    """Spaces, dashes, dots and brackets removed, by one Arrow kernel (pandas' regex path is per row)."""
    return pc.replace_substring_regex(arr, r"[\s\-\.\(\)]", "")


def _to_e164(dialled: pd.Series, plan: DialPlan, *, strip_access: bool) -> pd.Series:
    return str_series(e164_rules(arrow_strings(dialled), plan, strip_access=strip_access), dialled.index)


def _single(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def e164_rules(dialled: pa.Array, plan: DialPlan, *, strip_access: bool) -> pa.Array:
    """The rules of ``to_e164`` on one Arrow array: the same kernels pandas' Arrow strings call, without a
    rebuilt pandas column per masked assignment."""
    s = _strip_punctuation(dialled)
    if strip_access and plan.access_code:
        ac = plan.access_code
        s = pc.if_else(true_mask(pc.starts_with(s, ac)), pc.utf8_slice_codeunits(s, len(ac)), s)
    n = pc.fill_null(pc.utf8_length(s), -1).to_numpy(zero_copy_only=False)
    digits = true_mask(pc.match_substring_regex(s, r"^\d+$"))

    def starts(prefix: str) -> np.ndarray:
        return true_mask(pc.starts_with(s, prefix))

    def plus(*parts: str | pa.Array) -> pa.Array:
        return pc.binary_join_element_wise("+", *parts, "")

    out = pa.nulls(len(s), pa.string())
    is_plus = starts("+") & true_mask(pc.match_substring_regex(pc.utf8_slice_codeunits(s, 1), r"^\d{4,15}$"))
    out = pc.if_else(is_plus, s, out)
    todo = digits & ~is_plus

    ip = plan.international_prefix
    intl = todo & starts(ip) & (n > len(ip) + 4)
    out = pc.if_else(intl, plus(pc.utf8_slice_codeunits(s, len(ip))), out)
    todo &= ~intl

    cc = plan.country_code
    np_ = plan.national_prefix
    if plan.national_length:
        full = plan.national_length
        if np_:
            nat = todo & starts(np_) & (n == full + len(np_))
            out = pc.if_else(nat, plus(cc, pc.utf8_slice_codeunits(s, len(np_))), out)
            todo &= ~nat
        bare = todo & (n == full)
        out = pc.if_else(bare, plus(cc, s), out)
        todo &= ~bare
        if plan.area_code and full == 10:
            local7 = todo & (n == 7)
            out = pc.if_else(local7, plus(cc + plan.area_code, s), out)
            todo &= ~local7
    else:
        if np_:
            nat = todo & starts(np_) & (n >= len(np_) + 6)
            out = pc.if_else(nat, plus(cc, pc.utf8_slice_codeunits(s, len(np_))), out)
            todo &= ~nat
        # a full national number dialled without the national prefix (CN mobiles: 139…)
        bare = todo & (n >= 9) & ~starts(np_ or "+")
        out = pc.if_else(bare, plus(cc, s), out)
        todo &= ~bare
        if plan.area_code:  # a subscriber number dialled within the site's own area
            local = todo & (n >= 5) & (n <= 8) & ~starts(np_ or "+")
            out = pc.if_else(local, plus(cc + plan.area_code, s), out)
    return out


def true_mask(mask: pa.Array) -> np.ndarray:
    """An Arrow boolean array as numpy, null read as False."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def is_emergency(dialled: pd.Series, plan: DialPlan) -> pd.Series:
    """True where the dialled string, with or without the access code, is an emergency number.

    PBXs route both ``911`` and ``9911`` to the PSTN, so both forms count.
    """
    return pd.Series(is_emergency_arrow(arrow_strings(dialled.astype("str")), plan), index=dialled.index)


def is_emergency_arrow(dialled: pa.Array, plan: DialPlan) -> np.ndarray:
    """``is_emergency`` on an Arrow string array, as a numpy bool array; ``phonenumbers`` is asked once per
    distinct short string and remembered across batches."""
    result = np.zeros(len(dialled), dtype=bool)
    forms = [dialled]
    if plan.access_code:
        ac = plan.access_code
        forms.append(pc.if_else(true_mask(pc.starts_with(dialled, ac)), pc.utf8_slice_codeunits(dialled, len(ac)),
                                dialled))
    for s in forms:
        short = true_mask(pc.less_equal(pc.utf8_length(s), 4))
        if short.any():
            known = _EMERGENCY
            if len(known) > 100_000:  # a bound, not a policy: short numbers are few
                known.clear()
            uniq = [u for u in pc.unique(s.filter(pa.array(short))).to_pylist() if u is not None]
            emerg = [u for u in uniq if (known[(u, plan.country)] if (u, plan.country) in known
                                         else known.setdefault((u, plan.country),
                                                               phonenumbers.is_emergency_number(u, plan.country)))]
            if emerg:
                result |= short & true_mask(pc.is_in(s, value_set=pa.array(emerg, pa.string())))
    return result


#: (short number, country) → emergency?, remembered across batches.
_EMERGENCY: dict[tuple[str, str], bool] = {}


def dest_country(e164: pd.Series) -> pd.Series:
    """ISO 3166 alpha-2 of each E.164 number, decided once per distinct 8-character prefix.

    The prefix (country code plus area code or mobile range) fixes the region in every plan we know
    (NANP area codes, shared country codes like +44/+7); asking ``phonenumbers`` per distinct prefix
    instead of per call keeps this off the hot path.  The prefixes are dictionary-encoded by Arrow and
    answered per dictionary entry (from the first number carrying it), then fanned out by one ``take``.
    """
    return str_series(dest_country_arrow(arrow_strings(e164)), e164.index)


def dest_country_arrow(arr: pa.Array) -> pa.Array:
    """``dest_country`` on an Arrow string array."""
    enc = pc.dictionary_encode(pc.utf8_slice_codeunits(arr, 0, 8))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    keys = enc.dictionary.to_pylist()
    uniq, first = np.unique(codes, return_index=True)
    first = first[uniq >= 0]
    known = _REGIONS
    if len(known) > 1_000_000:  # a bound, not a policy: distinct prefixes number in the tens of thousands
        known.clear()
    numbers = arr.take(pa.array(first)).to_pylist() if len(first) else []
    by_code = [None] * len(keys)
    for code, num in zip(uniq[uniq >= 0].tolist(), numbers):
        k = keys[code]
        by_code[code] = known[k] if k in known else known.setdefault(k, _region(num))
    return pa.array(by_code, pa.string()).take(enc.indices) if len(keys) else pa.nulls(len(arr), pa.string())


#: 8-character E.164 prefix → region, remembered across batches (phonenumbers is the slow part).
_REGIONS: dict[str, str | None] = {}


def _region(number: str) -> str | None:
    # A country code of a single region needs no parse: phonenumbers itself answers with that region
    # without looking further (its parse fails only for a national number shorter than 2 digits).
    digits = number[1:]
    for width in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:width] or 0))
        if regions:
            if len(regions) == 1 and len(digits) - width >= 2 and digits.isdigit() and number[:1] == "+":
                return regions[0]
            break
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(parsed.country_code)


def in_ranges(numbers: pd.Series, ranges) -> pd.Series:
    """True where a number falls in any of the inclusive equal-length ``NumberRange``s."""
    return pd.Series(in_ranges_arrow(arrow_strings(numbers), ranges), index=numbers.index)


def in_ranges_arrow(numbers: pa.Array, ranges) -> np.ndarray:
    """``in_ranges`` on an Arrow string array, as a numpy bool array (null → False)."""
    hit = np.zeros(len(numbers), dtype=bool)
    if len(numbers) and ranges:
        n = pc.utf8_length(numbers)
        for r in ranges:
            m = pc.and_kleene(pc.equal(n, len(r.first)),
                              pc.and_kleene(pc.greater_equal(numbers, r.first), pc.less_equal(numbers, r.last)))
            hit |= true_mask(m)
    return hit
