"""Asterisk dialplan pseudo-destinations and IVR legs (issue 15, defect 4), from ``tests/data/asterisk``.

``ivr_legs.csv`` is ``cdr_csv`` output with the sample ``cdr.conf`` flags (18 columns, GMT): menu legs to
``s``, ``t``, ``i``, ``h`` and a menu key, an announcement played with an empty caller, a voicemail
login, a real call out over the carrier trunk and a caller from outside answered by the menu.  A call is
outbound only if it left over a trunk; the menu legs are internal and never reach pricing as carrier calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.rating.stage import RatingStage
from collector.connectors.asterisk import AsteriskConnector
from collector.connectors.base import PbxContext
from fieldkit import field_enterprise

FILE = Path(__file__).parent / "data" / "asterisk" / "ivr_legs.csv"
NAMED = {"usegmtime": True, "trunk_channels": ["SIP/carrier"], "inbound_contexts": ["from-pstn"]}
MENU = slice(0, 7)  # s, t, i, h, key 2, the announcement, the voicemail login


def _parse(options: dict, pbx: str = "lon-ast"):
    result = AsteriskConnector(PbxContext(pbx, "LON", "Europe/London", options=options)).parse(
        FILE.read_bytes(), str(FILE))
    assert result.quarantined == [] and result.calls.num_rows == 9
    return result.calls


@pytest.mark.parametrize("options", [NAMED, {"usegmtime": True}], ids=["trunks named", "no trunk options"])
def test_menu_legs_are_internal_whatever_the_trunk_options(options):
    calls = _parse(options)
    assert calls["called_number"].to_pylist()[MENU] == ["s", "t", "i", "h", "2", "2000", "*97"]
    assert calls["direction"].to_pylist()[MENU] == ["internal"] * 7
    assert calls["trunk"].to_pylist()[MENU] == [None] * 7


def test_only_the_call_over_the_trunk_is_outbound_and_the_caller_from_outside_inbound():
    calls = _parse(NAMED).to_pylist()
    out, inbound = calls[7], calls[8]
    assert (out["direction"], out["trunk"], out["called_number"]) == ("outbound", "SIP/carrier", "902079460000")
    assert (inbound["direction"], inbound["trunk"], inbound["called_number"]) == ("inbound", "SIP/carrier", "s")


def test_without_trunk_options_the_real_call_is_left_to_the_numbers():
    calls = _parse({"usegmtime": True}).to_pylist()
    assert calls[7]["direction"] is None  # the classifier decides from the numbers, as before


def test_menu_legs_are_rated_internal_not_unrated_outbound(tmp_path):
    """The defect as a user saw it: menu legs stored as outbound and unrated ("unknown trunk ''")."""
    ent = field_enterprise(tmp_path)
    stage = RatingStage(ent)
    for pbx, options in (("lon-ast", NAMED), ("lon-ast-bare", {"usegmtime": True})):
        rated = stage.rate_batch(_parse(options, pbx)).to_pylist()
        menu = rated[MENU]
        assert [r["call_type"] for r in menu] == ["internal"] * 7, pbx
        assert [(r["rating_status"], r["unrated_reason"]) for r in menu] == [("rated", None)] * 7, pbx
        assert {r["dest_site"] for r in menu} == {"LON"}
        assert all(r["actual_cost"] == 0 and r["carrier"] is None for r in menu)
    named = stage.rate_batch(_parse(NAMED)).to_pylist()
    assert (named[7]["call_type"], named[7]["carrier"], named[7]["rating_status"]) == ("outbound", "brit", "rated")
    assert named[8]["call_type"] == "inbound"
