"""Re-rate stored calls after a tariff, config or directory change (``callcost rerate --from --to``).

Why a module of its own: the collector prices each call once, with what was in force when it arrived.
When a tariff row was missing (calls stored ``unrated``), a rate was wrong, or the directory moved an
extension to another department, the stored figures must be recomputed from the calls' *parsed*
columns with today's config — the same ``RatingStage`` the collector runs, so a re-rated call is
exactly what a fresh import would store.

How, by UTC date partitions (a few days per batch, up to ``CHUNK_CALLS`` calls: bounded memory,
progress per day):

1. read the day's calls from the lake, plus any call the SQL database holds for that day that the
   lake lacks (a crash between the two writes), so both stores end up with the same calls;
2. classify, attribute and price them again (``RatingStage.rate_batch``, vectorised);
3. compare with what is stored, column by column (``rated_at`` aside): only calls whose figures,
   classification or tariff row changed — or that one of the two stores lacks — are written;
4. upsert them in the database first, then replace them in the lake (``lake.replace_calls``: the
   partition is rewritten atomically).  The lake is the comparison base, so if the process dies
   between the two writes the next run sees the difference again and finishes the job.

Idempotent: a second run with the same config finds nothing changed and writes nothing (not even
``rated_at``).  Every rated call records the ``tariff_version`` (and ``ref_tariff_version``) of the
row that priced it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import sqlalchemy as sa

from warehouse import lake
from warehouse.config import Enterprise
from warehouse.database import Database
from warehouse.errors import CallcostError
from warehouse.money import decimal128_to_minor
from analytics.rating.stage import RatingStage
from warehouse.schema import PARSED_SCHEMA, calls_schema

__all__ = ["MONEY_COLUMNS", "RerateError", "RerateResult", "Totals", "days_with_calls", "rerate"]

MONEY_COLUMNS = ("actual_cost", "reference_cost", "savings")
#: Calls priced per batch: days are gathered until this many (the pipeline has a fixed cost per batch).
CHUNK_CALLS = 200_000
#: Columns that may differ between two ratings of the same call without the call having changed.
_VOLATILE = {"rated_at"}
_UTC = timezone.utc


class RerateError(CallcostError, ValueError):
    """The date range cannot be re-rated as asked (``--from`` after ``--to``)."""


@dataclass
class Totals:
    """Exact figures of a set of stored calls: money of *rated* calls in minor units, unrated counted apart."""

    calls: int = 0
    unrated: int = 0
    minor: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MONEY_COLUMNS, 0))

    def add(self, table: pa.Table) -> None:
        self.calls += table.num_rows
        rated = pc.fill_null(pc.equal(table.column("rating_status"), "rated"), False).to_numpy(zero_copy_only=False)
        self.unrated += int((~rated).sum())
        for col in MONEY_COLUMNS:
            values, valid = decimal128_to_minor(table.column(col))
            self.minor[col] += int(values[valid & rated].sum())

    def money(self, scale: int) -> dict[str, Decimal]:
        """The three money totals as exact ``Decimal`` at the currency's *scale*."""
        return {c: Decimal(v).scaleb(-scale) for c, v in self.minor.items()}


@dataclass
class RerateResult:
    """What one ``rerate`` run did: counts, and exact totals of the range before and after."""

    start: date
    end: date
    scale: int
    days: int = 0  # date partitions that hold calls
    calls: int = 0  # calls read and priced again
    changed: int = 0  # calls whose stored figures, classification or tariff row changed
    written: int = 0  # calls written (changed, or missing from one of the two stores)
    newly_priced: int = 0  # unrated before, rated now
    newly_unrated: int = 0  # rated before, unrated now (a tariff row removed, a version ended)
    repaired: int = 0  # calls one store held and the other lacked
    outside: int = 0  # legs outside the range rewritten: their chain straddles its edge (re-rated whole)
    before: Totals = field(default_factory=Totals)
    after: Totals = field(default_factory=Totals)
    tariff_versions: Counter = field(default_factory=Counter)  # (carrier or "reference", version) → calls

    def summary_lines(self, currency: str = "") -> list[str]:
        """The run in a few lines of text, for the CLI and logs."""
        unit = f" {currency}" if currency else ""
        b, a = self.before.money(self.scale), self.after.money(self.scale)
        lines = [
            f"{self.start} to {self.end}: {self.calls:,} calls in {self.days} day(s) re-rated, "
            f"{self.changed:,} changed, {self.written:,} written",
            f"previously unrated now priced: {self.newly_priced:,}; newly unrated: {self.newly_unrated:,}; "
            f"unrated before {self.before.unrated:,}, after {self.after.unrated:,}",
        ]
        for col in MONEY_COLUMNS:
            lines.append(f"{col.replace('_', ' ')}: {b[col]}{unit} → {a[col]}{unit} "
                         f"({'+' if a[col] >= b[col] else ''}{a[col] - b[col]})")
        if self.outside:
            lines.append(f"{self.outside:,} leg(s) just outside the range were re-rated with their chains "
                         "(a conversation is priced whole)")
        if self.repaired:
            lines.append(f"{self.repaired:,} call(s) were missing from the lake or the database and were written to both")
        if self.tariff_versions:
            used = ", ".join(f"{who} {version}: {n:,}" for (who, version), n in sorted(self.tariff_versions.items()))
            lines.append(f"tariff versions used: {used}")
        return lines


def rerate(ent: Enterprise, start: date, end: date, *, database: Database | None = None,
           stage: RatingStage | None = None, progress: Callable[[date, int], None] | None = None) -> RerateResult:
    """Re-price the stored calls whose UTC start date is in [*start*, *end*] with *ent*'s current config.

    *database* defaults to the config's ``[storage] database``; *progress* is called once per date
    partition with the day and its number of calls.  Returns what changed and the totals before/after.
    """
    if end < start:
        raise RerateError(f"--from {start} is after --to {end}")
    db = database if database is not None else Database(ent.storage.database, ent.scale)
    own_db = database is None
    try:
        db.create_schema()
        stage = stage or RatingStage(ent)
        result = RerateResult(start=start, end=end, scale=ent.scale)
        chunk: list[_Stored] = []
        days = days_with_calls(ent, db, start, end)
        for i, day in enumerate(days):
            chunk.append(_load_day(ent, db, day))
            if i + 1 == len(days) or sum(d.table.num_rows for d in chunk) >= CHUNK_CALLS:
                _rerate_chunk(ent, db, stage, chunk, result)
                for done in chunk:
                    if progress is not None:
                        progress(done.day, done.table.num_rows)
                chunk = []
        return result
    finally:
        if own_db:
            db.close()


def days_with_calls(ent: Enterprise, db: Database, start: date, end: date) -> list[date]:
    """Days of the range with a lake partition or with calls in the database."""
    days = {d for d, _ in lake.partitions(ent.storage.lake) if start <= d <= end}
    lo, hi = _bounds(start, end)
    # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS…'; PostgreSQL a timestamptz: the UTC date either way
    day = ("substr(start_utc, 1, 10)" if db.dialect == "sqlite"
           else "to_char(start_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
    query = (sa.select(sa.literal_column(day).label("day")).select_from(db.calls)
             .where(db.calls.c.start_utc >= lo, db.calls.c.start_utc < hi).distinct())
    with db.engine.connect() as conn:
        days.update(date.fromisoformat(d) for (d,) in conn.execute(query))
    return sorted(days)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), _UTC), datetime.combine(end + timedelta(days=1), time(), _UTC)


def _db_ids(db: Database, day: date) -> pa.Array:
    lo, hi = _bounds(day, day)
    query = sa.select(db.calls.c.call_id).where(db.calls.c.start_utc >= lo, db.calls.c.start_utc < hi)
    with db.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(query)]
    return pa.array(ids, pa.string())


def _db_only_calls(db: Database, day: date, ids: pa.Array, schema: pa.Schema) -> pa.Table:
    """The day's database calls whose ids are in *ids*, in the lake's schema."""
    frame = db.read_calls(day, day)
    frame = frame[frame["call_id"].isin(ids.to_pylist())]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in schema], schema=schema)


@dataclass
class _Stored:
    """One day's stored calls, and which of the two stores holds each."""

    day: date
    table: pa.Table
    in_lake: np.ndarray
    in_database: np.ndarray


def _load_day(ent: Enterprise, db: Database, day: date) -> _Stored:
    schema = calls_schema(ent.scale)
    stored = lake.read_calls(ent.storage.lake, day, day, scale=ent.scale)
    stored = lake.unique_calls(pa.Table.from_arrays([stored.column(f.name).cast(f.type) for f in schema],
                                                    schema=schema), keep="first")
    in_db = _db_ids(db, day)
    in_lake = np.ones(stored.num_rows, dtype=bool)
    if len(in_db):
        extra = in_db.filter(pc.invert(pc.is_in(in_db, value_set=stored.column("call_id"))))
        if len(extra):
            stored = pa.concat_tables([stored, _db_only_calls(db, day, extra, schema)])
            in_lake = np.concatenate([in_lake, np.zeros(stored.num_rows - len(in_lake), dtype=bool)])
    in_database = pc.is_in(stored.column("call_id"), value_set=in_db).to_numpy(zero_copy_only=False)
    return _Stored(day, stored, in_lake, in_database)


def _rerate_chunk(ent: Enterprise, db: Database, stage: RatingStage, days: list[_Stored],
                  result: RerateResult) -> None:
    """Price several days' calls in one batch (the pipeline has a fixed cost per batch), write what changed."""
    stored = pa.concat_tables([d.table for d in days])
    in_lake = np.concatenate([d.in_lake for d in days])
    in_database = np.concatenate([d.in_database for d in days])
    result.days += len(days)
    if stored.num_rows == 0:
        return
    # a chain with legs on days outside this chunk is re-rated whole: its carrier calls are priced once
    # from every leg, and the outside legs' shares are rewritten with the rest
    outside = _chain_legs_outside(ent, stage, [d.day for d in days], stored)
    k = stored.num_rows
    fresh_all = stage.rate_batch(pa.concat_tables([stored, outside]).select(PARSED_SCHEMA.names))
    fresh, fresh_outside = fresh_all.slice(0, k), fresh_all.slice(k)

    changed = ~_same_rows(stored, fresh)
    write = changed | ~in_lake | ~in_database
    outside_changed = ~_same_rows(outside, fresh_outside)
    rows = pa.concat_tables([fresh.filter(pa.array(changed)), stored.filter(pa.array(write & ~changed)),
                             fresh_outside.filter(pa.array(outside_changed))])
    if rows.num_rows:
        db.upsert_calls(rows)  # database first: the lake is what the next run compares with
        lake.replace_calls(ent.storage.lake, rows)

    was_rated = _is_rated(stored)
    now_rated = _is_rated(fresh)
    result.calls += stored.num_rows
    result.changed += int(changed.sum())
    result.written += rows.num_rows
    result.repaired += int((~in_lake | ~in_database).sum())
    result.outside += int(outside_changed.sum())
    result.newly_priced += int((~was_rated & now_rated).sum())
    result.newly_unrated += int((was_rated & ~now_rated).sum())
    result.before.add(stored)
    result.after.add(fresh)
    _count_versions(fresh, result.tariff_versions)


def _chain_legs_outside(ent: Enterprise, stage: RatingStage, days: list[date], stored: pa.Table) -> pa.Table:
    """The stored legs, on days around *days* (the chains' open window) but not among *stored*, of the chains
    that share a carrier call or have more than one leg in *stored* (read from the lake)."""
    schema = stored.schema
    in_chain = pc.or_(pc.is_valid(stored["carrier_call_id"]),
                      pc.not_equal(pc.fill_null(stored["leg_role"], "original"), "original"))
    chains = pc.unique(stored["chain_id"].filter(in_chain).drop_null())
    if not stage.chains.enabled or not len(chains):
        return schema.empty_table()
    span = timedelta(hours=stage.chains.window_hours) + timedelta(days=1)
    near = lake.read_calls(ent.storage.lake, min(days) - span, max(days) + span,
                           filters=ds.field("chain_id").isin(chains.to_pylist()), scale=ent.scale)
    near = pa.Table.from_arrays([near.column(f.name).cast(f.type) for f in schema], schema=schema)
    near = near.filter(pc.invert(pc.is_in(near["call_id"], value_set=stored["call_id"])))
    return lake.unique_calls(near, keep="first")


def _is_rated(table: pa.Table) -> np.ndarray:
    return pc.fill_null(pc.equal(table.column("rating_status"), "rated"), False).to_numpy(zero_copy_only=False)


def _same_rows(a: pa.Table, b: pa.Table) -> np.ndarray:
    """Row-wise equality of two tables of one schema, nulls equal to nulls, volatile columns ignored."""
    same = np.ones(a.num_rows, dtype=bool)
    for name in a.column_names:
        if name in _VOLATILE:
            continue
        x, y = a.column(name), b.column(name)
        eq = pc.fill_null(pc.equal(x, y), False)
        both_null = pc.and_(pc.is_null(x), pc.is_null(y))
        same &= pc.or_(eq, both_null).to_numpy(zero_copy_only=False)
    return same


def _count_versions(table: pa.Table, counter: Counter) -> None:
    """Calls per (carrier, tariff_version) and per reference version, among the rated calls."""
    rated = table.filter(pc.equal(table.column("rating_status"), "rated"))
    if rated.num_rows == 0:
        return
    carrier = pc.fill_null(rated.column("carrier"), "(none)")
    pairs = [("carrier", carrier, "tariff_version"), ("reference", None, "ref_tariff_version")]
    for who, names, col in pairs:
        versions = rated.column(col)
        keep = pc.is_valid(versions)
        keys = pa.table({"who": names if names is not None else pa.array(["reference"] * rated.num_rows),
                         "version": versions}).filter(keep)
        if keys.num_rows == 0:
            continue
        counts = keys.group_by(["who", "version"]).aggregate([("version", "count")])
        for w, v, n in zip(counts["who"].to_pylist(), counts["version"].to_pylist(), counts["version_count"].to_pylist()):
            counter[(w, v)] += n
