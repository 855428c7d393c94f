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


def _csv_files(tmp_path, count: int = 40, records: int = 1_000) -> list:
    from collectorkit import HEADER, csv_records

    files = []
    for k in range(count):
        path = tmp_path / f"cdr{k:02d}.csv"
        path.write_bytes(HEADER + csv_records(records, prefix=f"f{k}-"))
        files.append(path)
    return files


def test_an_import_starts_with_small_batches_and_grows_to_the_batch_size(tmp_path):
    # slow start: rating and storing begin after a small parse, not a full bundle
    from collectorkit import enterprise_with

    ent = enterprise_with(tmp_path, {})
    files = _csv_files(tmp_path)
    sizes: list[int] = []

    class Recording(Store):
        def save(self, rated, preloaded=None):
            sizes.append(rated.num_rows)
            return super().save(rated, preloaded)

    store = Recording(ent, database_url=f"sqlite:///{tmp_path}/s.db")
    try:
        report = import_files(ent, "lon-csv", files, store=store, batch_size=8_000,
                              bundle_bytes=8 * files[0].stat().st_size)
    finally:
        store.db.close()
    assert report.stored == sum(sizes) == 40_000
    assert sizes[0] <= 2_000 and sizes[0] < sizes[1] < sizes[2] and max(sizes) == 8_000, sizes


def test_a_failed_save_gives_back_the_preload_files_of_the_batches_rated_ahead(tmp_path, monkeypatch):
    """The rating thread bulk-loads the next batches into the database's two spare preload files while the
    first is saved; when that save fails, the import stops and the batches loaded ahead are released —
    the database can preload again at once, instead of holding both spares until it is closed."""
    import gc
    import threading

    from collectorkit import enterprise_with

    from warehouse import store as store_module

    monkeypatch.setattr(store_module, "_OVERLAP_FROM", 1)  # preload every batch, however small
    ent = enterprise_with(tmp_path, {})
    files = _csv_files(tmp_path, count=12)
    seen: list = []
    second_preloaded = threading.Event()

    class LakeOnAFile(Store):
        preloaded_count = 0

        def preload(self, rated):
            preloaded = super().preload(rated)
            if self.preloaded_count == 1:
                second_preloaded.set()
            self.preloaded_count += preloaded is not None
            return preloaded

        def save(self, rated, preloaded=None):
            seen.append((rated, preloaded))
            assert second_preloaded.wait(30)  # the next batch is loaded ahead before this save fails
            return super().save(rated, preloaded)

    store = LakeOnAFile(ent, database_url=f"sqlite:///{tmp_path}/s.db")
    store.lake_root = tmp_path / "lake-is-a-file"
    store.lake_root.write_text("not a folder")  # every lake write fails
    gc.disable()  # the release must not wait for the collector to free the failed import's frames
    try:
        with pytest.raises(Exception, match="lake-is-a-file"):
            import_files(ent, "lon-csv", files, store=store, batch_size=1_000, bundle_bytes=files[0].stat().st_size)
        assert len(seen) == 1 and seen[0][1] is not None  # the failed batch had been preloaded ahead
        again = [store.db.preload_calls(seen[0][0]) for _ in range(2)]  # no wait: both spares must be free
        assert None not in again
        for preloaded in again:
            preloaded.release()
    finally:
        gc.enable()
        store.db.close()
