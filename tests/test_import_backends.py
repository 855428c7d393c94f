"""Importing vendor files into each SQL backend (SQLite and a real PostgreSQL server): same figures, idempotent."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
import sqlalchemy as sa

from callcost.demo import build_sample
from collector.importer import import_files
from collector.simulate.demo_files import write_demo_files
from collector.simulate.traffic import generate_traffic
from warehouse.config import load_config
from warehouse.database import Database
from warehouse.store import Store

CALLS = 3_000


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    ent = load_config(build_sample(tmp_path_factory.mktemp("ent")))
    files = write_demo_files(ent, generate_traffic(ent, calls=CALLS, seed=11), ent.root)
    return ent, files


def totals(url: str) -> tuple[int, int, Decimal, Decimal]:
    """Counts by raw SQL; money through ``Database.money_totals`` (SQLite stores integer minor units)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "select count(*), sum(case when rating_status = 'unrated' then 1 else 0 end) from calls")).one()
    engine.dispose()
    db = Database(url, 2)
    try:
        money = db.money_totals(("actual_cost", "savings"))
    finally:
        db.close()
    return int(row[0]), int(row[1]), money["actual_cost"], money["savings"]


def test_import_is_idempotent_and_exact_on_each_backend(demo_files, db_url, tmp_path):
    ent, files = demo_files
    store = Store(ent, database_url=db_url)
    store.lake_root = tmp_path / "lake"  # each backend its own lake
    first = sum(import_files(ent, pbx, sorted(paths), store=store).stored for pbx, paths in files.items())
    assert first == CALLS
    after_first = totals(db_url)
    again = sum(import_files(ent, pbx, sorted(paths), store=store).stored for pbx, paths in files.items())
    assert again == 0
    assert totals(db_url) == after_first
    assert after_first[0] == CALLS
    # the database holds exactly what the lake holds, to the cent
    lake = duckdb.execute(
        f"select count(*), sum(case when rating_status = 'unrated' then 1 else 0 end), sum(actual_cost), "
        f"sum(savings) from read_parquet('{store.lake_root}/calls/*/*.parquet', hive_partitioning=true)").fetchone()
    assert after_first == (int(lake[0]), int(lake[1]), Decimal(lake[2]), Decimal(lake[3]))
