"""``callcost compact``, ``callcost backup`` and ``callcost restore``: keeping the stores healthy and safe.

Thin shells over :func:`warehouse.compaction.compact` and :mod:`warehouse.backup`; all three are safe
while ``callcost collect`` runs (``docs/backup-and-compaction.md`` says why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from callcost.cli_common import ConfigOpt, check_order, console, enterprise, err, parse_day


def register(app: typer.Typer) -> None:
    """Add ``compact``, ``backup`` and ``restore`` to the CLI."""
    app.command("compact")(compact)
    app.command("backup")(backup)
    app.command("restore")(restore)


def compact(
    from_: Annotated[Optional[str], typer.Option("--from", help="First day, YYYY-MM-DD (default: the oldest).")] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Last day, YYYY-MM-DD (default: the newest).")] = None,
    min_files: Annotated[int, typer.Option("--min-files", min=2, help="Merge a day with at least this many files.")] = 2,
    grace: Annotated[float, typer.Option("--grace", min=0, max=60, help="Seconds superseded files stay for readers "
                                         "that listed them, 0 to 60 (0: delete now).")] = 60.0,
    config: ConfigOpt = None,
) -> None:
    """Merge each lake day's small Parquet files into one, while readers and the collector keep going.

    Readers never see a call twice or miss one; the command waits out the grace period and deletes
    the superseded files before it returns, so engines that read the folders directly see each call
    once again by then.  Also finishes batches a crash interrupted and removes crashed temp files.

    Example: callcost compact --from 2026-10-01 --to 2026-10-31
    """
    from warehouse.compaction import compact as run

    start = parse_day(from_, "--from") if from_ is not None else None
    end = parse_day(to, "--to") if to is not None else None
    check_order(start, end)
    ent = enterprise(config)
    result = run(ent.storage.lake, start, end, min_files=min_files, grace_s=grace,
                 waiting=lambda left, n: err.print(f"waiting {left:.0f} s for readers of {n} partition(s) before "
                                                   "deleting their superseded files", highlight=False))
    console.print(escape(result.summary()), highlight=False)


def backup(
    dest: Annotated[Path, typer.Argument(help="New or empty folder for the backup.")],
    config: ConfigOpt = None,
) -> None:
    """Back up the SQL database, the lake and the config as of one moment, while the collector runs.

    SQLite through its online backup API, PostgreSQL with pg_dump; every file's size and SHA-256,
    the call counts and exact money totals go in DEST/manifest.json.

    Example: callcost backup /backups/callcost-2026-11-01
    """
    from warehouse.backup import backup as run

    ent = enterprise(config)
    manifest = run(ent, dest, progress=lambda msg: err.print(escape(msg), highlight=False))
    money = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in manifest["lake"]["money"].items())
    size = sum(f["size"] for f in manifest["files"])
    console.print(escape(f"{manifest['lake']['calls']:,} calls ({money} {manifest['currency']}), "
                         f"{len(manifest['files'])} files, {size / 1e6:.1f} MB in {manifest['seconds']:.1f} s "
                         f"→ {dest}"), highlight=False)


def restore(
    src: Annotated[Path, typer.Argument(help="A folder written by `callcost backup`.", exists=True, file_okay=False)],
    into: Annotated[Path, typer.Option("--into", help="New or empty folder for the restored enterprise.")],
    database: Annotated[Optional[str], typer.Option(
        "--database", help="SQL URL to restore into (default sqlite:///callcost.db in --into; a PostgreSQL "
                           "backup needs an empty PostgreSQL database).")] = None,
) -> None:
    """Verify a backup against its manifest and rebuild a runnable enterprise from it.

    Every file's SHA-256 is checked first; after the restore the call counts and money totals of
    the database and the lake are checked against the manifest.

    Example: callcost restore /backups/callcost-2026-11-01 --into /srv/callcost-restored
    """
    from warehouse.backup import restore as run

    result = run(src, into, database=database, progress=lambda msg: err.print(escape(msg), highlight=False))
    money = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.money.items())
    console.print(escape(f"restored {result.calls:,} calls ({money}) in {result.seconds:.1f} s; "
                         f"config: {result.config}"), highlight=False)
