"""``callcost export``: a period's rated calls, filtered, to csv, xlsx, json, txt, html or parquet (SPEC §2).

A thin shell over :func:`analytics.export.export_calls`, which streams the rows in batches; this
module only reads the options, shows a progress bar and reports the exact totals written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from callcost.cli_common import ConfigOpt, UsageError, console, enterprise, progress_bar, split_values

_FilterOpt = Optional[list[str]]


def _values(given: list[str] | None) -> list[str] | None:
    """A filter's values (``--site NYC --site LON`` or ``--site NYC,LON``); None when not given."""
    return split_values(given) or None


def register(app: typer.Typer) -> None:
    """Add ``export`` to the CLI."""
    app.command("export")(export)


def export(
    from_: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC date of the call's start).")],
    to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")],
    format: Annotated[str, typer.Option("--format", "-f", help="csv, xlsx, json, txt, html or parquet.")] = "csv",
    site: Annotated[_FilterOpt, typer.Option("--site", help="Only these sites (repeat, or a,b).")] = None,
    carrier: Annotated[_FilterOpt, typer.Option("--carrier", help="Only these carriers.")] = None,
    department: Annotated[_FilterOpt, typer.Option(help="Only these departments.")] = None,
    extension: Annotated[_FilterOpt, typer.Option(help="Only these extensions.")] = None,
    call_type: Annotated[_FilterOpt, typer.Option("--call-type", help="Only these call types (outbound…).")] = None,
    columns: Annotated[Optional[str], typer.Option(help="Comma-separated columns (default: all).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="File; default calls-FROM-TO.FORMAT.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Export rated calls of a period, filtered, streaming large exports with a progress bar.

    Money is exact in every format (decimal text, or decimal128 in parquet).

    Example: callcost export --from 2026-10-01 --to 2026-10-31 --format xlsx --site NYC --out nyc.xlsx
    """
    from analytics.export import EXPORT_FORMATS, export_calls
    from analytics.selection import select

    fmt = format.strip().lower()
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format: unknown format '{format}' (expected one of: {', '.join(EXPORT_FORMATS)})")
    ent = enterprise(config)
    target = out or Path(f"calls-{from_}-{to}.{fmt}")
    sel = select(ent, start=from_, end=to, site=_values(site), carrier=_values(carrier),
                 department=_values(department), extension=_values(extension), call_type=_values(call_type))
    wanted = _values([columns]) if columns else None
    with progress_bar() as progress:
        task = progress.add_task(f"exporting {fmt}", total=None)
        result = export_calls(sel, fmt, target, columns=wanted,
                              on_start=lambda n: progress.update(task, total=n),
                              on_rows=lambda n: progress.advance(task, n))
    cur = f" {ent.currency}" if ent.currency else ""
    console.print(f"{result.rows:,} calls → {result.path}  (actual cost {result.actual_cost}{cur}, "
                  f"reference cost {result.reference_cost}{cur}, savings {result.savings}{cur}; "
                  f"{result.seconds:.1f}s)", highlight=False, soft_wrap=True)
