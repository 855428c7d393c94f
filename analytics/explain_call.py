"""``callcost explain CALL_ID``: how one *stored* call's actual and reference cost were computed, step by step.

Why: a savings figure is only trusted if any single call behind it can be explained to the cent.  This
module finds the call (SQL database first, then the lake), runs it through today's classification
(``analytics.rating.classify``) and pricing (``analytics.rating.pricing``) and tells the story of each side with
``analytics.rating.explain.explain_call`` — the tariff row with its file and line, the local time and
band (DST, holidays), billable seconds, connect fee, half-up rounding, split-band parts — then
compares with the figures stored on the call.  A difference means the config changed since the call
was rated: ``callcost rerate`` brings the stored figures up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import sqlalchemy as sa

from warehouse import lake
from analytics.rating.classify import EMERGENCY, INBOUND, INTERNAL, ONNET, OUTBOUND, TOLLFREE_INBOUND, classify
from warehouse.config import Enterprise
from warehouse.database import Database
from warehouse.errors import CallcostError
from analytics.rating.chains import carrier_call_of, describe_chain
from analytics.rating.chains_store import stored_chain
from analytics.rating.stage import RatingStage
from analytics.rating.explain import explain_call
from warehouse.schema import PARSED_SCHEMA, calls_schema, conform

__all__ = ["CallExplanation", "UnknownCallError", "explain_stored_call", "find_call"]

_SHOWN = ("rating_status", "unrated_reason", "actual_cost", "reference_cost", "savings", "carrier", "plan", "prefix",
          "band", "tariff_version", "ref_plan", "ref_prefix", "ref_band", "ref_tariff_version", "billable_s")


class UnknownCallError(CallcostError, LookupError):
    """No stored call has the id asked for."""


@dataclass
class CallExplanation:
    """The explanation of one stored call: where it was found, the stored row, and the text."""

    call_id: str
    found_in: str  # "database" or "lake"
    stored: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    matches_stored: bool = True  # today's figures equal the stored ones

    def text(self) -> str:
        return "\n".join(self.lines)


def find_call(ent: Enterprise, call_id: str, *, database: Database | None = None) -> tuple[str, dict[str, Any]]:
    """The stored call *call_id* as a dict of ``calls_schema`` columns, and where it was found."""
    db = database if database is not None else Database(ent.storage.database, ent.scale)
    try:
        with db.engine.connect() as conn:
            if sa.inspect(conn).has_table("calls"):
                row = conn.execute(sa.select(db.calls).where(db.calls.c.call_id == call_id)).mappings().first()
                if row is not None:
                    return "database", dict(row)
    except sa.exc.SQLAlchemyError:
        pass  # database unreachable: the lake may still have it
    finally:
        if database is None:
            db.close()
    found = lake.read_calls(ent.storage.lake, filters=ds.field("call_id") == call_id, scale=ent.scale)
    if found.num_rows:
        return "lake", found.slice(0, 1).to_pylist()[0]
    raise UnknownCallError(
        f"no stored call has id '{call_id}' (looked in {db.engine.url.render_as_string(hide_password=True)} and the "
        f"lake {ent.storage.lake}); find ids with `callcost export --from DATE --to DATE --format csv`, or in "
        f"Python with the lake's own reader, which reads each call once (a plain glob of the folders can see a "
        f"call twice while a compaction's grace period runs): "
        f"`warehouse.lake.read_calls('{ent.storage.lake}', start, end, columns=['call_id'])`, or in DuckDB "
        f"`duckdb.sql(f\"SELECT call_id FROM {{warehouse.lake.calls_glob('{ent.storage.lake}')}}\")`")


def explain_stored_call(ent: Enterprise, call_id: str, *, database: Database | None = None,
                        stage: RatingStage | None = None) -> CallExplanation:
    """Find *call_id* and explain, step by step, how its actual and reference cost are computed."""
    where, stored = find_call(ent, call_id, database=database)
    stage = stage or RatingStage(ent)
    schema = calls_schema(ent.scale)
    row = {f.name: stored.get(f.name) for f in schema}
    table = pa.Table.from_pylist([row], schema=schema)
    parsed = conform(table.select(PARSED_SCHEMA.names), PARSED_SCHEMA)
    fresh = stage.rate_batch(parsed).to_pylist()[0]
    frame = classify(parsed.to_pandas(types_mapper=_types), ent).iloc[0]
    chain = _chain(ent, where, table, stage, database)  # a leg of a call chain is rated with its chain's legs
    share = None
    if chain is not None:
        fresh = next(leg for leg in chain if leg["call_id"] == call_id)
        share = carrier_call_of(chain, call_id)

    out = CallExplanation(call_id=call_id, found_in=where, stored=row)
    add = out.lines.append
    at = row["answer_utc"] or row["start_utc"]
    add(f"call {call_id} (found in the {where}; lake partition date={row['start_utc']:%Y-%m-%d})")
    add(f"  pbx {row['pbx']}, site {fresh['site']}, started {row['start_utc']:%Y-%m-%d %H:%M:%S}Z, "
        f"billing from {'answer' if row['answer_utc'] else 'start'} {at:%Y-%m-%d %H:%M:%S}Z, "
        f"{row['duration_s']} s talk")
    add(f"  calling {row['calling_number']}, called {row['called_number']} (as dialled), "
        f"trunk {row['trunk'] or '(none)'}")

    add("1. classification (today's config)")
    add(f"  direction {fresh['direction']}, call type {fresh['call_type']}, category {fresh['category'] or '(none)'}")
    dest = fresh["connected_number_e164"]
    add(f"  far end E.164 {dest or '(not a PSTN number)'}"
        + (f", country {fresh['dest_country']}" if fresh["dest_country"] else ""))
    site = ent.sites.get(fresh["site"])
    add(f"  originating site {fresh['site']}" + (f" (main number {site.main_number}, {site.timezone}, "
                                                  f"holidays {site.holidays})" if site else " (not configured)"))
    if fresh["trunk"]:
        if fresh["carrier"]:
            tail = fresh["trunk_site"] and fresh["trunk_site"] != fresh["site"]
            add(f"  trunk {fresh['trunk']} → carrier {fresh['carrier']}, meets the PSTN at site {fresh['trunk_site']}"
                + (" (tail-end hop-off: priced at the remote site, referenced from the origin)" if tail else ""))
        else:
            add(f"  trunk {fresh['trunk']}: " + ("on-net trunk" if _text(frame.get("_trunk_kind")) == "onnet"
                                                  else "no [[trunk]] glob of this PBX matches it"))
    if fresh["dest_site"]:
        add(f"  destination site {fresh['dest_site']}")
    if fresh["department"] or fresh["user"]:
        add(f"  directory: user {fresh['user'] or '-'}, department {fresh['department'] or '-'}, "
            f"cost centre {fresh['cost_center'] or '-'}")

    pricer = stage.pricer
    d = int(row["duration_s"] or 0)
    if chain is not None:
        out.lines.extend(describe_chain(chain, call_id))
    if share is not None:  # the tariff is applied once, to the whole carrier call; this leg has a share of it
        at, d = share.first_connect, share.seconds
        add(f"  (sections 2 and 3 price the whole carrier call: {d} s from {at:%H:%M:%S}Z; section 4 is this "
            f"leg's share)")
    ctype = fresh["call_type"]
    add("2. actual cost")
    if d <= 0:
        add("  unanswered: costs 0 (SPEC §5), no connect fee")
    elif ctype in (INBOUND, EMERGENCY):
        add(f"  {ctype} call: the enterprise pays nothing, cost 0")
    elif ctype == INTERNAL:
        add("  internal call within one site: cost 0")
    elif ctype == ONNET:
        add(f"  on-net over the WAN: [onnet] rate {ent.onnet_rate}/min × {d} s / 60, per second, rounded half-up "
            f"= {fresh['actual_cost']}")
    elif ctype in (OUTBOUND, TOLLFREE_INBOUND) and fresh["carrier"]:
        number = _text(frame.get("_did_e164")) if ctype == TOLLFREE_INBOUND else dest
        carrier = ent.carriers[fresh["carrier"]]
        how = "the DID's carrier (inbound toll-free: we pay)" if ctype == TOLLFREE_INBOUND else "the trunk's carrier"
        add(f"  {how} {carrier.id}, tariff {carrier.tariff}, from site {fresh['trunk_site']}"
            f"{', split at band changes' if carrier.split else ''}")
        if number:
            _side(out, pricer.tariff(carrier.id), number, fresh["trunk_site"], at, d, carrier.split, pricer, ent)
    else:
        add(f"  not priced: {fresh['unrated_reason'] or 'no carrier'}")
    if ctype == OUTBOUND and fresh["category"] == "tollfree" and d > 0:
        add("  the reference tariff classes the number toll-free: the called party pays, cost 0")

    add("3. reference cost (the same call over the public network)")
    if d <= 0 or ctype in (INBOUND, EMERGENCY) or (ctype == INTERNAL):
        add("  0: " + ("unanswered" if d <= 0 else f"{ctype} calls have no PSTN alternative to compare with"))
    elif ctype == TOLLFREE_INBOUND:
        add("  toll-free inbound: reference = actual (no cheaper PSTN alternative, no saving)")
    else:
        ref_number = dest if ctype == OUTBOUND else (ent.sites[fresh["dest_site"]].main_number
                                                     if fresh["dest_site"] in ent.sites else None)
        add(f"  reference tariff {ent.reference_tariff}, from the originating site {fresh['site']} to "
            + ("the destination site's main number " if ctype == ONNET else "") + f"{ref_number or '(unknown)'}")
        if ref_number:
            _side(out, pricer.tariff(None), ref_number, fresh["site"], at, d, False, pricer, ent)

    add("4. result")
    if fresh["rating_status"] == "rated":
        add(f"  actual {fresh['actual_cost']}, reference {fresh['reference_cost']}, savings = reference − actual "
            f"= {fresh['savings']} {ent.currency}")
    else:
        add(f"  unrated: {fresh['unrated_reason']} — costs left empty (not 0); both sides must price")
    changed = [c for c in _SHOWN if _norm(row.get(c)) != _norm(fresh.get(c))]
    out.matches_stored = not changed
    add("5. stored on the call" + (f" (rated at {row['rated_at']:%Y-%m-%d %H:%M:%S}Z)" if row.get("rated_at") else ""))
    add("  " + ", ".join(f"{c} {row.get(c) if row.get(c) is not None else '-'}" for c in _SHOWN
                         if row.get(c) is not None or c in ("actual_cost", "rating_status")))
    if changed:
        day = f"{row['start_utc']:%Y-%m-%d}"
        add("  DIFFERS from today's rating in " + ", ".join(f"{c} ({row.get(c)} → {fresh.get(c)})" for c in changed)
            + f": the config changed since; run `callcost rerate --from {day} --to {day}`")
    else:
        add("  matches today's rating")
    return out


def _side(out: CallExplanation, tariff, number: str, site: str, at, d: int, split: bool, pricer, ent: Enterprise) -> None:
    """One side's step-by-step pricing, indented under its heading."""
    call = {"dest": number.lstrip("+"), "origin": pricer.main_digits.get(site, ""), "site": site,
            "at_utc": pd.Timestamp(at), "duration_s": d}
    for line in explain_call(tariff, call, pricer.clocks, split, ent.scale):
        out.lines.append("  " + line)


def _chain(ent: Enterprise, where: str, leg: pa.Table, stage: RatingStage,
           database: Database | None) -> list[dict] | None:
    """The rated legs of the chain of the stored *leg* (looked up in the database), or None for a leg alone."""
    if where != "database":
        return None
    db = database if database is not None else Database(ent.storage.database, ent.scale)
    try:
        legs = stored_chain(db, leg, stage.chains.window_hours)
    finally:
        if database is None:
            db.close()
    if legs.num_rows < 2:
        return None
    return stage.rate_batch(legs.select(PARSED_SCHEMA.names)).to_pylist()


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _types(t: pa.DataType):
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype("pyarrow", na_value=np.nan)
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    return None
