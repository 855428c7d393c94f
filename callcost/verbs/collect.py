"""Verbs that bring calls in: ``collect`` (the live service), ``import`` (files), ``replay`` (raw dumps), ``status``.

Thin shells over :class:`collector.service.CollectorService` (and :class:`collector.remote.unit.RemoteUnit`),
:func:`collector.importer.import_files`, :func:`collector.replay.replay` and :mod:`collector.status`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from callcost.cli_common import EXIT_QUARANTINED, ClusterOpt, ConfigOpt, console, enterprise, err, note, progress_bar


def register(app: typer.Typer) -> None:
    """Add ``import``, ``collect``, ``status`` and ``replay`` to the CLI."""
    app.command("import")(import_)
    app.command("collect")(collect)
    app.command("status")(status)
    app.command("replay")(replay_cmd)


def import_(
    files: Annotated[list[Path], typer.Argument(help="CDR files to import.", exists=True, dir_okay=False)],
    pbx: Annotated[str, typer.Option("--pbx", help="The [[pbx]] id the files come from.")],
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    """Import CDR files through the same parse → rate → store path as live collection (idempotent).

    A file no record of which can be read is quarantined whole and the import goes on with the others.
    Exits 4 when any record or file was quarantined (see callcost quarantine), 0 when none was.
    With --cluster (or [cluster] address), workers of a Dask cluster parse, rate and write the lake;
    this process loads the database (docs/scale-out.md).

    Example: callcost import --pbx nyc-cucm incoming/nyc-cucm/cdr_*
    """
    from collector.importer import import_files
    from warehouse import cluster as dask_cluster
    from warehouse.store import Store

    ent = enterprise(config, checked_for="import")
    ent.pbx(pbx)  # an unknown id fails here, naming the configured ones
    address = dask_cluster.address_for(ent.raw, cluster)
    with progress_bar() as progress:
        task = progress.add_task(f"importing {pbx}", total=len(files))
        step = lambda n: progress.advance(task, n)  # noqa: E731
        if address is None:
            report = import_files(ent, pbx, files, store=Store(ent), progress=step)
        else:
            from collector.cluster_import import import_on_cluster

            with dask_cluster.connect(address) as client:
                report = import_on_cluster(ent, pbx, files, store=Store(ent), client=client, progress=step)
    whole = {id(q) for q in report.files_quarantined}  # listed below, after the summary
    for q in [q for q in report.problems if id(q) not in whole][:50]:
        note("quarantined:", q)
    # every record is stored, already stored (an identical record imported before) or quarantined with a reason
    again = f" ({report.already_quarantined} of them already before)" if report.already_quarantined else ""
    console.print(
        f"{report.files} file(s), {report.records} records: {report.stored} stored, "
        f"{report.duplicates} already stored, {report.quarantined} quarantined{again}; {report.unrated} unrated "
        f"({report.calls_per_s:,.0f} calls/s)", highlight=False, markup=False, soft_wrap=True
    )
    for q in report.files_quarantined:
        console.print(f"file quarantined whole: {q.source}: {q.reason}", highlight=False, markup=False,
                      soft_wrap=True)
    if report.quarantined:
        raise typer.Exit(code=EXIT_QUARANTINED)


def collect(
    config: ConfigOpt = None,
    pbx: Annotated[list[str] | None, typer.Option("--pbx", help="Only these [[pbx]] ids (default: every live source).")] = None,
    health_port: Annotated[int | None, typer.Option("--health-port", min=0, max=65535,
                                                    help="Serve /health (JSON) and /metrics (Prometheus) on this port.")] = None,
    remote_unit: Annotated[bool, typer.Option("--remote-unit", help="Run beside the PBXs: batches go to a durable outbox and on to the centre named in the remote table, over HTTPS (docs/remote-unit.md).")] = False,
) -> None:
    """Run the collector for every PBX with a live source until Ctrl-C / SIGTERM, then drain gracefully.

    With --remote-unit, batches go to a local outbox and on to the central collector over HTTPS.

    Example: callcost collect --config callcost.toml --health-port 9108
    """
    from collector.service import CollectorService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ent = enterprise(config, checked_for="collect")
    if remote_unit:
        from collector.remote.unit import RemoteUnit

        service = RemoteUnit(ent, pbx_ids=pbx)
        err.print(f"remote unit {service.settings.unit}: forwarding to {service.settings.centre}, "
                  f"outbox {service.settings.outbox}", highlight=False, markup=False)
    else:
        service = CollectorService(ent, pbx_ids=pbx)
    if not service.transports:
        err.print("no [[pbx]] has a live source (folder:, ftp:, tcp:, rsp:, serial:); nothing to collect",
                  markup=False)
        raise typer.Exit(code=1)
    for pid, t in service.transports.items():
        err.print(f"collecting {pid} from {t.pbx.source}", highlight=False, markup=False)
    asyncio.run(service.run(health_port=health_port))
    err.print("stopped; every queued record was " + ("put in the outbox" if remote_unit else "stored"))


def status(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per PBX, imports and live collection together: records received, stored, already stored,
    quarantined (received = stored + already stored + quarantined), rated, last record age, and alerts.

    On PostgreSQL, "held by" names the collector (host, pid) holding each live link (active/standby).
    Exits with status 2 when any source has an alert (a gap, a file partly imported, an RSP sequence jump,
    counts that do not add up, a source silent longer than usual) — suitable for a monitoring check.

    Example: callcost status --config callcost.toml
    """
    from collector.leases import current_holders
    from collector.status import collector_status, offline_backlog
    from warehouse.database import Database

    ent = enterprise(config)
    backlog = offline_backlog(ent)
    if backlog["backlog_batches"]:  # on stderr, so --json output keeps its shape
        note("alert", f"offline spool {ent.storage.offline}: {backlog['backlog_batches']} batches, "
                      f"{backlog['backlog_rows']} calls waiting for the main database, oldest "
                      f"{backlog['oldest_age_s']:.0f}s")
    db = Database(ent.storage.database, ent.scale)
    try:
        rows = collector_status(ent, db.engine)
        holders = current_holders(db.engine)  # active/standby on PostgreSQL: which collector holds each link
    finally:
        db.close()
    if as_json:
        console.print_json(json.dumps([{**{k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                           for k, v in vars(r).items()}, "held_by": holders.get(r.pbx)}
                                       for r in rows]))
    else:
        from rich.table import Table

        table = Table("pbx", "source", "received", "stored", "already stored", "quarantined", "rated",
                      "last record", "alerts", *(["held by"] if holders else []))
        for r in rows:
            age = "never" if r.last_record_age_s is None else f"{r.last_record_age_s:.0f}s ago"
            # a record quarantined again (a re-import) is already stored in the quarantine: counted there
            table.add_row(r.pbx, r.source or "(import)",
                          *(str(x) for x in (r.received, r.stored, r.already_stored + r.already_quarantined,
                                             r.quarantined, r.rated)),
                          age, str(len(r.alerts)), *([holders.get(r.pbx, "—")] if holders else []))
        console.print(table)
        for r in rows:
            for a in r.alerts:
                note("alert", f"{r.pbx}: {a}")
    if any(r.alerts for r in rows) or backlog["backlog_batches"]:
        raise typer.Exit(code=2)


def replay_cmd(
    dumps: Annotated[list[Path], typer.Argument(help="Raw-dump files or folders (storage.raw_dump/…).", exists=True)],
    config: ConfigOpt = None,
) -> None:
    """Re-import raw dumps through parse → rate → store; calls already stored are left as they are.

    Example: callcost replay raw/avaya-cm/2026-10-05/ --config callcost.toml
    """
    from collector.replay import replay

    report = replay(enterprise(config), dumps)
    console.print(f"replayed {report.files} file(s), {report.sessions} session(s), {report.bytes} bytes: "
                  f"{report.received} records, {report.stored_new} new calls stored", highlight=False)
