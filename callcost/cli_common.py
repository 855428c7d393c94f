"""What every ``callcost`` verb shares: consoles, the ``--config`` option, config lookup, progress bars.

Verbs live in ``callcost.verbs.<area>`` modules, each with a ``register(app)`` function, so areas of the
product add commands without editing one another's files.  A verb raises; it never prints an error
itself: ``callcost.cli`` turns every exception into a message in one place.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from warehouse.config import Enterprise, find_config, load_config
from warehouse.errors import CallcostError

#: Exit status of a command that did its work but quarantined records or whole files on the way
#: (``import``, ``quarantine retry``): nothing was lost, but someone should look (``callcost quarantine``).
EXIT_QUARANTINED = 4

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="callcost.toml (default: $CALLCOST_CONFIG, then ./callcost.toml)."),
]
ClusterOpt = Annotated[
    Optional[str],
    typer.Option("--cluster", help="Run on a Dask cluster: local:N (N worker processes here) or tcp://HOST:8786 "
                                   "(default: [cluster] address; none = this process)."),
]


def note(label: str, message: object) -> None:
    """``label message`` on stderr (``error:``, ``warning:``, ``alert``…): the label coloured (errors red, the
    rest yellow), the message printed as written — never read as rich markup."""
    colour = "red" if "error" in label else "yellow"
    err.print(f"[{colour}]{label}[/{colour}] {escape(str(message))}", highlight=False, soft_wrap=True)


class UsageError(CallcostError):
    """A command-line value a verb cannot use (a date, ``KEY=VALUE``): says what is wrong and what is right.

    Exits 1 like every callcost error; click's own usage errors (unknown option, missing argument)
    exit 2 before a verb runs.
    """


def enterprise(config: Path | None, *, checked_for: str | None = None) -> Enterprise:
    """The enterprise config the user pointed at (``--config``, ``$CALLCOST_CONFIG``, ``./callcost.toml``).

    ``checked_for="collect"`` (``import``, ``schedule``): the verb runs unattended or stores data, so it
    refuses to start unless the whole config passes ``callcost check-config`` (every error, once).
    """
    path = find_config(config)
    if checked_for is None:
        return load_config(path)
    from callcost.checks import checked_enterprise  # the full check loads every area: only verbs that need it

    return checked_enterprise(path, checked_for)


def parse_day(value: str, option: str) -> date:
    """A ``YYYY-MM-DD`` option value; a usage error naming *option* when it is not a date."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} '{value}' is not a date (expected YYYY-MM-DD, e.g. 2026-10-01)") from None


def parse_moment(value: str, option: str) -> datetime:
    """A ``YYYY-MM-DD`` (its midnight UTC) or ISO 8601 moment option value (UTC when it has no offset);
    a usage error naming *option* when it is neither."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} '{value}' is not a day or a moment (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if len(value) == 10:
        moment = datetime.combine(moment.date(), time(), timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_order(start: date | None, end: date | None) -> None:
    """A usage error when ``--from`` is after ``--to`` (either may be absent)."""
    if start and end and end < start:
        raise UsageError(f"--from {start} is after --to {end}")


def parse_params(items: list[str] | None) -> dict[str, str]:
    """``["by=cost", "n=10"]`` → ``{"by": "cost", "n": "10"}``; a malformed item is a usage error."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param '{item}' is not KEY=VALUE (e.g. --param by=minutes)")
        out[key.strip()] = value.strip()
    return out


def split_values(given: list[str] | str | None) -> list[str]:
    """``--site NYC --site LON`` and ``--site NYC,LON`` both mean two sites; blanks are dropped."""
    items = [given] if isinstance(given, str) else given or []
    return [v.strip() for item in items for v in item.split(",") if v.strip()]


def serve_dashboard(lake: Path, currency: str, host: str, port: int, ent: Enterprise | None = None, *,
                    certfile: Path | None = None, keyfile: Path | None = None, session_minutes: int = 480) -> None:
    """Serve the Dash app over *lake* in the foreground until Ctrl-C (``dashboard`` and ``demo``).

    Behind sign-in against the users of the config's database (``callcost users``); a non-loopback
    *host* is refused while no user exists.  With *certfile* and *keyfile* it serves HTTPS (cheroot),
    else HTTP (waitress).  With *ent* (the loaded config) the dashboard also shows the what-if,
    billing rules and collector health.
    """
    from datetime import timedelta

    from dashboards.app import serve_until_interrupted
    from dashboards.auth.serving import dashboard_server

    if ent is None:
        raise UsageError("the dashboard needs a config (its database holds the users)")
    server = dashboard_server(lake, currency, host, port, database=ent.storage.database, ent=ent,
                              certfile=certfile, keyfile=keyfile, lifetime=timedelta(minutes=session_minutes))
    scheme = "https" if certfile is not None else "http"
    console.print(f"dashboard on {scheme}://{host}:{server.port}/  (Ctrl-C to stop)")
    serve_until_interrupted(server)


def progress_bar() -> Progress:
    """A progress bar on stderr that disappears when done and stays silent when not on a terminal."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)
