"""``callcost quarantine retry``: parse quarantined records again after a config fix, and store those that now parse.

Why: a record is quarantined when the PBX's configuration cannot read it (a layout that does not
match, a missing option, a file of an unknown width).  Once the config is fixed, the raw bytes kept
with each record are parsed again by the PBX's connector as configured now; what parses is rated and
stored in the database and the lake, and leaves the quarantine, in this order:

1. the calls are saved (idempotent on ``call_id``, like every store);
2. one transaction deletes the quarantine rows they came from, quarantines what a file quarantined
   whole still holds of bad records (by position, so once), and writes an ``ingest_account`` row of
   path ``retry`` (:func:`warehouse.ingest.record_retry`) so every PBX's counts still add up.

A crash between 1 and 2 leaves the rows in quarantine and the calls stored: the next retry stores
nothing twice (the calls count as already stored) and then moves the rows.  A record that still does
not parse stays, with its reason brought up to date.

What is parsed is the raw bytes alone: a whole file for a file quarantined whole, one record
otherwise.  A record of a format that needs its file's header line (a CSV file with a header) parses
only from the whole file: import that file again once the config is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from analytics.rating.stage import RatingStage
from collector.connectors.base import Connector, connector_for
from collector.importer import pbx_context
from warehouse import ingest
from warehouse.config import Enterprise
from warehouse.errors import CallcostError
from warehouse.store import SaveResult, Store


@dataclass
class RetryReport:
    """What one retry did, per PBX summed: records tried, moved out of quarantine, what they became."""

    tried: int = 0
    moved: int = 0
    stored: int = 0
    already_stored: int = 0
    still_quarantined: int = 0
    #: bad records found in files that were quarantined whole and now parse (quarantined by position)
    newly_quarantined: int = 0
    skipped_pbxs: list[str] = field(default_factory=list)  # quarantined for PBX ids no longer configured


@dataclass
class _Outcome:
    calls: list[pa.Table] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    extra_received: int = 0  # records a file quarantined whole turned out to hold, beyond the one it counted as
    reasons: dict[int, tuple[str | None, str]] = field(default_factory=dict)  # still bad: id → (field, reason)


def retry_quarantined(ent: Enterprise, store: Store, *, pbx: str | None = None, since: datetime | None = None,
                      reason: str | None = None, stage: RatingStage | None = None) -> RetryReport:
    """Parse the selected quarantined records again (see module doc); the filters are those of
    :func:`warehouse.ingest.quarantined`."""
    if pbx is not None:
        ent.pbx(pbx)  # an unknown id is a ConfigError naming the configured ones
    report = RetryReport()
    with store.begin() as conn:
        rows = ingest.quarantined(conn, pbx=pbx, since=since, reason=reason, with_raw=True)
    by_pbx: dict[str, list] = {}
    for r in rows:
        by_pbx.setdefault(r.pbx, []).append(r)
    for pbx_id, mine in sorted(by_pbx.items()):
        if pbx_id not in ent.pbxs:
            report.skipped_pbxs.append(pbx_id)
            continue
        connector = connector_for(ent.pbxs[pbx_id].type, pbx_context(ent, pbx_id))
        outcome = _parse_again(connector, pbx_id, mine)
        report.tried += len(mine)
        stage = stage or RatingStage(ent)
        calls = _concat(outcome.calls)
        saved = store.save(stage.rate_batch(calls)) if calls is not None else SaveResult(0, 0, 0)
        with store.begin() as conn:
            new_q = ingest.record_retry(conn, pbx_id, outcome.moved, outcome.quarantine, saved,
                                        extra_received=outcome.extra_received)
            for qid, (fld, why) in outcome.reasons.items():
                conn.execute(sa.update(ingest.quarantine).where(ingest.quarantine.c.id == qid)
                             .values(field=fld, reason=why))
        report.moved += len(outcome.moved)
        report.stored += saved.inserted
        report.already_stored += saved.skipped
        report.still_quarantined += len(mine) - len(outcome.moved)
        report.newly_quarantined += new_q
    return report


def _parse_again(connector: Connector, pbx: str, rows: list) -> _Outcome:
    """Each quarantined record through *connector*: what now parses, and the reason of what does not."""
    out = _Outcome()
    now = datetime.now(UTC)
    for r in rows:
        whole = r.line is None and r.offset is None
        try:
            result = connector.parse(bytes(r.raw or b""), r.source)
        except CallcostError as exc:
            out.reasons[r.id] = (r.field, f"{r.reason.split(': ', 1)[0]}: {exc}" if whole else str(exc))
            continue
        if not result.calls.num_rows:
            q = result.quarantined[0] if result.quarantined else None
            if q is not None and not whole and (q.field, q.reason) != (r.field, r.reason):
                out.reasons[r.id] = (q.field, q.reason)
            continue
        calls = result.calls
        if not whole:  # one record parsed alone: point back at where it was read first
            where = f"{r.source}:{r.line}" if r.line is not None else f"{r.source}@{r.offset}"
            calls = calls.set_column(calls.schema.get_field_index("raw_ref"), "raw_ref",
                                     pa.array([where] * calls.num_rows, pa.string()))
        out.calls.append(calls)
        out.moved.append(r.id)
        out.quarantine.extend(ingest.quarantine_row(pbx, q, now) for q in result.quarantined)
        out.extra_received += result.records_seen - 1
    return out


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")

