"""Docs that cannot drift (after Datasette's ``tests/test_docs.py``): help, README's command table, connector options.

* Every command's ``--help`` shows its docstring and each option's help exactly as written (whitespace
  and wrapping aside) — no markup eats ``[[pbx]]``.
* README's command table names only commands and options that exist, and every command that exists.
* ``docs/connectors.md`` documents, per ``[[pbx]] type``, exactly the options the connector declares,
  and a connector reads no ``[[pbx]]`` key it does not declare.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from callcost.cli import app
from collector.connectors.base import PbxContext, registered_connectors
from collector.settings import DEFAULTS as TRANSPORT_KEYS
from analytics.reporting import registered_reports
from test_connector_conformance import FIXTURES, PBX, known_calls

ROOT = Path(__file__).resolve().parents[1]
ROOT_COMMAND = typer.main.get_command(app)
PBX_KEYS = {"id", "type", "site", "source"}


def command_tree(cmd=ROOT_COMMAND, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """Every command of the CLI by its path, groups and the root included."""
    out = {path: cmd}
    for name, sub in getattr(cmd, "commands", {}).items():
        out |= command_tree(sub, (*path, name))
    return out


TREE = command_tree()
LEAVES = {p for p, c in TREE.items() if not hasattr(c, "commands")}


def _squash(text: str) -> str:
    """Text without whitespace: the help formatter re-wraps lines (also at hyphens), nothing else."""
    return re.sub(r"\s+", "", text)


def _opts(cmd) -> set[str]:
    return {o for p in cmd.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))
            if o.startswith("--")}


# --- help renders as written ------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(TREE), ids=lambda p: " ".join(p) or "callcost")
def test_help_shows_every_text_as_written(path):
    cmd = TREE[path]
    run = CliRunner().invoke(app, [*path, "--help"])
    assert run.exit_code == 0, run.output
    shown = _squash(run.output)
    texts = [cmd.help] + [p.help for p in cmd.params if getattr(p, "help", None)]
    for text in filter(None, texts):
        assert _squash(text) in shown, f"`callcost {' '.join(path)} --help` does not show, as written: {text!r}"


def test_help_keeps_config_table_names():
    """The case that was broken: rich markup turned ``[[pbx]]`` into ``[]``."""
    out = CliRunner().invoke(app, ["import", "--help"]).output
    assert "The [[pbx]] id the files come from." in " ".join(out.split())


# --- README's command table --------------------------------------------------------------------------


def readme_rows() -> list[tuple[list[str], list[str]]]:
    """(code spans of the command cell, code spans of the description cell) per row of README's table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Commands", 1)[1]
    table = section[section.index("\n|"):].split("\n\n", 1)[0]  # the first table of the section
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != 2 or cells[0] in ("command", "---"):
            continue
        rows.append([[s.replace("\\|", "|") for s in re.findall(r"`([^`]+)`", c)] for c in cells])
    return rows


def resolve(span: str) -> tuple[tuple[str, ...], list[str]]:
    """``callcost schedule run-once NAME --force`` → (("schedule", "run-once"), ["NAME", "--force"])."""
    words = span.split()
    assert words[0] == "callcost", f"README command cell names no `callcost …` command: `{span}`"
    path: tuple[str, ...] = ()
    rest = words[1:]
    while rest and (*path, rest[0]) in TREE:
        path, rest = (*path, rest[0]), rest[1:]
    return path, rest


def test_readme_documents_every_command():
    documented = {resolve(span)[0] for cmd_cell, _ in readme_rows() for span in cmd_cell}
    assert LEAVES - documented == set(), "commands missing from README's command table"


def test_readme_names_only_commands_and_options_that_exist():
    rows = readme_rows()
    assert len(rows) >= len(LEAVES) - 3  # the table was found and read
    for cmd_cell, what_cell in rows:
        commands = [resolve(span) for span in cmd_cell]
        for path, rest in commands:
            cmd = TREE[path]
            assert path in LEAVES or (path == () and rest and rest[0].startswith("--")), \
                f"README documents `callcost {' '.join(path)}`, a group, not a command"
            for option in re.findall(r"--[\w-]+", " ".join(rest)):
                assert option in _opts(cmd), f"README: `callcost {' '.join(path)}` has no option {option}"
            if path == ("report",):
                assert rest[0] in registered_reports(), f"README names report '{rest[0]}', which is not installed"
        for span in what_cell:  # options and report names in the description belong to the row's commands
            if span.startswith("--"):
                assert any(span.split()[0] in _opts(TREE[p]) for p, _ in commands), f"README: no command has {span}"
            elif re.fullmatch(r"[a-z]+(-[a-z]+)+", span) and any(p == ("report",) for p, _ in commands):
                assert span in registered_reports(), f"README names report '{span}', which is not installed"


# --- docs/connectors.md against each connector's declared options ---------------------------------------


def documented_connector_options() -> dict[str, set[str]]:
    """``[[pbx]] type`` → the keys its section's TOML examples set in ``[[pbx]]`` tables (commented ones too).

    A connector's section is the ``## …`` whose heading says ``type = "…"``; other sections are about all.
    """
    text = (ROOT / "docs" / "connectors.md").read_text()
    found: dict[str, set[str]] = {}
    for section in re.split(r"\n## ", text)[1:]:
        heading = section.splitlines()[0]
        m = re.search(r'`type = "([\w-]+)"`', heading)
        if not m:  # a section about every connector (billed time …), not one type's options
            continue
        keys: set[str] = set()
        for block in re.findall(r"```toml\n(.*?)```", section, re.S):
            table = None
            for line in block.splitlines():
                header = re.match(r"\s*\[\[(\w+)\]\]", line)
                if header:
                    table = header.group(1)
                    continue
                key = re.match(r"\s*#?\s*([a-z_]+)\s*=", line)
                if key and table == "pbx":
                    keys.add(key.group(1))
        found[m.group(1)] = keys - PBX_KEYS - set(TRANSPORT_KEYS)
    return found


def test_every_connector_has_a_section_in_connectors_md():
    assert set(documented_connector_options()) == set(registered_connectors())


@pytest.mark.parametrize("type_name", sorted(registered_connectors()))
def test_connectors_md_documents_exactly_the_declared_options(type_name):
    declared = set(registered_connectors()[type_name].options)
    documented = documented_connector_options().get(type_name, set())
    assert documented - declared == set(), f"docs/connectors.md documents {type_name} options it does not read"
    assert declared - documented == set(), f"{type_name} options missing from docs/connectors.md"


@pytest.mark.parametrize("type_name", sorted(registered_connectors()))
def test_connector_declares_its_options_with_help(type_name):
    options = registered_connectors()[type_name].options
    assert all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in options.items())
    assert not set(options) & (PBX_KEYS | set(TRANSPORT_KEYS)), "a connector option shadows a [[pbx]] or transport key"


class _ReadKeys(dict):
    """The ``[[pbx]]`` options, remembering every key a connector looks up."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self.read.add(key)
        return super().__contains__(key)


@pytest.mark.parametrize("type_name", sorted(registered_connectors()))
def test_connector_reads_only_declared_options(type_name, tmp_path):
    """Built and run on its conformance fixture, a connector looks up no ``[[pbx]]`` key it does not declare."""
    fixture = FIXTURES[type_name]
    options = _ReadKeys(fixture.options)
    cls = registered_connectors()[type_name]
    connector = cls(PbxContext(PBX.pbx_id, PBX.site, PBX.timezone, options=options))
    for path in fixture.write(known_calls(), tmp_path):
        connector.parse(path.read_bytes(), str(path))
    assert options.read - set(cls.options) == set(), f"{type_name} reads undeclared [[pbx]] keys"
