"""``callcost backup`` / ``restore``: online, consistent as of one moment, verified, on SQLite and real PostgreSQL."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from factories import rated_calls
from rating_enterprise import write_enterprise
from typer.testing import CliRunner

from analytics.savings import summary
from callcost.cli import app
from warehouse import backup as bk
from warehouse import lake
from warehouse.config import load_config
from warehouse.database import Database
from warehouse.store import Store


@pytest.fixture
def restore_url(request: pytest.FixtureRequest, db_url: str):
    """Where a backup of *db_url*'s backend is restored: None (SQLite default) or a second empty PostgreSQL database."""
    if db_url.startswith("sqlite"):
        yield None
        return
    server = request.getfixturevalue("pg_server")
    with server.database(f"r{os.getpid()}_{abs(hash(request.node.name)) % 10**8}") as url:
        yield url


def _enterprise(root: Path, db_url: str):
    return load_config(write_enterprise(root, database=db_url))


def _figures(ent) -> dict:
    """Report figures of October 2026 (the monthly-savings summary) and the stores' exact totals."""
    s = summary(ent.storage.lake, "2026-10")
    with Database(ent.storage.database, ent.scale) as db:
        return {"headline": s.headline().to_dict(), **{k: v.to_dict() for k, v in s.breakdowns().items()},
                "db_calls": db.count_calls(), "db_money": db.money_totals()}


def test_backup_restores_the_same_report_figures(tmp_path, db_url, restore_url):
    ent = _enterprise(tmp_path / "src", db_url)
    store = Store(ent)
    for i in range(4):
        store.save(rated_calls(1_500, seed=i, days=4, prefix=f"b{i}-"))
    lake.write_calls(ent.storage.lake, rated_calls(1, seed=9, prefix="tiny"))  # another small file
    dest = tmp_path / "backup"
    manifest = bk.backup(ent, dest)
    assert manifest["consistent"] and manifest["database"]["calls"] == manifest["lake"]["calls"] == 6_001
    assert manifest["reconciled"] == {"database_only": 0, "lake_only": 1}
    assert manifest["database"]["money"] == manifest["lake"]["money"]
    assert {"callcost.toml", "acme.csv"} <= set(manifest["config_files"])
    every = {f["path"]: f for f in manifest["files"]}
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in every.values())
    assert sum(manifest["lake"]["rows_per_file"].values()) == 6_001

    restored = bk.restore(dest, tmp_path / "restored", database=restore_url)
    assert restored.calls == 6_001
    again = load_config(restored.config)
    assert Path(again.storage.lake) == tmp_path / "restored" / "lake"
    assert again.storage.database == (restore_url or f"sqlite:///{tmp_path / 'restored' / 'callcost.db'}")
    source = _figures(ent)
    source["db_calls"] += 1  # the lake-only call the backup reconciled into its database
    source["db_money"] = {k: v + pc.sum(rated_calls(1, seed=9, prefix="tiny").column(k)).as_py()
                          for k, v in source["db_money"].items()}
    assert _figures(again) == source
    assert source["headline"]["calls"] > 0


def test_backup_taken_during_ingestion_is_one_moment_in_both_stores(tmp_path, db_url, restore_url):
    """A writer thread saves batches (database, then lake) while the backup runs; the restore holds
    exactly the batches saved up to one moment, each whole, the same in the database and the lake."""
    ent = _enterprise(tmp_path / "src", db_url)
    store = Store(ent)
    batches = [rated_calls(400, seed=100 + i, days=5, prefix=f"w{i:03d}-") for i in range(200)]
    store.save(batches[0])
    started, stop = threading.Event(), threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def ingest() -> None:
        try:
            writer = Store(ent)
            for i, batch in enumerate(batches[1:], start=1):
                if stop.is_set():
                    return
                writer.save(batch)
                written.append(i)
                if i == 3:
                    started.set()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
            started.set()

    thread = threading.Thread(target=ingest)
    thread.start()
    try:
        assert started.wait(60)
        manifest = bk.backup(ent, tmp_path / "backup")
        seen_at_backup_end = len(written)
    finally:
        stop.set()
        thread.join(120)
    assert not failures, failures
    restored = load_config(bk.restore(tmp_path / "backup", tmp_path / "restored", database=restore_url).config)

    ids = lake.read_calls(restored.storage.lake, columns=["call_id"]).column("call_id")
    with Database(restored.storage.database, restored.scale) as db:
        db_ids = set(db.read_calls().call_id)
    assert set(ids.to_pylist()) == db_ids and len(ids) == len(db_ids)  # the same calls in both stores, once
    k = len(ids) // 400
    assert len(ids) == 400 * k and 4 <= k <= 1 + seen_at_backup_end  # whole batches, taken mid-ingestion
    expected = pa.concat_tables(batches[:k])
    assert db_ids == set(expected.column("call_id").to_pylist())  # exactly the first k batches
    with Database(restored.storage.database, restored.scale) as db:
        money = db.money_totals()
    assert money == {c: pc.sum(expected.column(c)).as_py() for c in bk.MONEY}
    print(f"backup holds {k} of {len(written) + 1} batches; {seen_at_backup_end} written when it ended")
    assert manifest["consistent"] and manifest["lake"]["calls"] == 400 * k
    assert len(written) > k - 1 or len(written) == len(batches) - 1  # the writer went on after the moment


def test_in_flight_calls_are_reconciled_into_both_stores(tmp_path, db_url, restore_url):
    """A call only the database holds (lake write pending) and one only the lake holds (commit pending)."""
    ent = _enterprise(tmp_path / "src", db_url)
    Store(ent).save(rated_calls(300, seed=1))
    db_only, lake_only = rated_calls(1, seed=2, prefix="db-only"), rated_calls(1, seed=3, prefix="lake-only")
    with Database(ent.storage.database, ent.scale) as db:
        db.insert_calls(db_only)
    lake.write_calls(ent.storage.lake, lake_only)
    manifest = bk.backup(ent, tmp_path / "backup")
    assert manifest["reconciled"] == {"database_only": 1, "lake_only": 1}
    assert manifest["database"]["calls"] == manifest["lake"]["calls"] == 302
    if db_url.startswith("postgresql"):
        assert manifest["database"]["pending"] == "database/pending-calls.parquet"
    restored = load_config(bk.restore(tmp_path / "backup", tmp_path / "restored", database=restore_url).config)
    with Database(restored.storage.database, restored.scale) as db:
        assert {"db-only0", "lake-only0"} <= set(db.read_calls().call_id)
    assert {"db-only0", "lake-only0"} <= set(lake.read_calls(restored.storage.lake).column("call_id").to_pylist())


def test_a_damaged_or_unfinished_backup_is_refused_naming_the_file(tmp_path):
    ent = _enterprise(tmp_path / "src", f"sqlite:///{tmp_path}/src/callcost.db")
    Store(ent).save(rated_calls(200, seed=1))
    dest = tmp_path / "backup"
    manifest = bk.backup(ent, dest)
    victim = dest / next(f["path"] for f in manifest["files"] if f["path"].endswith(".parquet"))
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(bk.BackupError, match=f"{victim.name}: SHA-256 does not match"):
        bk.restore(dest, tmp_path / "restored")
    (dest / "manifest.json").unlink()
    with pytest.raises(bk.BackupError, match="manifest.json: not found"):
        bk.restore(dest, tmp_path / "restored2")
    with pytest.raises(bk.BackupError, match="is not empty"):
        bk.backup(ent, dest)


def test_missing_pg_dump_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(bk.shutil, "which", lambda _name: None)
    monkeypatch.setattr(bk, "PG_INSTALL_ROOT", str(tmp_path))
    with pytest.raises(bk.BackupError, match="pg_dump not found: install the PostgreSQL client"):
        bk.find_pg_tool("pg_dump")


def test_the_cli_compacts_backs_up_and_restores(tmp_path):
    config = write_enterprise(tmp_path / "src", database="sqlite:///callcost.db")
    ent = load_config(config)
    store = Store(ent)
    for i in range(3):
        store.save(rated_calls(300, seed=i, days=2, prefix=f"c{i}-"))
    runner = CliRunner()
    run = runner.invoke(app, ["compact", "--config", str(config), "--grace", "0"])
    assert run.exit_code == 0, run.output
    assert "2 of 2 partition(s) compacted: 6 → 2 files, 900 rows" in run.output
    run = runner.invoke(app, ["backup", str(tmp_path / "bk"), "--config", str(config)])
    assert run.exit_code == 0, run.output
    assert "900 calls" in run.output
    run = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--into", str(tmp_path / "again")])
    assert run.exit_code == 0, run.output
    assert "restored 900 calls" in run.output
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["database"]["backend"] == "sqlite"
    bad = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--into", str(tmp_path / "again")])
    assert bad.exit_code == 1 and "is not empty" in bad.output
    bad = runner.invoke(app, ["compact", "--config", str(config), "--from", "2026-10-09", "--to", "2026-10-01"])
    assert bad.exit_code == 1 and "is after" in bad.output
    for verb in ("compact", "backup", "restore"):
        assert runner.invoke(app, [verb, "--help"]).exit_code == 0


def test_backup_while_compaction_runs_copies_each_call_once(tmp_path):
    from warehouse.compaction import compact

    ent = _enterprise(tmp_path / "src", f"sqlite:///{tmp_path}/src/callcost.db")
    store = Store(ent)
    for i in range(8):
        store.save(rated_calls(250, seed=i, days=4, prefix=f"k{i}-"))
    merged: list = []
    worker = threading.Thread(target=lambda: merged.append(compact(ent.storage.lake, grace_s=0)))
    worker.start()
    manifest = bk.backup(ent, tmp_path / "backup")
    worker.join(60)
    assert merged and merged[0].compacted == 4
    assert manifest["consistent"] and manifest["lake"]["calls"] == manifest["lake"]["distinct_calls"] == 2_000
    restored = load_config(bk.restore(tmp_path / "backup", tmp_path / "restored").config)
    assert _figures(restored) == _figures(ent)
