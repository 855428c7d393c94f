"""``callcost report NAME``: a thin shell over :func:`analytics.reporting.run_report` (and, with ``--email``,
:func:`reports.schedule.email_report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callcost.cli_common import ConfigOpt, UsageError, console, enterprise, parse_params, split_values


def register(app: typer.Typer) -> None:
    """Add ``report`` to the CLI."""
    app.command("report")(report)


def report(
    name: Annotated[str, typer.Argument(help="Report type, e.g. monthly-savings.")],
    period: Annotated[str, typer.Option(help="Month, YYYY-MM.")],
    format: Annotated[str, typer.Option("--format", help="Comma-separated: xlsx,html,csv,json,txt.")] = "xlsx,html",
    out: Annotated[Path, typer.Option(help="Folder for the report files.")] = Path("reports"),
    email: Annotated[str | None, typer.Option("--email", help="Mail it to TO[,TO] via the [smtp] config: HTML body, files attached.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Report parameter KEY=VALUE (e.g. top-n: by=minutes).")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the files and the e-mail: en or zh_CN.")] = "en",
    config: ConfigOpt = None,
) -> None:
    """Render a named report for a period, and mail it with --email.

    Example: callcost report monthly-savings --period 2026-10 --format xlsx,html --lang zh_CN --email finance@example.com
    """
    from analytics.reporting import run_report
    from reports.schedule import email_report

    params = parse_params(param)
    recipients = split_values(email)
    if email is not None and not recipients:
        raise UsageError("--email needs at least one address (TO[,TO])")
    ent = enterprise(config)
    paths = run_report(name, ent.storage.lake, period, split_values(format), out, ent.currency, config=ent,
                       params=params, lang=lang)
    for p in paths:
        console.print(str(p), highlight=False)
    if recipients:
        attempts = email_report(ent, name, period, paths, recipients, lang=lang)
        console.print(f"mailed to {', '.join(recipients)} ({attempts} attempt(s))", highlight=False)
