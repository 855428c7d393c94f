"""Voicemail and auto-attendant ports are internal voicemail, never a carrier call (issue 15, defect 5).

Cisco Unity Connection ports (``CiscoUM1-VI…``) in ``tests/data/cucm`` and IP Office voicemail channels
(``V9511``, ``VM Channel …``) in ``tests/data/ipo`` are recognised by default; a site names its own devices
in ``[[site]] voicemail_devices`` (``warehouse/config.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.rating.stage import RatingStage
from collector.connectors.base import PbxContext
from collector.connectors.cucm import CucmConnector
from collector.importer import pbx_context
from collector.service import pbx_context as live_context
from fieldkit import DATA, field_enterprise
from warehouse.errors import ConfigErrors


def _cucm(**ctx) -> CucmConnector:
    return CucmConnector(PbxContext("nyc-cucm", "NYC", "America/New_York", **ctx))


def test_a_unity_connection_port_is_not_taken_for_a_trunk():
    path = DATA / "cucm" / "headerless_133"
    rows = _cucm().parse(path.read_bytes(), str(path)).calls.to_pylist()
    to_vm = rows[1]
    assert (to_vm["direction"], to_vm["trunk"], to_vm["called_number"]) == ("internal", None, "8000")
    assert (rows[0]["direction"], rows[0]["trunk"]) == ("outbound", "NYC-PSTN-GW")  # the gateway still is one


def test_voicemail_legs_are_rated_internal_at_the_callers_site(tmp_path):
    ent = field_enterprise(tmp_path)
    stage = RatingStage(ent)
    cucm = _cucm().parse((DATA / "cucm" / "headerless_129").read_bytes(), "cucm")
    from collector.connectors.smdr import SmdrConnector

    ipo = SmdrConnector(pbx_context(ent, "lon-ipo")).parse((DATA / "ipo" / "r9_34_fields.csv").read_bytes(), "ipo")
    for calls, site in ((cucm.calls, "NYC"), (ipo.calls, "LON")):
        vm = stage.rate_batch(calls).to_pylist()[2 if site == "LON" else 1]
        assert (vm["call_type"], vm["dest_site"], vm["trunk"], vm["carrier"]) == ("internal", site, None, None)
        assert (vm["rating_status"], vm["actual_cost"], vm["reference_cost"]) == ("rated", 0, 0)


def test_a_sites_own_voicemail_devices_reach_the_connectors(tmp_path):
    """``[[site]] voicemail_devices`` adds the site's names (a SIP trunk to its Unity cluster) to the defaults."""
    ent = field_enterprise(tmp_path, site_extra={"NYC": 'voicemail_devices = ["UNITY-SIP-*"]'})
    assert ent.sites["NYC"].voicemail_devices == ("UNITY-SIP-*",)
    assert ent.sites["LON"].voicemail_devices == ()
    ctx = pbx_context(ent, "nyc-cucm")
    assert ctx.voicemail_devices == ("UNITY-SIP-*",)
    assert live_context(ent, "nyc-cucm") == ctx  # the live collector's connectors get them too
    data = (DATA / "cucm" / "headerless_133").read_bytes().replace(b'"CiscoUM1-VI3"', b'"UNITY-SIP-TRUNK"')
    assert _cucm().parse(data, "x").calls["direction"].to_pylist()[1] == "outbound"  # unknown: taken for a trunk
    row = CucmConnector(ctx).parse(data, "x").calls.to_pylist()[1]
    assert (row["direction"], row["trunk"]) == ("internal", None)


@pytest.mark.parametrize("value", ['"CiscoUM*"', '["CiscoUM*", 7]', '[""]'])
def test_voicemail_devices_must_be_a_list_of_globs(tmp_path, value):
    with pytest.raises(ConfigErrors) as err:
        field_enterprise(tmp_path, site_extra={"LON": f"voicemail_devices = {value}"})
    [problem] = err.value.errors
    assert (problem.field, problem.line) == ("site[1].voicemail_devices",
                                             _line_of(tmp_path / "callcost.toml", "voicemail_devices"))


def _line_of(path: Path, key: str) -> int:
    return next(k for k, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(key))
