"""``callcost demo``: a thin shell over :func:`callcost.demo.run_demo` (the sample enterprise end to end)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callcost.cli_common import console, serve_dashboard


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the CLI."""
    app.command("demo")(demo)


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to build the sample enterprise.")] = Path("callcost-demo"),
    calls: Annotated[int, typer.Option(min=1, help="Calls to generate for the month (1k to 10M).")] = 100_000,
    month: Annotated[str, typer.Option(help="Month of traffic, YYYY-MM.")] = "2026-10",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 7,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard at the end.")] = True,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Dashboard port.")] = 8050,
    force: Annotated[bool, typer.Option("--force", help="Rebuild the demo in a folder that is not empty "
                                                        "(replaces its config, tariffs, lake, database, reports).")] = False,
) -> None:
    """Build the sample enterprise, feed it a month of vendor-format CDRs, rate, report, serve the dashboard.

    Refuses a --dir that exists and is not empty unless --force.

    Example: callcost demo --no-serve
    """
    from callcost.demo import print_summary, run_demo

    result = run_demo(directory, calls=calls, month=month, seed=seed, console=console, force=force)
    print_summary(result, console)
    if serve_:
        serve_dashboard(result.ent.storage.lake, result.ent.currency, "127.0.0.1", port)
