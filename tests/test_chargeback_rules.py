"""Chargeback rules files: parsing, inheritance down the hierarchy, and errors that name file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from billing_cases import RULES

from analytics.chargeback_rules import enterprise_for_lake, load_rules, parse_rules, rules_for_enterprise
from warehouse.config import load_config
from warehouse.errors import ConfigErrors

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise"


def parse(text: str, scale: int = 2):
    return parse_rules(text, Path("chargeback.toml"), scale)


def test_inheritance_by_path_and_by_parent():
    rules = parse(RULES + '\n[[department]]\nname = "Night desk"\nparent = "Ops/EMEA"\nmarkup_pct = "0"\n')
    emea = rules.resolve("Ops/EMEA")
    assert (emea.markup_pct, emea.surcharge_per_minute, emea.surcharge_per_call, emea.client) == \
        (100_000, 10_000, 50_000, "Client A")  # 10 %, 0.01/min inherited; 0.05/call its own
    night = rules.resolve("Night desk")  # parent column, two levels down; its own 0 % beats the inherited 10 %
    assert rules.chain("Night desk") == ["Night desk", "Ops/EMEA", "Ops"]
    assert (night.markup_pct, night.surcharge_per_call, night.fixed_per_extension, night.client) == \
        (0, 50_000, 250, "Client A")
    assert rules.resolve("Ops/EMEA/Paris").surcharge_per_call == 50_000  # an unnamed sub-path inherits too
    assert rules.resolve("Elsewhere").markup_pct == 0 and rules.resolve("Elsewhere").client is None
    assert [t.amount for t in rules.trunk_charges] == [100] and rules.extensions[0].amount == 100


def test_every_error_is_reported_with_line_and_field():
    text = ('[defaults]\nmarkup_pct = "ten"\n\n[[department]]\nname = "A"\nsurcharge_per_call = "0.0000001"\n'
            'colour = "red"\n\n[[department]]\nname = "A"\n\n[[trunk_charge]]\nname = "T"\nmatch = "X*"\n'
            'amount = "1.005"\n')
    with pytest.raises(ConfigErrors) as exc:
        parse(text)
    found = {(e.line, e.field) for e in exc.value.errors}
    assert found == {(2, "defaults.markup_pct"), (6, "department[0].surcharge_per_call"),
                     (7, "department[0].colour"), (10, "department[1].name"), (15, "trunk_charge[0].amount")}
    assert all(e.file == "chargeback.toml" and e.expected for e in exc.value.errors)


def test_parent_cycles_and_bad_toml_are_errors():
    with pytest.raises(ConfigErrors, match="own ancestor"):
        parse('[[department]]\nname = "A"\nparent = "B"\n[[department]]\nname = "B"\nparent = "A"\n')
    with pytest.raises(ConfigErrors, match="not valid TOML") as exc:
        parse('[defaults\n')
    assert exc.value.errors[0].line == 1


def test_the_sample_enterprise_names_its_rules_from_the_config(tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "ent")
    ent = load_config(tmp_path / "ent" / "callcost.toml")
    rules = rules_for_enterprise(ent)
    assert rules is not None and rules.source == tmp_path / "ent" / "chargeback.toml"
    assert rules.resolve("Support call centre").client == "Contoso Outsourced Support"
    assert enterprise_for_lake(tmp_path / "ent" / "lake").path == ent.path  # the config beside the lake
    assert enterprise_for_lake(tmp_path / "elsewhere" / "lake") is None


def test_a_missing_rules_file_names_the_config_key(tmp_path):
    shutil.copytree(SAMPLE, tmp_path / "ent")
    (tmp_path / "ent" / "chargeback.toml").unlink()
    with pytest.raises(ConfigErrors) as exc:
        rules_for_enterprise(load_config(tmp_path / "ent" / "callcost.toml"))
    assert exc.value.errors[0].field == "chargeback.rules"
    with pytest.raises(ConfigErrors, match="cannot read"):
        load_rules(tmp_path / "nope.toml", 2)
