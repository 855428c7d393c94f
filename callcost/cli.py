"""The ``callcost`` command: a thin shell over library functions an analyst can call from a notebook.

Every verb finds the config from ``--config``, then ``$CALLCOST_CONFIG``, then ``./callcost.toml``.
Verbs of later areas live in ``callcost.verbs.*`` and are registered at the bottom of this module.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from callcost import verbs
from callcost.cli_common import ConfigOpt, console, err, fail, progress_bar
from callcost.cli_common import enterprise as _enterprise
from warehouse.config import find_config
from warehouse.errors import CallcostError

app = typer.Typer(
    name="callcost",
    help="What an enterprise's calls cost, and what its IP telephony saves.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command("check-config")
def check_config(config: ConfigOpt = None) -> None:
    """Validate the config, the tariffs and the directory; every error names file, line and field.

    Example: callcost check-config --config examples/sample-enterprise/callcost.toml
    """
    from callcost.checks import check_enterprise

    try:
        path = find_config(config)
        problems, warnings = check_enterprise(path)
    except CallcostError as exc:
        fail(exc)
    for w in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(str(w))}", highlight=False, soft_wrap=True)
    if problems:
        for p in problems:
            err.print(f"[red]error:[/red] {escape(str(p))}", highlight=False, soft_wrap=True)
        err.print(f"{len(problems)} error(s) in {path}")
        raise typer.Exit(code=1)
    console.print(f"[green]ok[/green]: {path}", highlight=False)


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="CDR files to import.", exists=True, dir_okay=False)],
    pbx: Annotated[str, typer.Option("--pbx", help="The [[pbx]] id the files come from.")],
    config: ConfigOpt = None,
) -> None:
    """Import CDR files through the same parse → rate → store path as live collection (idempotent).

    Example: callcost import --pbx nyc-cucm incoming/nyc-cucm/cdr_*
    """
    from collector.importer import import_files
    from warehouse.store import Store

    ent = _enterprise(config)
    if pbx not in ent.pbxs:
        err.print(f"[red]error:[/red] unknown PBX '{pbx}' (configured: {', '.join(ent.pbxs)})")
        raise typer.Exit(code=1)
    try:
        with progress_bar() as progress:
            task = progress.add_task(f"importing {pbx}", total=len(files))
            report = import_files(ent, pbx, files, store=Store(ent), progress=lambda n: progress.advance(task, n))
    except CallcostError as exc:
        fail(exc)
    for q in report.problems[:50]:
        err.print(f"[yellow]quarantined:[/yellow] {escape(str(q))}", highlight=False, soft_wrap=True)
    # every record is stored, already stored (an identical record imported before) or quarantined with a reason
    console.print(
        f"{report.files} file(s), {report.records} records: {report.stored} stored, "
        f"{report.duplicates} already stored, {report.quarantined} quarantined; {report.unrated} unrated "
        f"({report.calls_per_s:,.0f} calls/s)"
    )


@app.command()
def report(
    name: Annotated[str, typer.Argument(help="Report type, e.g. monthly-savings.")],
    period: Annotated[str, typer.Option(help="Month, YYYY-MM.")],
    format: Annotated[str, typer.Option("--format", help="Comma-separated: xlsx,html,csv,json,txt.")] = "xlsx,html",
    out: Annotated[Path, typer.Option(help="Folder for the report files.")] = Path("reports"),
    email: Annotated[str | None, typer.Option("--email", help="Mail it to TO[,TO] via the \\[smtp] config: HTML body, files attached.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Report parameter KEY=VALUE (e.g. top-n: by=minutes).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Render a named report for a period, and mail it with --email.

    Example: callcost report monthly-savings --period 2026-10 --format xlsx,html --email finance@example.com
    """
    from callcost.verbs.schedule import email_report, parse_params
    from reports.base import registered_reports, run_report

    ent = _enterprise(config)
    if name not in registered_reports():
        err.print(f"[red]error:[/red] unknown report '{name}' (installed: {', '.join(sorted(registered_reports()))})")
        raise typer.Exit(code=1)
    try:
        paths = run_report(name, ent.storage.lake, period, [f.strip() for f in format.split(",") if f.strip()], out,
                           ent.currency, config=ent, params=parse_params(param))
        for p in paths:
            console.print(str(p), highlight=False)
        if email:
            email_report(ent, name, period, paths, email)
    except CallcostError as exc:
        fail(exc)


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8050,
    config: ConfigOpt = None,
) -> None:
    """Serve the Dash dashboard over the lake.

    Example: callcost dashboard --port 8050
    """
    from dashboards.app import create_app, serve

    ent = _enterprise(config)
    console.print(f"dashboard on http://{host}:{port}/  (Ctrl-C to stop)")
    serve(create_app(ent.storage.lake, ent.currency), host=host, port=port)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to build the sample enterprise.")] = Path("callcost-demo"),
    calls: Annotated[int, typer.Option(help="Calls to generate for the month (1k to 10M).")] = 100_000,
    month: Annotated[str, typer.Option(help="Month of traffic, YYYY-MM.")] = "2026-10",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 7,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard at the end.")] = True,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8050,
) -> None:
    """Build the sample enterprise, feed it a month of vendor-format CDRs, rate, report, serve the dashboard.

    Example: callcost demo --no-serve
    """
    from callcost.demo import run_demo, print_summary

    try:
        result = run_demo(directory, calls=calls, month=month, seed=seed, console=console)
    except CallcostError as exc:
        fail(exc)
    print_summary(result, console)
    if serve_:
        from dashboards.app import create_app, serve

        console.print(f"dashboard on http://127.0.0.1:{port}/  (Ctrl-C to stop)")
        serve(create_app(result.ent.storage.lake, result.ent.currency), host="127.0.0.1", port=port)


for _module in pkgutil.iter_modules(verbs.__path__):
    importlib.import_module(f"{verbs.__name__}.{_module.name}").register(app)


def main() -> None:  # pragma: no cover - console entry
    app()
