"""What every ``callcost`` verb shares: the Typer app, the consoles, config lookup, errors, progress bars.

Verbs live in ``callcost.cli`` (the first slice) and in ``callcost.verbs.<area>`` modules, each with a
``register(app)`` function, so areas of the product add commands without editing one another's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from warehouse.config import Enterprise, find_config, load_config
from warehouse.errors import CallcostError, ConfigErrors

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="callcost.toml (default: $CALLCOST_CONFIG, then ./callcost.toml)."),
]


def enterprise(config: Path | None) -> Enterprise:
    """Load the enterprise config the user pointed at, or exit with its located errors."""
    try:
        return load_config(find_config(config))
    except CallcostError as exc:
        fail(exc)


def fail(exc: CallcostError) -> NoReturn:
    """Print a callcost error (every located error of a ConfigErrors) and exit with status 1."""
    errors = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    for e in errors:
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def usage_error(message: str) -> NoReturn:
    """A mistake on the command line: say what is wrong and what would be right, exit 1."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def progress_bar() -> Progress:
    """A progress bar on stderr that disappears when done and stays silent when not on a terminal."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)
