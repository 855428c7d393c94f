"""docs/config-reference.md is generated from the declared config schema and cannot drift from it.

Regenerate with ``python -m callcost.config_reference`` after adding or changing a key.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from callcost.config_reference import REFERENCE, main, render
from warehouse.config_schema import Key, Schema, Table, registered_schema, validate_toml


def test_the_committed_reference_is_what_the_schema_generates():
    assert REFERENCE.read_text(encoding="utf-8") == render(), \
        "docs/config-reference.md is out of date: run python -m callcost.config_reference"
    assert main(["--check"]) == 0


def test_every_declared_table_and_key_is_in_the_reference():
    text = REFERENCE.read_text(encoding="utf-8")
    schema = registered_schema()
    for (document, name), parts in schema.parts.items():
        for part in parts:
            for key in part.keys:
                assert f"| `{key.name}` |" in text, (document, name, key.name)
        if not all(k.type == "column" for p in parts for k in p.keys):
            assert f"`[{name}]`" in text or f"`[[{name}]]`" in text, (document, name)


def test_a_key_added_to_the_schema_makes_the_check_fail():
    schema = registered_schema()
    extra = Schema([t for parts in schema.parts.values() for t in parts]
                   + [Table("storage", "", (Key("lake_backup", "string", "A key nobody documented."),))])
    assert "lake_backup" in render(extra)
    assert render(extra) != REFERENCE.read_text(encoding="utf-8")


def test_every_toml_example_in_the_docs_uses_only_declared_tables_and_keys():
    """A doc that shows a key the schema does not declare teaches users a key check-config rejects."""
    root = Path(__file__).resolve().parents[1]
    schema = registered_schema()
    found = 0
    for doc in sorted((root / "docs").glob("*.md")) + [root / "README.md"]:
        for block in re.findall(r"^```toml\n(.*?)^```", doc.read_text(encoding="utf-8"), re.S | re.M):
            raw = tomllib.loads(block)
            document = "chargeback" if set(raw) & {"defaults", "department", "trunk_charge"} else "config"
            assert [str(e) for e in validate_toml(raw, block, doc.name, schema, document).errors] == []
            found += 1
    assert found >= 20  # connectors.md, reports.md, billing.md, remote-unit.md, connect-your-enterprise.md
