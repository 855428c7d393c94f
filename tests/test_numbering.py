"""Dialled strings → E.164 per site dial plan (access code, international and national prefixes)."""

from __future__ import annotations

import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st

from warehouse.config import NumberRange, Site
from analytics.rating.numbering import DialPlan, dest_country, in_ranges, is_emergency, to_e164

NYC = Site("NYC", "New York", "America/New_York", "US", "US-NY", "+12125550000", access_code="9")
LON = Site("LON", "London", "Europe/London", "GB", "GB-ENG", "+442075550000", access_code="9")
SHA = Site("SHA", "Shanghai", "Asia/Shanghai", "CN", "CN", "+862155550000", access_code="0")


@pytest.mark.parametrize("site,dialled,e164", [
    (NYC, "912125551234", "+12125551234"),      # 9 + 1 + 10 digits
    (NYC, "92125551234", "+12125551234"),       # 9 + 10 digits
    (NYC, "95551234", "+12125551234"),          # 9 + 7-digit local: the site's area code
    (NYC, "9011442079460000", "+442079460000"),  # 9 + 011 international
    (NYC, "+442079460000", "+442079460000"),
    (LON, "902079460000", "+442079460000"),     # 9 + 0 national
    (LON, "979460000", "+442079460000"),        # 9 + local subscriber number in London
    (LON, "9008613912345678", "+8613912345678"),
    (SHA, "013912345678", "+8613912345678"),    # access 0 + mobile without national prefix
    (SHA, "002165529988", "+862165529988"),     # access 0 + 021 national
    (SHA, "065529988", "+862165529988"),        # access 0 + local in Shanghai
    (SHA, "000442079460000", "+442079460000"),  # access 0 + 00 international
])
def test_to_e164(site, dialled, e164):
    assert to_e164(pd.Series([dialled]), DialPlan.for_site(site), strip_access=True).iloc[0] == e164


def test_short_and_empty_numbers_are_not_pstn():
    out = to_e164(pd.Series(["1234", None, "9911", "abc"]), DialPlan.for_site(NYC), strip_access=True)
    assert out.isna().all()


def test_emergency_numbers_per_country():
    assert is_emergency(pd.Series(["9911", "911", "91234"]), DialPlan.for_site(NYC)).tolist() == [True, True, False]
    assert is_emergency(pd.Series(["9999", "9112", "9111"]), DialPlan.for_site(LON)).tolist() == [True, True, False]
    assert is_emergency(pd.Series(["0110", "0120"]), DialPlan.for_site(SHA)).tolist() == [True, True]


def test_dest_country():
    s = pd.Series(["+12125551234", "+442079460000", "+8613912345678", "+14165551234", None])
    assert dest_country(s).tolist()[:4] == ["US", "GB", "CN", "CA"]


def test_in_ranges():
    s = pd.Series(["1000", "1999", "2000", "999", None])
    assert in_ranges(s, [NumberRange("1000", "1999")]).tolist() == [True, True, False, False, False]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2_000_000, max_value=9_999_999), st.sampled_from(["212", "646", "415", "312"]))
def test_nanp_round_trip(subscriber, area):
    """Any valid US number, dialled the three NANP ways, normalises to the same E.164."""
    number = f"+1{area}{subscriber}"
    if not phonenumbers.is_valid_number(phonenumbers.parse(number)):
        return
    plan = DialPlan.for_site(NYC)
    forms = pd.Series([f"91{area}{subscriber}", f"9{area}{subscriber}", number])
    assert to_e164(forms, plan, strip_access=True).tolist() == [number] * 3
