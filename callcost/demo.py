"""``callcost demo``: the sample enterprise end to end, through the real code paths.

sample config → generated month of traffic written in *vendor formats* (CUCM flat files, canonical
CSV) into each PBX's drop folder → the importer (parse → classify → rate → store, as live) → SQLite +
Parquet lake → monthly savings report (xlsx + html) → per-site headline table.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from collector.importer import ImportReport, import_files
from collector.simulate.demo_files import write_demo_files
from collector.simulate.traffic import generate_traffic
from callcost.cli_common import UsageError
from warehouse.config import Enterprise, load_config
from analytics.rating.stage import RatingStage
from warehouse.store import Store

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise"


@dataclass
class DemoResult:
    ent: Enterprise
    imported: ImportReport
    reports: list[Path]
    summary: object  # analytics.savings.Summary
    timings: dict[str, float] = field(default_factory=dict)
    month: str = "2026-10"


def build_sample(directory: Path) -> Path:
    """Copy the sample enterprise into *directory* (fresh lake, DB and drop folders) and return its config."""
    directory = directory.resolve()
    for sub in ("lake", "incoming", "reports", "raw", "spool"):
        shutil.rmtree(directory / sub, ignore_errors=True)
    for db in directory.glob("callcost.db*"):
        db.unlink()
    shutil.copytree(SAMPLE, directory, dirs_exist_ok=True)
    return directory / "callcost.toml"


def refuse_to_overwrite(directory: Path) -> None:
    """A ``UsageError`` when *directory* exists and holds anything: the demo replaces its config, tariffs,
    lake, database and reports, and a second ``callcost demo`` must not silently wipe what a user put there."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(
            f"{directory.resolve()} already exists and is not empty: the demo would replace its callcost.toml, "
            "tariffs, lake, database and reports, and any change you made to them. Use --force to rebuild the "
            "demo there, or --dir to build it in another folder")


def run_demo(directory: Path, *, calls: int = 100_000, month: str = "2026-10", seed: int = 7,
             console: Console | None = None, force: bool = False) -> DemoResult:
    """Build the sample enterprise in *directory* and run a generated month through import and report.

    *directory* must be new or empty unless *force* (then its lake, database and reports are rebuilt).
    """
    from analytics.calls import month_range
    from analytics.savings import summary
    from analytics.reporting import run_report

    month_range(month)  # a PeriodError now, not a ValueError deep in the traffic generator
    if not force:
        refuse_to_overwrite(directory)
    console = console or Console(quiet=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ent = load_config(build_sample(directory))
    console.print(f"sample enterprise [bold]{ent.name}[/bold]: {len(ent.sites)} sites, {len(ent.pbxs)} PBXs, "
                  f"{len(ent.carriers)} carriers → {ent.root}")

    t = time.perf_counter()
    traffic = generate_traffic(ent, month=month, calls=calls, seed=seed)
    written = write_demo_files(ent, traffic, ent.root)
    timings["generate"] = time.perf_counter() - t
    console.print(f"generated {traffic.num_rows:,} calls for {month} as vendor files: "
                  + ", ".join(f"{pbx} {len(files)} file(s)" for pbx, files in written.items()))

    t = time.perf_counter()
    store = Store(ent)
    stage = RatingStage(ent)
    imported = ImportReport()
    for pbx_id, files in written.items():
        imported.add(import_files(ent, pbx_id, sorted(files), store=store, stage=stage))
    timings["import"] = time.perf_counter() - t
    console.print(f"imported {imported.parsed:,} calls ({imported.calls_per_s:,.0f} calls/s), "
                  f"{imported.quarantined} quarantined, {imported.unrated} unrated")

    t = time.perf_counter()
    paths = run_report("monthly-savings", ent.storage.lake, month, ["xlsx", "html"], ent.root / "reports", ent.currency,
                       config=ent)
    timings["report"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return DemoResult(ent=ent, imported=imported, reports=paths, summary=summary(ent.storage.lake, month),
                      timings=timings, month=month)


def print_summary(result: DemoResult, console: Console) -> None:
    """The headline table per site, and where the report files are."""
    s = result.summary
    cur = result.ent.currency
    table = Table(title=f"{result.ent.name} — savings by site ({cur})")
    for col in ("site", "calls", "minutes", "actual cost", "reference cost", "savings", "unrated"):
        table.add_column(col, justify="left" if col == "site" else "right")
    by_site = s.by_site
    for site, row in by_site.iterrows():
        table.add_row(str(site), f"{int(row['calls']):,}", f"{row['minutes']:,.0f}", f"{row['actual_cost']:,.2f}",
                      f"{row['reference_cost']:,.2f}", f"{row['savings']:,.2f}", f"{int(row['unrated_calls']):,}")
    table.add_row("[bold]total[/bold]", f"{int(s.calls):,}", f"{s.minutes:,.0f}", f"{s.actual_cost:,.2f}",
                  f"{s.reference_cost:,.2f}", f"{s.savings:,.2f}", f"{int(s.unrated_calls):,}")
    console.print(table)
    for p in result.reports:
        console.print(f"report: {p}", highlight=False)
    console.print(f"lake: {result.ent.storage.lake}   database: {result.ent.storage.database}", highlight=False)
    console.print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    console.print(next_steps(result), highlight=False, markup=False, soft_wrap=True)


def next_steps(result: DemoResult, cwd: Path | None = None) -> str:
    """Where the demo put things and what to run next: the commands find ``./callcost.toml``, so ``cd`` there."""
    root = result.ent.root
    here = (cwd or Path.cwd()).resolve()
    shown = os.path.relpath(root, here) if root.is_relative_to(here) else str(root)
    from analytics.calls import month_range

    period = result.month
    first, last = month_range(period)
    return "\n".join([
        "",
        f"The demo enterprise is in {root}:",
        "  callcost.toml     the config: sites, PBXs, trunks, carriers (docs/config-reference.md)",
        "  tariffs/          one tariff CSV per carrier, and the PSTN reference",
        "  directory.csv     who sits at which extension, in which department",
        "  incoming/         the generated vendor CDR files that were imported",
        "  lake/             the rated calls as Parquet (DuckDB, pandas)",
        "  callcost.db       the SQL database",
        "  reports/          the monthly savings report (xlsx, html)",
        "",
        f"Next: cd {shown}   (every command then finds ./callcost.toml; or add --config {shown}/callcost.toml)",
        *(f"  {cmd:<66} {what}" for cmd, what in (
            (f"callcost report carrier-cost --period {period}", "another report (callcost report --help)"),
            (f"callcost export --from {first} --to {last} --format csv", "the rated calls"),
            ("callcost status", "what each PBX sent, stored and quarantined"),
            ("callcost dashboard", "the dashboards in a browser"),
            ("callcost check-config", "validate the config after you edit it"))),
        "To connect your own PBXs, start from docs/connect-your-enterprise.md.",
    ])
