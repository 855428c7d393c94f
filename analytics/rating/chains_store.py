"""Chains across batches (issue 17): a leg that arrives later joins the chain its stored legs began.

CUCM writes a transferred call's final segment when it ends — minutes or hours after the original, in
another file, often another batch.  ``join_stored`` runs on each rated batch just before it is saved:

1. it looks up, in the SQL database, the stored legs of the same PBX that share a key with the batch
   (``call_group``, ``leg_id``, ``peer_leg_id``, ``trunk_leg_id``, ``chain_id``) and started within the
   open-chain window (``[chains] window_hours``), then the legs sharing a key with those (until no new leg
   is found) — the stored state *is* the open chains, so they survive a collector restart;
2. it rates the batch's legs of those chains together with the stored legs (``RatingStage.rate_batch``
   on their parsed columns: classification, pricing and stitching as if they had come in one batch);
3. it writes back the stored legs whose figures changed — database first, then the lake
   (``lake.replace_calls``: same ``call_id`` replaced, partition rewritten whole) — and returns the batch
   with its joined legs' new figures.

Idempotent: re-importing the same files finds the same legs (a batch's own stored copies are replaced by
its fresh rows) and computes the same shares, so nothing changes; the result does not depend on which
leg came first, because stitching does not (``chains.stitch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from analytics.rating.chains import link, marked
from analytics.rating.stage import RatingStage
from warehouse import lake
from warehouse.database import Database
from warehouse.schema import PARSED_SCHEMA

#: The chain columns a connector that marks every leg of a multi-leg scenario declares (CUCM): with them,
#: only the marked legs are looked up (``join_stored(marks_features=True)``).
MARKS = frozenset({"split_feature", "leg_feature"})
#: A leg's keys: the vendor's group and leg ids, and ``chain_id`` — Asterisk (``linkedid``), FreeSWITCH and
#: IP Office (Call ID) give their group there, not in ``call_group``, and a stored leg's ``chain_id`` is its
#: chain's root key, so a late leg of the same ``linkedid`` finds its chain through it.
KEY_COLUMNS = ("call_group", "leg_id", "peer_leg_id", "trunk_leg_id", "chain_id")
#: Columns of the stored legs the lookup filters on (``trunk_leg_id`` is always one of the two leg ids), and
#: ``chain_id`` — only for a batch with legs that group by it (``call_group`` empty): it has no index of its
#: own, so the query's ``pbx`` + ``start_utc`` window bounds that scan, and a CUCM batch does not pay it.
INDEXED = ("call_group", "leg_id", "peer_leg_id")
MAX_ROUNDS = 4  # a chain reached through more hops than this is not followed further
_CHUNK = 4000  # keys per IN list: 4 lists stay under SQLite's 32,766 bound parameters (PostgreSQL: 65,535)
_COMPARED = ("chain_id", "leg_role", "carrier_call_id", "actual_cost", "reference_cost", "savings", "billable_s",
             "rating_status", "call_type", "carrier", "plan", "prefix", "band", "tariff_version")


@dataclass(frozen=True)
class Joined:
    """The batch to save, and how many stored legs were re-priced in place."""

    calls: pa.Table
    repriced: int


def join_stored(stage: RatingStage, rated: pa.Table, store: object, *, marks_features: bool = False) -> Joined:
    """*rated* (a batch from ``stage.rate_batch``) with the stored legs of its chains stitched in; the stored
    legs whose figures changed are rewritten in *store*'s database (``store.db``) and lake (``store.lake_root``).

    *marks_features*: the connector marks every leg of a multi-leg scenario (it declares ``split_feature``
    and ``leg_feature``, as CUCM does), so only the marked legs are looked up; otherwise every leg is.
    A store without a database (the lake-only benchmark store) keeps no open chains: the batch is returned."""
    db: Database | None = getattr(store, "db", None)
    if rated.num_rows == 0 or not stage.chains.enabled or db is None:
        return Joined(rated, 0)
    lake_root: Path | str = store.lake_root
    stored = stored_legs(db, _open_capable(rated) if marks_features else rated, stage.chains.window_hours)
    if stored.num_rows == 0:
        return Joined(rated, 0)
    # the batch's own legs stored before (a re-import) are the batch's, not stored legs to join
    stored = stored.filter(pc.invert(pc.is_in(stored["call_id"], value_set=rated["call_id"])))
    if stored.num_rows == 0:
        return Joined(rated, 0)
    stored = stored.select(rated.column_names).cast(rated.schema)
    union = pa.concat_tables([rated, stored])
    only = marked(union) if marks_features else None
    labels = link(_with_group(union), only)
    touched = np.isin(labels, labels[rated.num_rows:])
    new_rows = np.flatnonzero(touched[:rated.num_rows])
    if not new_rows.size:
        return Joined(rated, 0)
    together = pa.concat_tables([rated.take(pa.array(new_rows)), stored])
    fresh = stage.rate_batch(together.select(PARSED_SCHEMA.names), marks_features=marks_features)
    k = len(new_rows)
    fresh_stored = fresh.slice(k)
    changed = ~_same(stored, fresh_stored)
    if changed.any():
        rewrite = fresh_stored.filter(pa.array(changed))
        db.upsert_calls(rewrite)  # database first: the lake is what a later comparison reads
        lake.replace_calls(lake_root, rewrite)
    out = _replace_rows(rated, new_rows, fresh.slice(0, k))
    return Joined(out, int(changed.sum()))


def stored_legs(db: Database, batch: pa.Table, window_hours: int) -> pa.Table:
    """Stored legs (``calls_schema``) linked to *batch* through shared keys, transitively, per PBX."""
    found: list[pd.DataFrame] = []
    seen: set[str] = set()
    for pbx in pc.unique(batch["pbx"]).to_pylist():
        part = batch.filter(pc.equal(batch["pbx"], pbx))
        start = pc.min(part["start_utc"]).as_py()
        end = pc.max(pc.coalesce(part["end_utc"], part["start_utc"])).as_py()
        window = timedelta(hours=window_hours)
        lo, hi = start - window, end + window
        keys = _keys(part)
        by_chain = pc.any(pc.and_(pc.is_null(part["call_group"]), pc.is_valid(part["chain_id"]))).as_py() or False
        asked: set[str] = set()
        for _ in range(MAX_ROUNDS):
            keys -= asked
            if not keys:
                break
            asked |= keys
            frame = _query(db, pbx, lo, hi, keys, by_chain)
            frame = frame[~frame["call_id"].isin(seen)]
            if frame.empty:
                break
            seen.update(frame["call_id"])
            found.append(frame)
            keys = {str(v) for c in KEY_COLUMNS for v in frame[c].dropna()}
    if not found:
        return db.schema.empty_table()
    return _to_arrow(pd.concat(found, ignore_index=True), db.schema)


def _open_capable(batch: pa.Table) -> pa.Table:
    """The legs of *batch* that can belong to a chain begun or continued in another batch, for a format that
    marks features (``chains.marked``): looking a plain call up would only cost a query."""
    return batch.filter(pa.array(marked(batch)))


def _keys(batch: pa.Table) -> set[str]:
    """Every distinct key value of the batch (one Python string per distinct value, not per row)."""
    out: set[str] = set()
    for name in KEY_COLUMNS:
        col = batch[name]
        if col.null_count < len(col):
            out.update(pc.unique(col.drop_null()).to_pylist())
    return out


def _query(db: Database, pbx: str, lo: datetime, hi: datetime, keys: set[str], by_chain: bool) -> pd.DataFrame:
    """Stored legs of *pbx* started in [lo, hi] with one of *keys* in an indexed key column (or, *by_chain*,
    in ``chain_id``)."""
    columns = (*INDEXED, "chain_id") if by_chain else INDEXED
    c = db.calls.c
    frames = []
    ordered = sorted(keys)
    with db.engine.connect() as conn:
        for a in range(0, len(ordered), _CHUNK):
            chunk = ordered[a:a + _CHUNK]
            query = sa.select(db.calls).where(
                c.pbx == pbx, c.start_utc >= lo.astimezone(timezone.utc), c.start_utc <= hi.astimezone(timezone.utc),
                sa.or_(*[c[name].in_(chunk) for name in columns]))
            result = conn.execute(query)
            frames.append(pd.DataFrame.from_records(result.all(), columns=list(result.keys())))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[f.name for f in db.schema])
    return frame.drop_duplicates("call_id")


def _to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    arrays = []
    for f in schema:
        values = frame[f.name].tolist()
        values = [None if (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT) else v for v in values]
        if pa.types.is_timestamp(f.type):
            values = [None if v is None else pd.Timestamp(v).tz_localize("UTC") if pd.Timestamp(v).tzinfo is None
                      else pd.Timestamp(v) for v in values]
        arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _with_group(table: pa.Table) -> pa.Table:
    group = pc.coalesce(table["call_group"], table["chain_id"])
    return table.set_column(table.schema.get_field_index("call_group"), "call_group", group)


def differs(old: pa.Table, new: pa.Table) -> np.ndarray:
    """Rows of *new* (the same calls as *old*, same order) whose chain or figures differ from *old*'s."""
    return ~_same(old, new)


def _same(old: pa.Table, new: pa.Table) -> np.ndarray:
    same = np.ones(old.num_rows, bool)
    for name in _COMPARED:
        a, b = old[name], new[name]
        eq = pc.fill_null(pc.equal(a, b), False)
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        same &= np.asarray(pc.or_(eq, both_null).to_numpy(zero_copy_only=False), bool)
    return same


def _replace_rows(table: pa.Table, rows: np.ndarray, values: pa.Table) -> pa.Table:
    """*table* with *values* in place of its *rows*, in the same row order (callers count rows by position)."""
    pick = np.arange(table.num_rows)
    pick[rows] = table.num_rows + np.arange(len(rows))
    both = pa.concat_tables([table, values.select(table.column_names).cast(table.schema)])
    return both.take(pa.array(pick))


def stored_chain(db: Database, leg: pa.Table, window_hours: int) -> pa.Table:
    """The stored legs of *leg*'s chain (*leg*: one stored row, ``calls_schema``), itself included."""
    others = stored_legs(db, leg, window_hours)
    others = others.filter(pc.invert(pc.is_in(others["call_id"], value_set=leg["call_id"])))
    return pa.concat_tables([leg.cast(others.schema), others]) if others.num_rows else leg
