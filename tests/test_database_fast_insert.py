"""SQLite's ADBC bulk-load path stores exactly what the ``executemany`` path stores, atomically and idempotently.

``Database(..., sqlite_adbc=False)`` is the previous path (and the fallback without ``adbc-driver-sqlite``);
every test compares against it or checks a property the previous path had: byte-identical rows (type and
value of every cell, row order), the same counts, one transaction per batch, WAL and ``busy_timeout``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from factories import rated_calls

from warehouse import database
from warehouse.database import Database
from warehouse.errors import StorageError


def _open(path: Path, *, adbc: bool) -> Database:
    db = Database(f"sqlite:///{path}", scale=2, sqlite_adbc=adbc)
    db.create_schema()
    return db


def _stored(path: Path) -> list[tuple]:
    """Every cell as SQLite holds it: its storage class and its SQL literal, rows in rowid order."""
    con = sqlite3.connect(path)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(calls)")]
        cells = ", ".join(f'typeof("{c}"), quote("{c}")' for c in cols)
        return con.execute(f"SELECT rowid, {cells} FROM calls ORDER BY rowid").fetchall()
    finally:
        con.close()


def _money(table: pa.Table, column: str, values: list[str | None]) -> pa.Table:
    arr = pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(18, 2))
    return table.set_column(table.schema.get_field_index(column), column, arr)


def _batches() -> list[tuple[str, pa.Table]]:
    """Inserts and upserts with nulls, negative and extreme money, repeated ids, columns null in one chunk only."""
    first = _money(rated_calls(3_000, seed=11), "actual_cost",
                   ["-0.01", "9999999999999999.99", "-9999999999999999.99", None] * 750)
    sparse = rated_calls(2_000, seed=12, prefix="s")
    sparse = sparse.set_column(sparse.schema.get_field_index("site"), "site", pa.nulls(2_000, pa.string()))
    overlap = pa.concat_tables([first.slice(100, 500), rated_calls(700, seed=13, prefix="o")])
    rerated = _money(first.slice(0, 1_200), "savings", ["1.23"] * 1_200)
    return [("insert", first), ("insert", sparse), ("insert", overlap), ("insert", pa.concat_tables([sparse, sparse])),
            ("upsert", rerated), ("upsert", pa.concat_tables([sparse.slice(0, 10), sparse.slice(0, 10)]))]


def test_both_paths_store_byte_identical_rows_and_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "CHUNK", 1_000)  # several chunks per batch, some with all-null columns
    counts = {}
    for adbc in (True, False):
        db = _open(tmp_path / f"{adbc}.db", adbc=adbc)
        try:
            counts[adbc] = [getattr(db, f"{op}_calls")(table) for op, table in _batches()]
            assert (db._preload is not None) == adbc  # the fast path really ran (and the other did not)
        finally:
            db.close()
    assert counts[True] == counts[False] == [3_000, 2_000, 700, 0, 1_200, 10]
    fast, slow = _stored(tmp_path / "True.db"), _stored(tmp_path / "False.db")
    assert len(fast) == 5_700
    assert fast == slow
    kinds = {cell for row in fast for cell in row[1::2]}
    assert kinds == {"text", "integer", "null"}  # money as integer minor units, timestamps as text: no real, no blob


def test_batches_preloaded_ahead_store_byte_identical_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "CHUNK", 1_000)
    inserts = [table for op, table in _batches() if op == "insert"]
    counts = {}
    for ahead in (True, False):
        db = _open(tmp_path / f"ahead-{ahead}.db", adbc=True)
        try:
            preloaded = [db.preload_calls(t) if ahead else None for t in inserts[:2]]  # two batches ahead at once
            counts[ahead] = [db.insert_calls(t, preloaded[k] if k < 2 else db.preload_calls(t))
                             for k, t in enumerate(inserts)]
            if ahead:
                assert all(s is not None and s.preload is None for s in preloaded)  # used, then released
                assert len(db._spares) == 2 and len(db._spare_free) == 2
        finally:
            db.close()
    assert counts[True] == counts[False] == [3_000, 2_000, 700, 0]
    assert _stored(tmp_path / "ahead-True.db") == _stored(tmp_path / "ahead-False.db")


def test_preloading_ahead_declines_when_both_spare_preloads_are_taken_and_recovers(tmp_path):
    db = _open(tmp_path / "d.db", adbc=True)
    try:
        a, b, c = (rated_calls(300, seed=90 + k, prefix=f"d{k}-") for k in range(3))
        sa_, sb = db.preload_calls(a), db.preload_calls(b)
        assert sa_ is not None and sb is not None and sa_.preload is not sb.preload
        assert db.preload_calls(c) is None  # no third file: the insert then does the whole job itself
        assert db.insert_calls(c) == 300
        # a preload handed in with another table is not used (the rows come from the table given), but freed
        assert db.insert_calls(rated_calls(50, seed=99, prefix="x-"), sa_) == 50
        assert sa_.preload is None and db.preload_calls(c) is not None
        sb.release()
        sb.release()  # twice is harmless
        assert db.insert_calls(b) == 300 and db.insert_calls(a) == 300
        assert db.count_calls() == 950
        spares = [s.path for s in db._spares]
    finally:
        db.close()
    assert spares and not any(os.path.exists(p) for p in spares)  # spare preload files removed on close


def test_preloading_ahead_waits_for_a_spare_preload_the_insert_frees(tmp_path):
    db = _open(tmp_path / "w.db", adbc=True)
    try:
        a, b, c = (rated_calls(200, seed=70 + k, prefix=f"w{k}-") for k in range(3))
        held = [db.preload_calls(a), db.preload_calls(b)]
        got: list = []
        waiter = threading.Thread(target=lambda: got.append(db.preload_calls(c, wait_s=30)))
        waiter.start()
        time.sleep(0.3)
        assert not got  # both spares hold batches not yet inserted: it waits …
        assert db.insert_calls(a, held[0]) == 200  # … until an insert frees one
        waiter.join(10)
        assert got and got[0] is not None and got[0].preload is not None
        assert db.insert_calls(c, got[0]) == 200 and db.insert_calls(b, held[1]) == 200
        assert db.preload_calls(c, wait_s=0.1) is not None  # spares free again (c is a duplicate: 0 new)
    finally:
        db.close()


def test_reading_back_gives_the_same_calls(tmp_path):
    calls = _money(rated_calls(1_500, seed=21), "reference_cost", ["0.10", "0.20", None] * 500)
    frames = []
    for adbc in (True, False):
        with _open(tmp_path / f"r{adbc}.db", adbc=adbc) as db:
            db.insert_calls(calls)
            frames.append(db.read_calls())
            assert db.money_totals() == db.money_totals()
    assert frames[0].equals(frames[1])


def test_a_refused_batch_stores_nothing_and_the_next_one_goes_in(tmp_path):
    db = _open(tmp_path / "a.db", adbc=True)
    try:
        good = rated_calls(2_000, seed=31)
        bad = good.set_column(good.schema.get_field_index("rating_status"), "rating_status",
                              pa.array(["rated"] * 1_999 + [None], pa.string()))
        with pytest.raises(StorageError, match="insert calls"):
            db.insert_calls(bad)  # NOT NULL fails on the last row: the 1,999 before it must not stay
        assert db.count_calls() == 0
        assert db.insert_calls(good) == 2_000
        assert db.insert_calls(good) == 0
    finally:
        db.close()


def test_wal_and_busy_timeout_still_hold(tmp_path):
    path = tmp_path / "w.db"
    db = _open(path, adbc=True)
    try:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a moment
        done: list[int] = []
        writer = threading.Thread(target=lambda: done.append(db.insert_calls(rated_calls(500, seed=41))))
        writer.start()
        time.sleep(0.3)
        assert not done  # waiting on busy_timeout, not failed
        other.execute("COMMIT")
        writer.join(30)
        assert done == [500]
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        other.close()
    finally:
        db.close()


def test_concurrent_writers_share_one_preload(tmp_path):
    db = _open(tmp_path / "c.db", adbc=True)
    try:
        results: list[int] = []
        threads = [threading.Thread(target=lambda k=k: results.append(db.insert_calls(rated_calls(
            3_000, seed=50 + k, prefix=f"t{k}-")))) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == [3_000] * 4 and db.count_calls() == 12_000
    finally:
        db.close()


def test_the_preload_file_goes_away_on_close(tmp_path):
    db = _open(tmp_path / "s.db", adbc=True)
    db.insert_calls(rated_calls(10, seed=61))
    preload = db._preload.path
    assert os.path.exists(preload)
    db.close()
    assert not os.path.exists(preload)


def test_bulk_writes_leave_the_wal_copy_to_a_background_checkpointer(tmp_path):
    path = tmp_path / "k.db"
    db = _open(path, adbc=True)
    try:
        for k in range(3):
            assert db.insert_calls(rated_calls(4_000, seed=80 + k, prefix=f"k{k}-")) == 4_000
        checkpointer = db._checkpointer
        assert checkpointer is not None and checkpointer.alive
        with db.engine.connect() as conn:  # the bulk writer's connection only checkpoints as a backstop
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == database.BACKSTOP_PAGES
        deadline = time.monotonic() + 10
        while True:  # the background thread copies the committed frames into the database file itself
            in_file = _rows_in_file_without_wal(path, tmp_path / "copy.db")
            # both: the rows can reach the file by the backstop first, but the background thread must run too
            if (in_file == 12_000 and checkpointer.checkpoints >= 1) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert in_file == 12_000 and checkpointer.checkpoints >= 1
        assert db.count_calls() == 12_000
    finally:
        db.close()
    assert not checkpointer.alive  # stopped with the database
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 12_000
    con.close()


def _rows_in_file_without_wal(path: Path, copy: Path) -> int:
    """Calls in the database file alone (what a checkpoint has copied out of the WAL so far)."""
    copy.write_bytes(path.read_bytes())
    con = sqlite3.connect(copy)
    try:
        return con.execute("SELECT count(*) FROM calls").fetchone()[0]
    except sqlite3.DatabaseError:  # not even the schema checkpointed yet (or a page caught mid-copy)
        return 0
    finally:
        con.close()
        copy.unlink()


def test_without_adbc_the_executemany_path_stores_the_batch(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "adbc_driver_sqlite.dbapi", None)  # import fails as if not installed
    db = _open(tmp_path / "n.db", adbc=True)
    try:
        assert db.insert_calls(rated_calls(800, seed=71)) == 800
        assert db._preload is None and db.sqlite_adbc is False
    finally:
        db.close()


def test_a_failing_preload_falls_back_to_executemany(tmp_path, monkeypatch, caplog):
    def broken(self, chunks):
        raise OSError("no space left on device")

    monkeypatch.setattr(database._SqlitePreload, "load", broken)
    db = _open(tmp_path / "f.db", adbc=True)
    try:
        assert db.insert_calls(rated_calls(800, seed=81)) == 800
        assert db.count_calls() == 800 and db._preload is None
        assert "no space left on device" in caplog.text
    finally:
        db.close()


def test_preload_files_of_dead_processes_are_removed_live_ones_kept(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setattr(database.tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"callcost-preload-{dead.stdout.strip()}-abc.sqlite"  # its process has exited
    mine = tmp_path / f"callcost-preload-{os.getpid()}-def.sqlite"  # this (live) process's
    unrelated = tmp_path / "callcost-preload-notes.txt"
    for f in (orphan, mine, unrelated):
        f.write_bytes(b"x")
    db = _open(tmp_path / "o.db", adbc=True)
    try:
        assert db.insert_calls(rated_calls(20, seed=5)) == 20  # opening a preload sweeps the temp folder
        assert db._preload.path.startswith(str(tmp_path / f"callcost-preload-{os.getpid()}-"))
    finally:
        db.close()
    assert not orphan.exists() and mine.exists() and unrelated.exists()
