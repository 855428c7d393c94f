"""``callcost quarantine [list|retry]``: see the records no connector could read, and read them again after a fix.

Thin shells over :func:`warehouse.ingest.quarantined` and :func:`collector.retry.retry_quarantined`.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer

from callcost.cli_common import EXIT_QUARANTINED, ConfigOpt, console, enterprise, note, parse_moment


class Action(str, Enum):
    list = "list"
    retry = "retry"


def register(app: typer.Typer) -> None:
    """Add ``quarantine`` to the CLI."""
    app.command("quarantine")(quarantine)


def quarantine(
    action: Annotated[Action, typer.Argument(help="list (the default) shows them; retry parses them again "
                                                  "with the config as it is now and stores those that parse.")]
    = Action.list,
    pbx: Annotated[str | None, typer.Option("--pbx", help="Only the records of this [[pbx]] id.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only records received on or after this day "
                                                              "(YYYY-MM-DD) or moment (ISO 8601, UTC if no offset).")]
    = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only records whose reason contains this text "
                                                                "(any case).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="list: print JSON instead of lines.")] = False,
    config: ConfigOpt = None,
) -> None:
    """List quarantined records (where each was read, the field, the reason), or retry them after a config fix.

    retry moves the records that now parse into the database and the lake, exactly once, and out of
    the quarantine; it exits 4 when some records still do not parse.

    Example: callcost quarantine --pbx bos-nec --reason layout; callcost quarantine retry --pbx bos-nec
    """
    from warehouse import ingest
    from warehouse.store import Store

    ent = enterprise(config)
    if pbx is not None:
        ent.pbx(pbx)  # an unknown id fails here, naming the configured ones
    moment = parse_moment(since, "--since") if since is not None else None
    store = Store(ent)
    if action is Action.retry:
        from collector.retry import retry_quarantined

        report = retry_quarantined(ent, store, pbx=pbx, since=moment, reason=reason)
        for p in report.skipped_pbxs:
            note("warning:", f"records quarantined for PBX '{p}', which the config no longer has, were left as they are")
        console.print(f"{report.tried} quarantined records tried: {report.moved} now parse "
                      f"({report.stored} calls stored, {report.already_stored} already stored), "
                      f"{report.still_quarantined} still quarantined"
                      + (f", {report.newly_quarantined} bad records found in files quarantined whole"
                         if report.newly_quarantined else ""), highlight=False, markup=False, soft_wrap=True)
        if report.still_quarantined or report.newly_quarantined:
            raise typer.Exit(code=EXIT_QUARANTINED)
        return
    with store.begin() as conn:
        rows = ingest.quarantined(conn, pbx=pbx, since=moment, reason=reason)
    if as_json:
        console.print_json(json.dumps([{**r._asdict(), "received_at": r.received_at.isoformat()} for r in rows]))
        return
    for r in rows:
        where = f"{r.source}:{r.line}" if r.line is not None else (
            f"{r.source}@{r.offset}" if r.offset is not None else f"{r.source} (whole file)")
        fld = f" field '{r.field}'" if r.field else ""
        console.print(f"{r.received_at:%Y-%m-%d %H:%M:%S} {r.pbx} {where}{fld}: {r.reason} "
                      f"[{r.raw_bytes or 0} bytes]", highlight=False, markup=False, soft_wrap=True)
    console.print(f"{len(rows)} quarantined record(s)", highlight=False, markup=False)

