"""The SQL database (SQLite or PostgreSQL through SQLAlchemy Core): rated calls.

Table: ``calls`` (every column of ``calls_schema(scale)``, ``call_id`` the primary key).  The ingest
account and the quarantine beside it are :mod:`warehouse.ingest`'s (created by ``Store``).

Writes are idempotent on ``call_id`` (``INSERT … ON CONFLICT (call_id) DO NOTHING`` on both
backends), one transaction per call, and go the fastest way each backend offers
(``benchmarks/bench_storage.py``; figures in ``docs/dev/storage-performance.md``):

* PostgreSQL: the batch is rendered to CSV by Arrow (vectorised), ``COPY``-ed into a temp table and
  moved with one ``INSERT … SELECT … ON CONFLICT``;
* SQLite: the batch is converted column-wise by Arrow to the values SQLite stores (money as integer
  minor units, timestamps as text), bulk-loaded by Arrow ADBC (``adbc-driver-sqlite``) into a scratch
  file (:class:`_SqlitePreload`) and moved with one ``INSERT … SELECT … ON CONFLICT`` in the caller's
  transaction — less CPU than binding Python tuples.  Without ADBC (or for an in-memory
  database) one ``executemany`` of plain tuples, the values prepared column-wise by Arrow/numpy.
  Both store exactly the same rows (``tests/test_database_fast_insert.py``).

Money is exact end to end.  PostgreSQL stores ``NUMERIC(18, scale)``.  SQLite has no decimal type — a
``NUMERIC`` column there holds a float — so on SQLite a money column holds **integer minor units**
(cents for USD: ``actual_cost = 1234`` means 12.34): exact, summable and sortable in SQL.  Reading
through :class:`Database` gives :class:`decimal.Decimal` on both backends.  Timestamps are UTC:
``timestamptz`` on PostgreSQL, ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC text on SQLite.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
import time as time_
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import TypeDecorator

from warehouse.errors import StorageError
from warehouse.lake import unique_calls
from warehouse.schema import calls_schema, conform
from warehouse.sqlite_checkpoint import BACKSTOP_PAGES, WalCheckpointer

__all__ = ["Database", "Money", "PreloadedCalls", "UtcDateTime", "is_outage"]

log = logging.getLogger("callcost.warehouse.database")

UTC = timezone.utc
#: Rows per round of conversion and transfer: bounds memory, not transactions (one per call).
CHUNK = 50_000
#: Preload files :meth:`Database.preload_calls` may hold at once (batch n being moved, batch n+1 loaded).
SPARE_PRELOADS = 2


class PreloadedCalls:
    """A batch bulk-loaded into a preload file by :meth:`Database.preload_calls`, waiting for ``insert_calls``.

    Holds its preload file until ``insert_calls`` uses it up or :meth:`release` (safe to call twice) gives
    it back.  Whoever preloaded a batch releases it once it is done with it, inserted or not (spooled
    while the database is down, or a failed save): the collector's store loop and ``import_files``.
    """

    def __init__(self, db: Database, source: pa.Table, table: pa.Table, preload: _SqlitePreload,
                 names: list[str]) -> None:
        self.db, self.source, self.table, self.preload, self.names = db, source, table, preload, names

    def release(self) -> None:
        preload, self.preload = self.preload, None
        if preload is not None:
            self.db._give_back(preload)


_SQLITE_TS = "%Y-%m-%d %H:%M:%S.000000"  # SQLAlchemy's own SQLite DATETIME text, so Core reads it back


class Money(TypeDecorator):
    """``NUMERIC(18, scale)`` holding :class:`~decimal.Decimal`; integer minor units on SQLite (see module doc)."""

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__(precision=18, scale=scale, asdecimal=True)
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(18, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return to_minor(Decimal(value), self.scale)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value)


def to_minor(value: Decimal, scale: int) -> int:
    """Exact minor units of *value*; refuses sub-minor fractions rather than round them away."""
    scaled = value.scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise StorageError(f"money value {value} has more than {scale} decimals")
    return int(scaled)


class UtcDateTime(TypeDecorator):
    """A timezone-aware timestamp that always comes back as UTC (SQLite keeps no zone, so we restore it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise StorageError(f"timestamp {value} has no timezone (expected UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sql_type(t: pa.DataType) -> sa.types.TypeEngine:
    if pa.types.is_decimal(t):
        return Money(t.scale)
    if pa.types.is_timestamp(t):
        return UtcDateTime()
    if pa.types.is_integer(t):
        return sa.Integer() if t.bit_width <= 32 else sa.BigInteger()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return sa.Text()
    raise StorageError(f"no SQL type for Arrow type {t}")


#: An auto-increment id on both backends (SQLite only auto-increments a plain INTEGER primary key).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def build_metadata(scale: int) -> sa.MetaData:
    """The ``calls`` table for a currency of *scale* decimals."""
    md = sa.MetaData()
    schema = calls_schema(scale)
    sa.Table("calls", md, *[
        sa.Column(f.name, _sql_type(f.type), primary_key=f.name == "call_id",
                  nullable=f.nullable and f.name != "call_id")
        for f in schema
    ], sa.Index("ix_calls_start_utc", "start_utc"),
       # a late leg of a call chain finds the stored legs it joins by these (analytics.rating.chains_store)
       *[sa.Index(f"ix_calls_{name}", name) for name in ("call_group", "leg_id", "peer_leg_id")])
    return md


class Database:
    """One enterprise's SQL database.  ``Database("sqlite:///callcost.db", scale=2)``.

    *pg_copy* picks the PostgreSQL write path (``COPY`` when true, ``executemany`` otherwise) and
    *sqlite_adbc* the SQLite one (ADBC bulk load when true and installed, ``executemany`` otherwise);
    they exist so the benchmark and the tests can compare the paths — leave them at the default.
    """

    def __init__(self, url: str, scale: int, *, pg_copy: bool = True, sqlite_adbc: bool = True) -> None:
        self.url = url
        self.scale = scale
        self.pg_copy = pg_copy
        self.sqlite_adbc = sqlite_adbc
        self._preload: _SqlitePreload | None = None
        self._preload_lock = threading.Lock()  # one batch at a time goes through the preload
        self._checkpointer: WalCheckpointer | None = None  # started by the first bulk write (SQLite)
        self._checkpointer_lock = threading.Lock()
        self._spares: list[_SqlitePreload] = []  # preloads for preload_calls, each held by one batch until inserted
        self._spare_free: list[_SqlitePreload] = []
        self._spare_lock = threading.Lock()
        self._spare_cond = threading.Condition(self._spare_lock)
        self._spares_closed = False
        self.metadata = build_metadata(scale)
        self.calls = self.metadata.tables["calls"]
        self.schema = calls_schema(scale)
        try:
            backend = sa.engine.make_url(url).get_backend_name()
            if backend not in ("sqlite", "postgresql"):
                raise StorageError(f"database '{url}': only sqlite:/// and postgresql+psycopg:// URLs are supported")
            self.engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StorageError(f"cannot open database '{url}': {exc}") from exc
        if backend == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        # Pooled connections (and the SQLite preload) are closed when the Database goes away, not left to the GC.
        self._finalizer = weakref.finalize(self, _close, self.engine, self.__dict__)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables that do not exist yet (safe to call on every start)."""
        with self._writing("create the schema") as conn:
            self.metadata.create_all(conn)

    # --- calls -------------------------------------------------------------------------------------

    def insert_calls(self, table: pa.Table, preloaded: PreloadedCalls | None = None) -> int:
        """Store new calls; calls whose ``call_id`` is already stored are skipped.  Returns rows inserted.

        *preloaded*: what :meth:`preload_calls` returned for this same *table* — the bulk load is then done
        and only the move into ``calls`` remains (the preload is released either way).
        """
        if preloaded is not None:
            try:
                scratch = preloaded.preload
                if scratch is not None and preloaded.source is table and self._preload_ready(scratch):
                    if preloaded.table.num_rows == 0:
                        return 0
                    with self._writing("insert calls") as conn:
                        return self._from_preload(conn, preloaded.names, False, scratch)
            finally:
                preloaded.release()
        return self._write_calls(table, update=False)

    def preload_calls(self, table: pa.Table, wait_s: float = 0.0) -> PreloadedCalls | None:
        """Bulk-load *table* ahead of :meth:`insert_calls`, on the caller's thread (SQLite only).

        Why: the ADBC load is a third of a SQLite insert, and the collector's store thread is the one
        thread every call passes through; its rating thread preloads batch *n+1* while the store thread
        moves batch *n*.  Two spare preload files alternate; when both hold batches not yet inserted (after
        waiting up to *wait_s* for one), or this is not a file SQLite database with ADBC, None
        (``insert_calls`` then does everything).
        """
        if self.dialect != "sqlite" or not self.sqlite_adbc or self.engine.url.database in (None, "", ":memory:"):
            return None
        preload = self._take_spare(wait_s)
        if preload is None:
            return None
        preloaded = PreloadedCalls(self, table, unique_calls(self._conform(table), keep="first"), preload, [])
        try:
            if preloaded.table.num_rows:
                preloaded.names = preload.load(self._sqlite_values(chunk) for chunk in _chunks(preloaded.table))
            return preloaded
        except Exception as exc:  # noqa: BLE001 — an optimisation only: insert_calls will do it all
            log.warning("SQLite bulk load (ADBC) ahead of the insert failed; the insert loads it itself: %s", exc)
            preloaded.release()
            return None

    def _take_spare(self, wait_s: float) -> _SqlitePreload | None:
        """A free spare preload (opening one while fewer than SPARE_PRELOADS exist), waiting up to *wait_s*."""
        deadline = time_.monotonic() + wait_s
        with self._spare_cond:
            while not self._spare_free and len(self._spares) >= SPARE_PRELOADS and not self._spares_closed:
                remaining = deadline - time_.monotonic()
                if remaining <= 0:
                    return None
                self._spare_cond.wait(remaining)
            if self._spares_closed:
                return None
            if self._spare_free:
                return self._spare_free.pop()
            try:
                preload = _SqlitePreload.open(self.schema.names,
                                              schema=f"{_SqlitePreload.SCHEMA}_{len(self._spares) + 1}")
            except Exception as exc:  # noqa: BLE001
                log.warning("cannot open a SQLite preload file: %s", exc)
                return None
            if preload is not None:
                self._spares.append(preload)
            return preload

    def _give_back(self, preload: _SqlitePreload) -> None:
        with self._spare_cond:
            if preload in self._spares and preload not in self._spare_free:
                self._spare_free.append(preload)
                self._spare_cond.notify()

    def _preload_ready(self, preload: _SqlitePreload) -> bool:
        with self._spare_cond:
            return preload in self._spares and preload not in self._spare_free

    def upsert_calls(self, table: pa.Table) -> int:
        """Store calls after re-rating: a stored call with the same ``call_id`` is overwritten.  Returns rows written."""
        return self._write_calls(table, update=True)

    def count_calls(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.calls)).scalar_one())

    def money_totals(self, columns: tuple[str, ...] = ("actual_cost", "reference_cost", "savings")) -> dict[str, Decimal]:
        """Exact ``SUM`` of money columns over all stored calls, as Decimal (0 for an empty table).

        Summed in SQL on both backends (integers on SQLite, NUMERIC on PostgreSQL), so reconciling
        the database with the lake needs no row transfer and no float.
        """
        money = [c for c in columns if isinstance(self.calls.c[c].type, Money)]
        if money != list(columns):
            raise StorageError(f"not money columns: {sorted(set(columns) - set(money))}")
        query = sa.select(*[sa.func.coalesce(sa.func.sum(self.calls.c[c].expression), 0) for c in columns])
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        quantum = Decimal(1).scaleb(-self.scale)  # SUM keeps the column's Money type: already Decimal here
        return {c: Decimal(v).quantize(quantum) for c, v in zip(columns, row)}

    def read_calls(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Calls whose ``start_utc`` falls on UTC dates *start*..*end* (inclusive; ``None`` = open).

        Money columns hold :class:`~decimal.Decimal` (object dtype), timestamps are ``datetime64[UTC]``,
        integer columns are nullable ``Int32``, text columns pandas' ``str`` dtype.
        """
        query = sa.select(self.calls).order_by(self.calls.c.start_utc, self.calls.c.call_id)
        if start is not None:
            query = query.where(self.calls.c.start_utc >= datetime.combine(start, time(), UTC))
        if end is not None:
            query = query.where(self.calls.c.start_utc < datetime.combine(end + timedelta(days=1), time(), UTC))
        with self.engine.connect() as conn:
            result = conn.execute(query)
            frame = pd.DataFrame.from_records(result.all(), columns=list(result.keys()))
        for f in self.schema:
            if pa.types.is_timestamp(f.type):
                frame[f.name] = pd.to_datetime(frame[f.name], utc=True)
            elif pa.types.is_integer(f.type):
                frame[f.name] = frame[f.name].astype("Int32")
            elif pa.types.is_decimal(f.type):
                frame[f.name] = frame[f.name].astype(object)
            else:  # all-null columns would otherwise come back as object
                frame[f.name] = frame[f.name].astype(pd.StringDtype(na_value=np.nan))
        return frame

    # --- internals ---------------------------------------------------------------------------------

    def _write_calls(self, table: pa.Table, *, update: bool) -> int:
        table = self._conform(table)
        table = unique_calls(table, keep="last" if update else "first")
        if table.num_rows == 0:
            return 0
        what = "upsert calls" if update else "insert calls"
        if self.dialect == "sqlite":
            with self._preload_lock:
                names = self._preloaded(table)
                if names is not None:
                    with self._writing(what) as conn:
                        return self._from_preload(conn, names, update)
        with self._writing(what) as conn:
            if self.dialect == "postgresql" and self.pg_copy:
                return self._pg_copy(conn, table, update)
            return self._executemany(conn, table, update)

    def _preloaded(self, table: pa.Table) -> list[str] | None:
        """Bulk-load *table* into the SQLite preload; the columns preloaded, or None to take ``executemany``.

        None when ADBC is off or not installed, for an in-memory database (no file for the preload to sit
        beside, and such databases are small), or when the preload fails (logged; the batch still goes in).
        The caller holds ``_preload_lock`` until the rows are moved.
        """
        if not self.sqlite_adbc or self.engine.url.database in (None, "", ":memory:"):
            return None
        try:
            if self._preload is None:
                self._preload = _SqlitePreload.open(self.schema.names)
                if self._preload is None:
                    self.sqlite_adbc = False  # ADBC not installed: do not look again
                    return None
            return self._preload.load(self._sqlite_values(chunk) for chunk in _chunks(table))
        except Exception as exc:  # noqa: BLE001 — an optimisation only: a failing preload must not stop the batch
            log.warning("SQLite bulk load (ADBC) failed, storing with executemany instead: %s", exc)
            if self._preload is not None:
                self._preload.close()
            self._preload, self.sqlite_adbc = None, False
            return None

    def _sqlite_values(self, chunk: pa.Table) -> pa.Table:
        """*chunk* as the values SQLite stores, column by column (what ``_driver_values`` gives, as Arrow).

        Columns null throughout the chunk are left out, as ``_executemany`` leaves them to their NULL default.
        """
        columns: dict[str, pa.Array | pa.ChunkedArray] = {}
        for f in self.schema:
            col = chunk.column(f.name)
            if f.name != "call_id" and col.null_count == chunk.num_rows:
                continue
            if pa.types.is_decimal(f.type):
                columns[f.name] = _unscaled_array(col.combine_chunks())
            elif pa.types.is_timestamp(f.type):
                columns[f.name] = _sqlite_timestamps(col)
            else:
                columns[f.name] = col
        return pa.table(columns)

    def _from_preload(self, conn: Connection, names: list[str], update: bool,
                      preload: _SqlitePreload | None = None) -> int:
        """Move the preloaded calls into ``calls`` in the caller's transaction: one atomic, idempotent write."""
        preload = preload or self._preload
        assert preload is not None
        record = conn.connection  # the pooled DBAPI connection: ATTACH holds for its lifetime
        if record.info.get(f"callcost_preload:{preload.schema}") != preload.path:
            # Outside any transaction still: pysqlite begins one only before the first INSERT/UPDATE/DELETE.
            if record.info.get(f"callcost_preload:{preload.schema}") is not None:
                conn.exec_driver_sql(f"DETACH DATABASE {preload.schema}")
            conn.exec_driver_sql(f"ATTACH DATABASE ? AS {preload.schema}", (preload.path,))
            record.info[f"callcost_preload:{preload.schema}"] = preload.path
            self._checkpoint_in_background(conn)
        cols = self._quoted(names)
        sql = (f"INSERT INTO main.calls ({cols}) SELECT {cols} FROM {preload.schema}.{_SqlitePreload.TABLE} "
               f"WHERE true ORDER BY rowid {self._conflict_clause(update, self.schema.names)}")
        return max(conn.exec_driver_sql(sql).rowcount, 0)

    def _checkpoint_in_background(self, conn: Connection) -> None:
        """Bulk writes leave the WAL copy to a :class:`WalCheckpointer` (see its module for why)."""
        with self._checkpointer_lock:
            if self._checkpointer is None or not self._checkpointer.alive:
                self._checkpointer = WalCheckpointer(str(self.engine.url.database))
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")

    def _conform(self, table: pa.Table) -> pa.Table:
        try:
            return conform(table, self.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise StorageError(f"calls do not fit the database schema (money at scale {self.scale}): {exc}") from exc

    def _conflict_clause(self, update: bool, names: list[str]) -> str:
        q = self.engine.dialect.identifier_preparer.quote
        if not update:
            return "ON CONFLICT (call_id) DO NOTHING"
        sets = ", ".join(f"{q(n)} = excluded.{q(n)}" for n in names if n != "call_id")
        return f"ON CONFLICT (call_id) DO UPDATE SET {sets}"

    def _quoted(self, names: list[str]) -> str:
        q = self.engine.dialect.identifier_preparer.quote
        return ", ".join(q(n) for n in names)

    def _executemany(self, conn: Connection, table: pa.Table, update: bool) -> int:
        mark = "?" if self.dialect == "sqlite" else "%s"
        written = 0
        for chunk in _chunks(table):
            # Binding dominates: columns null throughout the chunk are left to their NULL default.
            # (Also right for upserts: ``excluded.col`` of an omitted column is NULL too.)
            fields = [f for f in self.schema if f.name == "call_id" or chunk.column(f.name).null_count < chunk.num_rows]
            names = [f.name for f in fields]
            sql = (f"INSERT INTO calls ({self._quoted(names)}) VALUES ({', '.join([mark] * len(names))}) "
                   f"{self._conflict_clause(update, [f.name for f in self.schema])}")
            rows = list(zip(*(self._driver_values(chunk.column(f.name), f.type) for f in fields)))
            written += max(conn.exec_driver_sql(sql, rows).rowcount, 0)
        return written

    def _driver_values(self, column: pa.ChunkedArray, t: pa.DataType) -> list[Any]:
        """One column as the values the driver takes, converted column-wise rather than per row."""
        if self.dialect == "sqlite":
            if pa.types.is_decimal(t):
                return _unscaled(column.combine_chunks())
            if pa.types.is_timestamp(t):
                return _pylist(_sqlite_timestamps(column))
        return _pylist(column)

    def _pg_copy(self, conn: Connection, table: pa.Table, update: bool) -> int:
        cols = self._quoted(self.schema.names)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS _calls_in (LIKE calls) ON COMMIT DROP")
            with cursor.copy(f"COPY _calls_in ({cols}) FROM STDIN (FORMAT csv)") as copy:
                for chunk in _chunks(table):
                    copy.write(_csv(chunk))
            cursor.execute(f"INSERT INTO calls ({cols}) SELECT {cols} FROM _calls_in "
                           f"{self._conflict_clause(update, self.schema.names)}")
            return max(cursor.rowcount, 0)
        finally:
            cursor.close()

    @contextmanager
    def _writing(self, what: str) -> Iterator[Connection]:
        """One transaction; a database refusal surfaces as :class:`StorageError` naming what was refused."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StorageError(f"database {where}: cannot {what}: {exc}") from exc


def is_outage(exc: BaseException) -> bool:
    """Is *exc* (or what caused it) the database being unreachable, rather than bad data?

    Connection refused, server crashed or restarting, admin shutdown: anything the driver reports as
    operational.  The collector spools on an outage and stops on anything else.
    """
    import sqlite3

    kinds: tuple[type[BaseException], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError,
                                              sqlite3.OperationalError, ConnectionError)
    try:
        import psycopg

        kinds += (psycopg.OperationalError, psycopg.InterfaceError)
    except ImportError:  # PostgreSQL driver not installed: SQLite only
        pass
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        if isinstance(seen, sa.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL: readers (the dashboard) never block the collector's writes, and a crash cannot tear a commit."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # A batch inserts ~100k calls at random places of the call_id and start_utc indexes: with SQLite's
    # default 2 MB page cache the transaction keeps evicting and re-reading them
    # (docs/dev/storage-performance.md).  A maximum, not an allocation.
    cur.execute("PRAGMA cache_size=-65536")  # KiB: 64 MB
    cur.close()


def _chunks(table: pa.Table) -> Iterator[pa.Table]:
    for lo in range(0, table.num_rows, CHUNK):
        yield table.slice(lo, CHUNK)


def _unscaled(arr: pa.Array) -> list[int | None]:
    """A ``decimal128(18, s)`` array as its integer unscaled values (= minor units), read from the buffer."""
    return _pylist(_unscaled_array(arr))


def _unscaled_array(arr: pa.Array) -> pa.Array:
    """A ``decimal128(18, s)`` array as an ``int64`` array of its unscaled values (the low 64 bits: precision 18 fits)."""
    words = np.frombuffer(arr.buffers()[1], dtype="<i8", count=2 * (arr.offset + len(arr)))[2 * arr.offset::2]
    ints = pa.array(words.copy())
    return ints if arr.null_count == 0 else pc.if_else(arr.is_valid(), ints, None)


def _sqlite_timestamps(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``YYYY-MM-DD HH:MM:SS.000000`` (UTC) text: a plain cast of the naive UTC value, not ``strftime`` (much slower)."""
    naive = column.cast(pa.timestamp("s", tz="UTC")).cast(pa.int64()).cast(pa.timestamp("s"))
    return pc.binary_join_element_wise(naive.cast(pa.string()), ".000000", "")


def _pylist(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """``to_pylist()``, but each distinct string or integer becomes one Python object, shared by its rows.

    Most call columns repeat a handful of values (pbx, call type, plan, band, currency…): converting
    the distinct values and indexing with numpy costs a fraction of creating a Python object per cell.
    """
    n = len(column)
    if n < 1_000 or not (pa.types.is_string(column.type) or pa.types.is_integer(column.type)):
        return column.to_pylist()
    if column.null_count == n:
        return [None] * n
    if len(pc.unique(column.slice(0, 1_000))) > 250:  # a key-like column (call_id, raw_ref, timestamps)
        return column.to_numpy().tolist() if pa.types.is_integer(column.type) and column.null_count == 0 \
            else column.to_pylist()
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries().combine_chunks()
    if len(encoded.dictionary) > n // 4:
        if pa.types.is_integer(column.type) and column.null_count == 0:
            return column.to_numpy().tolist()
        return column.to_pylist()
    values = np.array(encoded.dictionary.to_pylist() + [None], dtype=object)
    codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy()
    return values[codes].tolist()


class _SqlitePreload:
    """A scratch SQLite file that Arrow ADBC bulk-loads calls into, for the main connection to move in.

    Why a second file: ADBC's SQLite driver opens its own connection (with its own SQLite library), which
    cannot see the SQLAlchemy connection's TEMP tables, and writing the database file itself would need the
    write lock the caller's transaction holds — and would write every call twice to the WAL.  So ADBC loads
    this file (no journal, no fsync: it holds only a copy of the batch in hand, and is rewritten by the next
    one), its own commit touches nothing the readers of the database see, and the SQLAlchemy connection —
    which ATTACHes the file — moves the rows with one ``INSERT … SELECT`` inside its own transaction.  The
    database therefore sees exactly what ``executemany`` gave it: one transaction, all or nothing,
    idempotent on ``call_id``, with the connection's WAL, ``synchronous`` and ``busy_timeout``.

    The preload's columns have no declared type, so they keep each value exactly as ADBC binds it (integer,
    text, NULL); the ``calls`` table's own column affinities apply on the move, as on a direct insert.
    One per :class:`Database` (plus two spares for :meth:`Database.preload_calls`), in the system's temp
    folder, removed on close — or, after a crash, by the next preload any process opens.
    """

    SCHEMA = "callcost_preload"
    TABLE = "calls_in"

    def __init__(self, conn: Any, path: str, names: list[str], schema: str = SCHEMA) -> None:
        self.conn, self.path, self.schema = conn, path, schema
        cols = ", ".join(f'"{n}"' for n in names)
        with self.conn.cursor() as cur:  # autocommit: the pragmas must run outside a transaction
            cur.execute("PRAGMA journal_mode=OFF")
            cur.fetchall()
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute(f'CREATE TABLE IF NOT EXISTS "{self.TABLE}" ({cols})')

    @classmethod
    def open(cls, names: list[str], schema: str = SCHEMA) -> _SqlitePreload | None:
        """A new preload, or None when ``adbc-driver-sqlite`` is not installed."""
        try:
            import adbc_driver_sqlite.dbapi as adbc_sqlite
        except ImportError:
            return None
        _remove_orphaned_preloads()
        fd, path = tempfile.mkstemp(prefix=f"{_PRELOAD_PREFIX}{os.getpid()}-", suffix=".sqlite")
        os.close(fd)  # an empty file is an empty SQLite database
        conn = None
        try:
            conn = adbc_sqlite.connect(path, autocommit=True)
            return cls(conn, path, names, schema)
        except BaseException:
            if conn is not None:
                conn.close()
            os.unlink(path)
            raise

    def load(self, chunks: Iterator[pa.Table]) -> list[str]:
        """Replace the preloaded rows with *chunks* (in order, one commit); the columns any chunk holds."""
        names: list[str] = []
        with self.conn.cursor() as cur:
            cur.execute("BEGIN")
            try:
                cur.execute(f'DELETE FROM "{self.TABLE}"')
                for chunk in chunks:
                    cur.adbc_ingest(self.TABLE, chunk, mode="append")
                    names += [n for n in chunk.column_names if n not in names]
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return names

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            for suffix in ("", "-journal"):
                try:
                    os.unlink(self.path + suffix)
                except FileNotFoundError:
                    pass


_PRELOAD_PREFIX = "callcost-preload-"


def _remove_orphaned_preloads(folder: str | None = None) -> None:
    """Delete preload files left in the temp folder by processes that died without closing their
    database (``kill -9``, power loss): each holds up to a batch of calls.  A preload's name carries its
    process id; a file whose process no longer runs is nobody's."""
    folder = folder or tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(folder) if n.startswith(_PRELOAD_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(_PRELOAD_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:  # another process removed it first, or it is not ours to remove
            pass


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _close(engine: sa.Engine, state: dict[str, Any]) -> None:
    """Close a :class:`Database`: its pooled connections, then its SQLite preloads (see ``__init__``)."""
    checkpointer = state.get("_checkpointer")
    if checkpointer is not None:
        state["_checkpointer"] = None
        checkpointer.stop()
    engine.dispose()
    preload = state.get("_preload")
    if preload is not None:
        state["_preload"] = None
        preload.close()
    with state["_spare_cond"]:
        spares, state["_spares"], state["_spare_free"] = state.get("_spares", []), [], []
        state["_spares_closed"] = True
        state["_spare_cond"].notify_all()
    for spare in spares:
        spare.close()


def _csv(table: pa.Table) -> bytes:
    """Rows for ``COPY … (FORMAT csv)``: every value quoted, nulls bare — so NULL and '' stay apart."""
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return buf.getvalue()
