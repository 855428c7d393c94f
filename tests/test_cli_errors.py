"""Wrong input to every verb ends in a message and an exit status, never a traceback (README "Exit status").

The verbs run in-process through the real app against the sample enterprise with a month of traffic.
Errors become messages in one place (``callcost.cli.CallcostGroup``): a callcost error or a refused
file is ``error: …`` and exit 1 (each located config error on its own line), a command line click
cannot parse is exit 2, and anything else is a bug: one line, exit 3, the traceback with ``--debug``.
"""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import callcost
from callcost import cli
from callcost.cli import app
from callcost.demo import run_demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ent(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("errors") / "acme", calls=1_000).ent


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _junk(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


#: (arguments after the verb's name, with {cfg} and {tmp} filled in; what the message must say)
WRONG_INPUT = {
    "collect unknown pbx": (["collect", "--pbx", "nosuch"], "unknown PBX 'nosuch' (expected a [[pbx]] id of"),
    "import unknown pbx": (["import", "--pbx", "nosuch", "{cfg}"], "unknown PBX 'nosuch'"),
    "quarantine bad since": (["quarantine", "--since", "soon"], "--since 'soon' is not a day or a moment"),
    "quarantine retry unknown pbx": (["quarantine", "retry", "--pbx", "nosuch"], "unknown PBX 'nosuch'"),
    "report unknown name": (["report", "nosuch", "--period", "2026-10", "--out", "{tmp}"], "unknown report 'nosuch'"),
    "report bad period": (["report", "monthly-savings", "--period", "2026-13", "--out", "{tmp}"],
                          "period '2026-13' is not a month"),
    "report unknown format": (["report", "monthly-savings", "--period", "2026-10", "--format", "docx", "--out", "{tmp}"],
                              "cannot render docx"),
    "report bad param": (["report", "top-n", "--period", "2026-10", "--param", "by", "--out", "{tmp}"],
                         "--param 'by' is not KEY=VALUE"),
    "report unknown param value": (["report", "top-n", "--period", "2026-10", "--param", "by=nosuch", "--out", "{tmp}"],
                                   "by='nosuch'"),
    "report empty email": (["report", "monthly-savings", "--period", "2026-10", "--email", ",", "--out", "{tmp}"],
                           "--email needs at least one address"),
    "report no smtp": (["report", "monthly-savings", "--period", "2026-10", "--email", "cfo@example.com",
                        "--out", "{tmp}/r"], "has no smtp table"),
    "report out is a file": (["report", "monthly-savings", "--period", "2026-10", "--out", "{cfg}"], "{cfg}"),
    "export bad date": (["export", "--from", "2026-10-01", "--to", "2026-10-32"], "'2026-10-32' is not a date"),
    "export backwards": (["export", "--from", "2026-10-05", "--to", "2026-10-01"], "is after"),
    "export unknown format": (["export", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "docx"],
                              "unknown format 'docx'"),
    "export unknown site": (["export", "--from", "2026-10-01", "--to", "2026-10-31", "--site", "NCY"],
                            "unknown value 'NCY'"),
    "export unknown column": (["export", "--from", "2026-10-01", "--to", "2026-10-31", "--columns", "nosuch"],
                              "unknown column 'nosuch'"),
    "export unwritable out": (["export", "--from", "2026-10-01", "--to", "2026-10-31", "--out", "{cfg}/x.csv"],
                              "{cfg}"),
    "rerate bad date": (["rerate", "--from", "2026-10-01", "--to", "soon"], "--to 'soon' is not a date"),
    "rerate backwards": (["rerate", "--from", "2026-10-31", "--to", "2026-10-01"], "--from 2026-10-31 is after --to"),
    "compact bad date": (["compact", "--from", "yesterday"], "--from 'yesterday' is not a date"),
    "compact backwards": (["compact", "--from", "2026-10-31", "--to", "2026-10-01"], "is after"),
    "explain unknown call": (["explain", "no-such-call"], "no stored call has id 'no-such-call'"),
    "replay not a dump": (["replay", "{cfg}"], "not a raw-dump frame header"),
    "replay bad frame header": (["replay", "{junk_header}"], "bad raw-dump frame header"),
    "replay bad session metadata": (["replay", "{junk_meta}"], "session metadata is not JSON"),
    "backup into a full folder": (["backup", "{root}"], "is not empty"),
    "schedule unknown name": (["schedule", "run-once", "nosuch"], "no schedule 'nosuch'"),
    "schedule alerts without smtp": (["schedule", "check-alerts"], "the alerts table is set but the smtp table is not"),
    "status database down": (["status", "--config", "{down_cfg}"], "the SQL database cannot be used"),
    "schedule list database down": (["schedule", "list", "--config", "{down_cfg}"], "the SQL database cannot be used"),
    "check-config missing file": (["check-config", "--config", "{tmp}/nope.toml"], "config file not found"),
    "no config at all": (["status", "--config", "{tmp}/nope.toml"], "config file not found"),
    "demo bad month": (["demo", "--month", "2026-13", "--no-serve", "--dir", "{tmp}/demo"], "not a month"),
}
NEEDS_OWN_CONFIG = ("--config", "demo")


@pytest.fixture
def fill(ent, tmp_path):
    """Placeholders → paths: the config, a scratch folder, junk dumps, a config whose database is down."""
    text = ent.path.read_text()
    down = ent.path.parent / "down.toml"
    down.write_text(text.replace(f'database = "{_database_line(text)}"',
                                 f'database = "postgresql://nobody@127.0.0.1:{_free_port()}/none"'))
    values = {"cfg": str(ent.path), "tmp": str(tmp_path), "root": str(ent.root), "down_cfg": str(down),
              "junk_header": _junk(tmp_path, "a.raw", b"\x1eD s1 notanumber 3\nabc\n"),
              "junk_meta": _junk(tmp_path, "b.raw", b"\x1eO s1 1 5\n{nope\n")}
    return lambda arg: arg.format(**values)


def _database_line(text: str) -> str:
    line = next(l for l in text.splitlines() if l.strip().startswith("database"))
    return line.split('"')[1]


@pytest.mark.parametrize("case", sorted(WRONG_INPUT))
def test_wrong_input_ends_in_a_message_and_exit_1(case, ent, fill):
    args, says = WRONG_INPUT[case]
    argv = [fill(a) for a in args]
    if not any(a in argv for a in NEEDS_OWN_CONFIG):
        argv += ["--config", str(ent.path)]
    run = invoke(*argv)
    assert isinstance(run.exception, SystemExit), f"{case}: {run.exception!r} escaped"
    assert run.exit_code == 1, (case, run.output)
    assert "error:" in run.output and fill(says) in " ".join(run.output.split()), (case, run.output)
    assert "Traceback" not in run.output and "internal error" not in run.output, (case, run.output)


def test_every_error_of_a_failing_config_is_printed(ent, tmp_path):
    text = ent.path.read_text().replace('timezone = "Europe/London"', 'timezone = "Europe/Londres"')
    text = text.replace('currency = "USD"', 'currency = "XYZ"')
    assert "Londres" in text and "XYZ" in text
    broken = ent.path.parent / "broken.toml"
    broken.write_text(text)
    run = invoke("export", "--from", "2026-10-01", "--to", "2026-10-31", "--config", str(broken))
    assert run.exit_code == 1
    errors = [line for line in run.output.splitlines() if line.startswith("error:")]
    assert len(errors) >= 2, run.output
    assert any("Europe/Londres" in e for e in errors) and any("XYZ" in e for e in errors)
    assert all(str(broken) in e for e in errors)


def test_messages_naming_config_tables_print_them_as_written(ent):
    """Output is not rich markup either: ``[[schedule]]`` and ``[[pbx]]`` reach the terminal as typed."""
    listed = invoke("schedule", "list", "--config", str(ent.path))
    assert listed.exit_code == 0 and "no [[schedule]] tables in the config" in listed.output, listed.output
    import_only = ent.path.parent / "import-only.toml"
    import_only.write_text("\n".join(l for l in ent.path.read_text().splitlines() if not l.startswith("source = ")))
    run = invoke("collect", "--config", str(import_only))
    assert run.exit_code == 1 and "no [[pbx]] has a live source" in run.output, run.output


@pytest.mark.parametrize("args", [["nosuch-verb"], ["export", "--to", "2026-10-31"], ["dashboard", "--port", "99999"],
                                  ["demo", "--calls", "-5", "--no-serve"], ["import", "--pbx", "x", "/no/such/file"]])
def test_a_command_line_click_cannot_use_exits_2(args):
    run = invoke(*args)
    assert run.exit_code == 2 and "Error" in run.output and "Traceback" not in run.output, run.output


def test_debug_lets_the_traceback_through(ent):
    for run in (invoke("--debug", "collect", "--pbx", "nosuch", "--config", str(ent.path)),
                invoke("collect", "--pbx", "nosuch", "--config", str(ent.path), env={"CALLCOST_DEBUG": "1"})):
        assert isinstance(run.exception, callcost.ConfigError), run.output


def _buggy_app() -> typer.Typer:
    """The real root command class and global options around a verb with a bug in it."""
    buggy = typer.Typer(cls=cli.CallcostGroup, rich_markup_mode=None)
    buggy.callback()(cli._options)

    @buggy.command("lookup")
    def lookup() -> None:
        {}["nosuch"]

    @buggy.command("fine")
    def fine() -> None:
        typer.echo("fine")

    return buggy


def test_an_unexpected_error_is_one_line_exit_3_with_the_debug_hint():
    run = CliRunner().invoke(_buggy_app(), ["lookup"])
    assert run.exit_code == cli.EXIT_BUG == 3
    lines = run.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("internal error: KeyError: 'nosuch'"), run.output
    assert "--debug" in lines[0] and "CALLCOST_DEBUG=1" in lines[0]
    debug = CliRunner().invoke(_buggy_app(), ["--debug", "lookup"])
    assert isinstance(debug.exception, KeyError)
    env = CliRunner().invoke(_buggy_app(), ["lookup"], env={"CALLCOST_DEBUG": "1"})
    assert isinstance(env.exception, KeyError)
    assert CliRunner().invoke(_buggy_app(), ["fine"]).output == "fine\n"


def test_the_app_turns_errors_into_messages_in_one_place():
    """No verb catches an error to print it: an ``except`` in a verb module only cleans up and re-raises."""
    assert isinstance(typer.main.get_command(app), cli.CallcostGroup)
    for path in sorted((ROOT / "callcost" / "verbs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler):
                last = node.body[-1]
                assert isinstance(last, ast.Raise) and last.exc is None, \
                    f"{path.name}:{node.lineno}: an except that does not re-raise"


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    run = invoke("--version")
    assert run.exit_code == 0
    assert run.output == f"callcost {version('callcost')}\n"
    assert callcost.__version__ == version("callcost")
