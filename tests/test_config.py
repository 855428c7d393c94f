"""The enterprise config (SPEC §3): loading, defaults, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.config import NumberRange, find_config, load_config
from warehouse.errors import ConfigError, ConfigErrors

GOOD = """
[enterprise]
name = "Test Corp"
currency = "USD"

[[site]]
id = "NYC"
name = "New York"
timezone = "America/New_York"
country = "US"
holidays = "US-NY"
main_number = "+12125550000"
dids = ["+12125550000-+12125559999"]
extensions = ["1000-1999"]
access_code = "9"
local_prefixes = ["+1212"]

[[pbx]]
id = "nyc-cucm"
type = "cucm"
site = "NYC"
source = "folder:incoming/nyc"

[[trunk]]
pbx = "nyc-cucm"
match = "NYC-PSTN-*"
carrier = "acme"
kind = "pstn"

[[carrier]]
id = "acme"
tariff = "acme.csv"

[reference]
tariff = "ref.csv"
"""

HEADER = "plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,increment,valid_from,valid_to\n"


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "acme.csv").write_text(HEADER)
    (tmp_path / "ref.csv").write_text(HEADER)
    path = tmp_path / "callcost.toml"
    path.write_text(text)
    return path


def test_good_config_loads_with_defaults(tmp_path):
    ent = load_config(write(tmp_path, GOOD))
    assert ent.name == "Test Corp" and ent.scale == 2
    site = ent.sites["NYC"]
    assert site.holiday_country == "US" and site.holiday_subdiv == "NY"
    assert site.extensions == (NumberRange("1000", "1999"),)
    assert ent.storage.lake == tmp_path / "lake"
    assert ent.storage.database == f"sqlite:///{tmp_path}/callcost.db"
    assert ent.trunks[0].site == "NYC"  # defaults to the PBX's site
    assert ent.trunks[0].matches("NYC-PSTN-GW1") and not ent.trunks[0].matches("LON-PSTN-GW1")
    assert ent.carriers["acme"].split is False


def test_every_error_names_file_line_and_field(tmp_path):
    bad = GOOD.replace('timezone = "America/New_York"', 'timezone = "Mars/Olympus"').replace(
        'carrier = "acme"\nkind', 'carrier = "nobody"\nkind')
    path = write(tmp_path, bad)
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    errors = {e.field: e for e in info.value.errors}
    assert set(errors) == {"site[0].timezone", "trunk[0].carrier"}
    tz = errors["site[0].timezone"]
    assert tz.file == str(path)
    assert path.read_text().splitlines()[tz.line - 1].strip().startswith("timezone")
    assert "Mars/Olympus" in str(tz) and "IANA" in str(tz)
    carrier = errors["trunk[0].carrier"]
    assert path.read_text().splitlines()[carrier.line - 1].strip() == 'carrier = "nobody"'


def test_missing_keys_and_bad_ranges(tmp_path):
    bad = GOOD.replace('main_number = "+12125550000"', 'main_number = "2125550000"').replace(
        'extensions = ["1000-1999"]', 'extensions = ["1999-1000"]').replace('type = "cucm"\n', "")
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, bad))
    fields = sorted(e.field for e in info.value.errors)
    assert fields == ["pbx[0].type", "site[0].extensions", "site[0].main_number"]


def test_invalid_toml_names_line(tmp_path):
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, GOOD + "\nthis is = = not toml\n"))
    assert info.value.errors[0].line == len(GOOD.splitlines()) + 2


def test_find_config_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="callcost demo"):
        find_config(None)
    local = write(tmp_path, GOOD)
    assert find_config(None) == local
    other = tmp_path / "other.toml"
    other.write_text(GOOD)
    monkeypatch.setenv("CALLCOST_CONFIG", str(other))
    assert find_config(None) == other
    assert find_config(local) == local
    with pytest.raises(ConfigError, match="not found"):
        find_config(tmp_path / "missing.toml")


@pytest.mark.parametrize("text,ok", [("1000-1999", True), ("+441-+449", True), ("12-1", False), ("a-b", False)])
def test_number_range_parse(text, ok):
    if ok:
        r = NumberRange.parse(text)
        assert r.contains(r.first) and r.contains(r.last)
    else:
        with pytest.raises(ValueError):
            NumberRange.parse(text)
