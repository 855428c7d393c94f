"""``callcost dashboard``: a thin shell over :func:`dashboards.app.create_app` and :func:`dashboards.app.serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from callcost.cli_common import ConfigOpt, enterprise, serve_dashboard


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to the CLI."""
    app.command("dashboard")(dashboard)


def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8050,
    config: ConfigOpt = None,
) -> None:
    """Serve the Dash dashboard over the lake (waitress, a production WSGI server).

    Example: callcost dashboard --port 8050
    """
    ent = enterprise(config)
    serve_dashboard(ent.storage.lake, ent.currency, host, port, ent)
