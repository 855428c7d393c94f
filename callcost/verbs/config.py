"""``callcost check-config``: a thin shell over :func:`callcost.checks.check_enterprise`."""

from __future__ import annotations

import typer

from callcost.cli_common import ConfigOpt, console, err, note
from warehouse.config import find_config


def register(app: typer.Typer) -> None:
    """Add ``check-config`` to the CLI."""
    app.command("check-config")(check_config)


def check_config(config: ConfigOpt = None) -> None:
    """Validate the config, the tariffs and the directory; every error names file, line and field.

    Example: callcost check-config --config examples/sample-enterprise/callcost.toml
    """
    from callcost.checks import check_enterprise

    path = find_config(config)
    problems, warnings = check_enterprise(path)
    for w in warnings:
        note("warning:", w)
    for p in problems:
        note("error:", p)
    if problems:
        err.print(f"{len(problems)} error(s) in {path}", highlight=False, markup=False)
        raise typer.Exit(code=1)
    console.print(f"[green]ok[/green]: {path}", highlight=False)
