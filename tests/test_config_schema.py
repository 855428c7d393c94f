"""A misspelt table, key or column is an error naming file, line, key and the nearest valid name — once.

Every case edits one line of a copy of the sample enterprise (or one of its side files) the way a
user's typo would, runs ``callcost check-config`` through the real CLI, and reads the message: the
file, the edited line's number, the key as written and "did you mean '<the real key>'?".  Without the
declared schema (warehouse/config_schema.py) each of these configs was "ok" — or, for ``timzone`` and
``type = "cucmm"``, an error without the misspelling or the line.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcost.checks import check
from callcost.cli import app
from callcost.demo import SAMPLE
from warehouse.config_schema import TYPES, Key, Schema, Table, TomlLines, registered_schema, suggest, validate_toml

runner = CliRunner()


def _sample(tmp_path: Path) -> Path:
    ent = tmp_path / "ent"
    shutil.copytree(SAMPLE, ent)
    return ent / "callcost.toml"


def _edit(path: Path, old: str, new: str, *, nth: int = 0) -> int:
    """Replace the *nth* line that is exactly *old* (stripped of its comment) by *new*; return its number."""
    lines = path.read_text().splitlines()
    hits = [i for i, line in enumerate(lines) if line.split("#")[0].strip() == old]
    assert len(hits) > nth, f"{old!r} not in {path.name}"
    lines[hits[nth]] = new
    path.write_text("\n".join(lines) + "\n")
    return hits[nth] + 1


def _check(config: Path) -> tuple[int, list[str]]:
    run = runner.invoke(app, ["check-config", "--config", str(config)])
    return run.exit_code, [" ".join(line.split()) for line in run.output.splitlines() if line.startswith("error:")]


#: case → (file to edit, line as written, the typo, key as reported, the suggestion)
TYPOS = {
    "table storag": ("callcost.toml", "[storage]", "[storag]", "storag", "[storage]"),
    "key lak": ("callcost.toml", 'lake = "lake"', 'lak = "lake"', "storage.lak", "'lake'"),
    "key splitt": ("callcost.toml", "split = false", "splitt = false", "carrier[0].splitt", "'split'"),
    "key acces_code": ("callcost.toml", 'access_code = "9"', 'acces_code = "9"', "site[0].acces_code",
                       "'access_code'"),
    "key holiday": ("callcost.toml", 'holidays = "US-NY"', 'holiday = "US-NY"', "site[0].holiday", "'holidays'"),
    "key currencyy": ("callcost.toml", 'currency = "USD"', 'currencyy = "USD"', "enterprise.currencyy", "'currency'"),
    "key timzone": ("callcost.toml", 'timezone = "Europe/London"', 'timzone = "Europe/London"', "site[1].timzone",
                    "'timezone'"),
    "pbx type cucmm": ("callcost.toml", 'type = "cucm"', 'type = "cucmm"', "pbx[0].type", "'cucm'"),
    "collector key": ("callcost.toml", None, "batchms = 100", "collector.batchms", "'batch_ms'"),
    "alerts watch": ("callcost.toml", "[alerts.premium]", "[alerts.premum]", "alerts.premum", "'premium'"),
    "connector option": ("callcost.toml", None, 'layot = "nec"', "pbx[3].layot", "'layout'"),
    "tariff header": ("tariffs/acme.csv", None, "conect_fee", "conect_fee", "'connect_fee'"),
    "directory header": ("directory.csv", None, "departmnet", "departmnet", "'department'"),
    "chargeback table": ("chargeback.toml", "[[department]]", "[[departmen]]", "departmen", "[department]"),
    "chargeback key": ("chargeback.toml", 'surcharge_per_call = "0.02"', 'surcharge_per_cal = "0.02"',
                       "department[1].surcharge_per_cal", "'surcharge_per_call'"),
}


def _apply(config: Path, case: str) -> tuple[Path, int]:
    name, old, new, _, _ = TYPOS[case]
    path = config.parent / name
    if case == "collector key":
        text = config.read_text() + "\n[collector]\n" + new + "\n"
        config.write_text(text)
        return path, len(text.splitlines())
    if case == "connector option":
        text = config.read_text() + '\n[[pbx]]\nid = "bos-nec"\ntype = "smdr"\nsite = "NYC"\n' + new + "\n"
        config.write_text(text)
        return path, len(text.splitlines())
    if case in ("tariff header", "directory header"):
        lines = path.read_text().splitlines()
        lines[0] = lines[0].replace("connect_fee" if case == "tariff header" else "department", new)
        path.write_text("\n".join(lines) + "\n")
        return path, 1
    return path, _edit(path, old, new)


@pytest.mark.parametrize("case", sorted(TYPOS))
def test_a_typo_is_one_error_with_file_line_key_and_the_nearest_valid_name(case, tmp_path):
    config = _sample(tmp_path)
    assert _check(config)[0] == 0
    path, line = _apply(config, case)
    code, errors = _check(config)
    assert code == 1
    _, _, _, field, near = TYPOS[case]
    mine = [e for e in errors if f"field '{field}'" in e]
    assert len(mine) == 1, (case, errors)  # printed once
    assert mine[0].startswith(f"error: {path}:{line}: field '{field}':"), (case, mine[0])
    assert f"did you mean {near}?" in mine[0], (case, mine[0])
    assert len(errors) == 1, (case, errors)  # and nothing else repeats it ("timezone is missing", per-PBX copies)


def test_several_typos_are_all_reported_each_once(tmp_path):
    config = _sample(tmp_path)
    for case in ("key lak", "key splitt", "key timzone", "pbx type cucmm", "collector key", "alerts watch"):
        _apply(config, case)
    code, errors = _check(config)
    assert code == 1
    assert len(errors) == 6, errors
    assert len(set(errors)) == 6


def test_a_value_of_the_wrong_type_names_its_line(tmp_path):
    config = _sample(tmp_path)
    line = _edit(config, "split = false", 'split = "no"')
    code, errors = _check(config)
    assert code == 1
    assert errors == [f"error: {config}:{line}: field 'carrier[0].split': 'no' is not a boolean "
                      f"(expected a boolean like false)"]


def test_an_option_of_another_pbx_type_says_whose_option_it_is(tmp_path):
    config = _sample(tmp_path)
    line = _edit(config, 'type = "cucm"', 'type = "cucm"\nsat_screen = "x"')
    code, errors = _check(config)
    assert code == 1
    assert len(errors) == 1 and f"callcost.toml:{line + 1}: field 'pbx[0].sat_screen'" in errors[0]
    assert "it is an option of type = avaya, not of this type" in errors[0]


def test_alerts_without_smtp_is_what_schedule_refuses_and_check_config_warns_about(tmp_path):
    config = _sample(tmp_path)
    run = runner.invoke(app, ["check-config", "--config", str(config)])
    assert run.exit_code == 0  # reports and imports do not need mail
    assert "warning:" in run.output and "the alerts table is set but the smtp table is not" in run.output
    assert "callcost schedule run" in " ".join(run.output.split())
    for verb in (["schedule", "run"], ["schedule", "check-alerts"]):
        refused = runner.invoke(app, [*verb, "--config", str(config)])
        assert refused.exit_code == 1, refused.output
        assert "error:" in refused.output and "the smtp table is not" in refused.output


@pytest.mark.parametrize("verb", [["import", "--pbx", "lon-csv", "{cfg}"], ["collect", "--pbx", "nosuch"], ["schedule", "run"]])
def test_collect_import_and_schedule_refuse_a_config_that_fails_check_config(verb, tmp_path):
    config = _sample(tmp_path)
    line = _edit(config, 'lake = "lake"', 'lak = "lake"')
    run = runner.invoke(app, [a.format(cfg=config) for a in verb] + ["--config", str(config)])
    assert run.exit_code == 1, run.output
    out = " ".join(run.output.split())
    assert f"error: {config}:{line}: field 'storage.lak': unknown key 'lak': did you mean 'lake'?" in out
    assert not (config.parent / "lak").exists() and not (config.parent / "lake").exists()  # nothing stored


def test_the_sample_and_every_declared_default_pass_their_own_types():
    schema = registered_schema()
    for (document, name), parts in schema.parts.items():
        for part in parts:
            for key in part.keys:
                if key.default is not None:
                    assert TYPES[key.type](key.default), (document, name, key.name)
    assert check(SAMPLE / "callcost.toml").errors == []


def test_the_schema_is_assembled_from_entry_points_and_connector_options_per_type():
    schema = registered_schema()
    tables = schema.tables("config")
    assert {"enterprise", "site", "pbx", "collector", "remote", "smtp", "alerts", "schedule", "chargeback"} <= set(tables)
    owners = {p.owner for p in tables["pbx"]}
    assert {"collector.connectors.avaya", "collector.connectors.smdr", "collector.settings"} <= owners
    assert "sat_screen" in schema.keys("config", "pbx", {"type": "avaya"})
    assert "sat_screen" not in schema.keys("config", "pbx", {"type": "cucm"})
    assert "conect_fee" not in [c.name for c in schema.columns("tariff")]


def test_validate_toml_and_suggest_directly():
    schema = Schema([Table("a", "t", (Key("timezone", "string", "m"),)), Table("b", "t", (), array=True)])
    text = '[a]\ntimzone = "x"\n\n[[b]]\n[[b]]\nzz = 1\n'
    report = validate_toml(tomllib.loads(text), text, "f.toml", schema)
    assert [(e.line, e.field) for e in report.errors] == [(2, "a.timzone"), (6, "b[1].zz")]
    assert report.misspelt == {"a.timezone"}
    assert suggest("holiday", ["holidays", "timezone"]) == "holidays"
    assert suggest("qqq", ["holidays"]) is None
    assert TomlLines(text).line("b", 1) == 5
