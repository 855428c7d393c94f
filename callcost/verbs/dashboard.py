"""``callcost dashboard``: a thin shell over :func:`dashboards.auth.serving.dashboard_server`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from callcost.cli_common import ConfigOpt, enterprise, serve_dashboard


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to the CLI."""
    app.command("dashboard")(dashboard)


def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on (not loopback: refused until a user exists).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8050,
    certfile: Annotated[Optional[Path], typer.Option("--certfile", help="TLS certificate (PEM): serve HTTPS.")]
    = None,
    keyfile: Annotated[Optional[Path], typer.Option("--keyfile", help="TLS private key (PEM) of --certfile.")]
    = None,
    session_minutes: Annotated[int, typer.Option("--session-minutes", min=1,
                                                 help="A sign-in lasts this long, then the user signs in again.")]
    = 480,
    config: ConfigOpt = None,
) -> None:
    """Serve the Dash dashboard over the lake, behind sign-in (users: callcost users add).

    Example: callcost dashboard --host 0.0.0.0 --certfile site.pem --keyfile site.key
    """
    ent = enterprise(config)
    serve_dashboard(ent.storage.lake, ent.currency, host, port, ent, certfile=certfile, keyfile=keyfile,
                    session_minutes=session_minutes)
