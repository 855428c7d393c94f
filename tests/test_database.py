"""The SQL database on both backends (a SQLite file and the session's real PostgreSQL server)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from factories import rated_calls
from warehouse import ingest
from warehouse.database import Database
from warehouse.errors import StorageError
from warehouse.store import SaveResult

UTC = timezone.utc


@pytest.fixture
def db(db_url):
    database = Database(db_url, scale=2)
    database.create_schema()
    yield database
    database.close()


def _with_money(table: pa.Table, column: str, values: list[str | None]) -> pa.Table:
    arr = pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(18, 2))
    return table.set_column(table.schema.get_field_index(column), column, arr)


def test_insert_is_idempotent_and_counts_only_new_rows(db):
    calls = rated_calls(1_200, seed=1)
    assert db.insert_calls(calls) == 1_200
    assert db.insert_calls(calls) == 0
    more = pa.concat_tables([calls.slice(0, 200), rated_calls(300, seed=2, prefix="n")])
    assert db.insert_calls(more) == 300
    assert db.count_calls() == 1_500


def test_repeated_call_ids_inside_one_batch_store_once(db):
    calls = rated_calls(10, seed=3)
    assert db.insert_calls(pa.concat_tables([calls, calls])) == 10
    assert db.count_calls() == 10


def test_money_round_trips_exactly(db):
    values = ["0.10", "0.20", "0.30", "-0.01", "9999999999999999.99", "-9999999999999999.99", "123456789012.34",
              None]
    calls = _with_money(rated_calls(len(values), seed=4), "actual_cost", values)
    db.insert_calls(calls)
    frame = db.read_calls().set_index("call_id")
    got = [frame.loc[cid, "actual_cost"] for cid in calls.column("call_id").to_pylist()]
    assert got[:-1] == [Decimal(v) for v in values[:-1]]
    assert all(isinstance(v, Decimal) for v in got[:-1]) and got[-1] is None
    assert got[0] + got[1] == got[2]  # 0.10 + 0.20 == 0.30, which no float gives
    # and the sum of the whole table, to the cent
    expected = sum(v for v in calls.column("savings").to_pylist() if v is not None)
    assert sum(v for v in frame["savings"] if v is not None) == expected


def test_money_with_more_decimals_than_the_currency_is_refused(db):
    calls = rated_calls(1, seed=5).cast(rated_calls(1, seed=5, scale=3).schema)
    calls = calls.set_column(calls.schema.get_field_index("actual_cost"), "actual_cost",
                             pa.array([Decimal("0.125")], pa.decimal128(18, 3)))
    with pytest.raises(StorageError):
        db.insert_calls(calls)
    assert db.count_calls() == 0


def test_upsert_replaces_rerated_calls(db):
    calls = rated_calls(50, seed=6)
    db.insert_calls(calls)
    rerated = _with_money(calls.slice(0, 5), "actual_cost", ["1.11"] * 5)
    rerated = rerated.set_column(rerated.schema.get_field_index("tariff_version"), "tariff_version",
                                 pa.array(["2026-11"] * 5))
    assert db.insert_calls(rerated) == 0  # a plain insert never overwrites
    assert db.upsert_calls(pa.concat_tables([rerated, rated_calls(2, seed=7, prefix="u")])) == 7
    frame = db.read_calls().set_index("call_id")
    assert len(frame) == 52
    changed = frame.loc[rerated.column("call_id").to_pylist()]
    assert list(changed["actual_cost"]) == [Decimal("1.11")] * 5
    assert list(changed["tariff_version"]) == ["2026-11"] * 5
    untouched = frame.loc[calls.column("call_id")[5].as_py()]
    assert untouched["actual_cost"] == calls.column("actual_cost")[5].as_py()


def test_read_calls_by_utc_date_and_types(db):
    calls = rated_calls(600, seed=8, days=3)  # 2026-10-01 .. 2026-10-03
    db.insert_calls(calls)
    day2 = db.read_calls(date(2026, 10, 2), date(2026, 10, 2))
    days = pc.cast(calls.column("start_utc"), pa.date32())
    assert len(day2) == pc.sum(pc.equal(days, pa.scalar(date(2026, 10, 2)))).as_py() > 0
    assert day2["start_utc"].min() >= datetime(2026, 10, 2, tzinfo=UTC)
    assert day2["start_utc"].max() < datetime(2026, 10, 3, tzinfo=UTC)
    assert str(day2["start_utc"].dt.tz) == "UTC"
    # timestamps come back as the same instants
    first = calls.filter(pc.equal(calls.column("call_id"), day2["call_id"].iloc[0])).to_pylist()[0]
    assert day2["start_utc"].iloc[0].to_pydatetime() == first["start_utc"]
    assert str(day2["duration_s"].dtype) == "Int32"


def test_quarantine_and_the_ingest_account_are_recorded(db_url):
    """One batch: its quarantined records (raw bytes kept exactly), its account row and its segments."""
    now = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    raw = b'"1","bad,\xff\x00 record"'
    quarantined = [
        {"pbx": "nyc-cucm", "source": "cdr_01.txt", "line": 7, "offset": 1234, "field": "duration",
         "reason": "not a number", "raw": raw, "received_at": now},
        {"pbx": "nyc-cucm", "source": "cdr_01.txt", "line": 9, "offset": None, "field": None,
         "reason": "too few fields", "raw": b"x", "received_at": now},
    ]
    seg = ingest.SegmentRow(pbx="nyc-cucm", transport="import", stream="cdr_01.txt", first_offset=0,
                            last_offset=4096, bytes=4096, sha256="ab" * 32, received=10, parsed=8, quarantined=2,
                            rated=0, unrated=0, final=True, received_at=now)
    engine = sa.create_engine(db_url)
    try:
        ingest.create_tables(engine)
        with engine.begin() as conn:
            ingest.write_batch(conn, ingest.IMPORT, [seg], quarantined, {"nyc-cucm": SaveResult(6, 2, 1)})
        with engine.connect() as conn:
            q = conn.execute(sa.text("select line, \"offset\", field, reason, raw from quarantine order by id")).all()
            a = conn.execute(sa.text("select path, received, parsed, stored, already_stored, quarantined, "
                                     "already_quarantined, rated, unrated from ingest_account")).all()
            s = conn.execute(sa.text("select stream, received, parsed, quarantined, bytes, sha256 "
                                     "from ingest_segments")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in q] == [(7, 1234, "duration", "not a number", raw),
                                     (9, None, None, "too few fields", b"x")]
    assert [tuple(r) for r in a] == [("import", 10, 8, 6, 2, 2, 0, 7, 1)]
    assert [tuple(r) for r in s] == [("cdr_01.txt", 10, 8, 2, 4096, "ab" * 32)]


def test_quarantine_is_idempotent_by_source_and_position(db_url):
    """The same records quarantined twice (a re-import) are kept once and counted as already quarantined;
    the account's quarantined total per PBX equals the quarantine table's rows (issue 16, item 3)."""
    now = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    rows = [{"pbx": "p", "source": "f.txt", "line": n, "offset": 10 * n, "field": None, "reason": "bad",
             "raw": b"r", "received_at": now} for n in (1, 2, 3)]
    rows.append({**rows[0], "line": None, "offset": None, "source": "whole.bin"})
    seg = ingest.SegmentRow(pbx="p", transport="import", stream="f.txt", first_offset=0, last_offset=9, bytes=9,
                            sha256="-", received=4, parsed=0, quarantined=4, rated=0, unrated=0, final=True,
                            received_at=now)
    engine = sa.create_engine(db_url)
    try:
        ingest.create_tables(engine)
        for _ in range(3):
            with engine.begin() as conn:
                ingest.write_batch(conn, ingest.IMPORT, [seg], rows, {})
        with engine.connect() as conn:
            assert ingest.quarantined_per_pbx(conn) == {"p": 4}
            totals = ingest.totals(conn)["p"]
    finally:
        engine.dispose()
    assert (totals["received"], totals["quarantined"], totals["already_quarantined"]) == (12, 4, 8)


def test_create_schema_twice_keeps_data(db):
    db.insert_calls(rated_calls(3, seed=9))
    db.create_schema()
    assert db.count_calls() == 3


def test_sqlite_uses_wal_and_integer_minor_units(tmp_path):
    url = f"sqlite:///{tmp_path}/wal.db"
    with Database(url, scale=2) as database:
        database.create_schema()
        database.insert_calls(_with_money(rated_calls(1, seed=10), "actual_cost", ["12.34"]))
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("select actual_cost, typeof(actual_cost) from calls").one() == (1234, "integer")


@pytest.mark.postgres
def test_postgres_stores_numeric_and_timestamptz(postgres_url):
    with Database(postgres_url, scale=2) as database:
        database.create_schema()
        with database.engine.begin() as conn:
            conn.exec_driver_sql("truncate calls")
        database.insert_calls(_with_money(rated_calls(1, seed=11), "actual_cost", ["12.34"]))
        with database.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "select actual_cost, pg_typeof(actual_cost)::text, pg_typeof(start_utc)::text, "
                "format_type(atttypid, atttypmod) from calls, pg_attribute "
                "where attrelid = 'calls'::regclass and attname = 'actual_cost'").one()
            conn.exec_driver_sql("drop table calls")
            conn.commit()
    assert row == (Decimal("12.34"), "numeric", "timestamp with time zone", "numeric(18,2)")


def test_unsupported_url_is_a_storage_error():
    with pytest.raises(StorageError, match="only sqlite"):
        Database("mysql://nobody@127.0.0.1/x", scale=2)


def test_money_totals_are_exact_sums(db):
    calls = rated_calls(2_000, seed=12)
    assert db.money_totals() == {"actual_cost": 0, "reference_cost": 0, "savings": 0}
    db.insert_calls(calls)
    totals = db.money_totals()
    for column in ("actual_cost", "reference_cost", "savings"):
        assert totals[column] == pc.sum(calls.column(column)).as_py()
        assert totals[column].as_tuple().exponent == -2
    with pytest.raises(StorageError, match="not money"):
        db.money_totals(("duration_s",))


def test_a_quarantine_table_from_before_positions_is_brought_up_to_date(db_url):
    """A database written before quarantine was idempotent: its rows get positions, the repeats (the
    27 → 54 of issue 16, item 3) are dropped to one, and new rows are idempotent from then on."""
    now = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    engine = sa.create_engine(db_url)
    old = sa.MetaData()
    table = sa.Table("quarantine", old, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                     *[sa.Column(n, sa.Text, nullable=False) for n in ("pbx", "source", "reason")],
                     sa.Column("line", sa.Integer), sa.Column("offset", sa.BigInteger), sa.Column("field", sa.Text),
                     sa.Column("raw", sa.LargeBinary), sa.Column("received_at", sa.DateTime(timezone=True)))
    row = {"pbx": "p", "source": "f.txt", "reason": "bad", "line": 3, "offset": 30, "field": None, "raw": b"r",
           "received_at": now}
    try:
        old.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [row, row, {**row, "line": None, "offset": None}, {**row, "line": 4}])
        ingest.create_tables(engine)
        ingest.create_tables(engine)  # once only
        with engine.begin() as conn:
            assert ingest.add_quarantine(conn, [row, {**row, "line": 5}]) == {"p": 1}
            positions = sorted(r[0] for r in conn.execute(sa.text("select position from quarantine")))
    finally:
        engine.dispose()
    assert positions == ["3@30", "4@30", "5@30", "@"]
