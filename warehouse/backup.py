"""Online backup and restore of one enterprise: SQL database, Parquet lake and config, as of one moment.

``backup(ent, DEST)`` runs while the collector writes.  The point in time is fixed under the lake's
writer lock, which every lake write and compaction holds (``warehouse.lake``):

1. the database snapshot is *pinned* — SQLite: a read transaction on a WAL database (writers go on);
   PostgreSQL: a ``REPEATABLE READ`` transaction whose snapshot is exported for ``pg_dump --snapshot``;
2. the lake's live files (``lake.live_files``) are hard-linked into a hidden staging folder of the
   lake — metadata only, milliseconds; lake files are never modified in place, so a link is a copy;
3. the lock is released; the slow part runs against the pinned snapshot and the links:
   ``sqlite3.Connection.backup`` (the online backup API) or ``pg_dump -Fc``, and the copy of the lake.

The collector writes each batch to the database and the lake one after the other (or at the same
time), so at the pinned moment a batch may be in one store and not yet in the other.  Such calls are
*reconciled inside the backup*: a call the database snapshot has and the lake lacks is written to the
backup's lake; one the lake has and the database lacks is added to the backup's database (SQLite) or
kept in ``database/pending-calls.parquet`` that ``restore`` inserts after ``pg_restore``.  The backup
is then the state just after those batches finished, identical in both stores — counts and exact
money totals are checked and written to ``manifest.json`` beside the size and SHA-256 of every file.

``restore(SRC, INTO)`` verifies every file against the manifest, rebuilds a runnable enterprise in an
empty folder (config and side files, ``[storage]`` pointed at the restored lake and database) and
checks the restored counts and totals against the manifest.

What is not in a backup: raw dumps and the offline spool (audit/replay data, often large; copy them
with the file system), and files the config references outside its own folder are copied but must be
put back by hand (the manifest lists them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from warehouse import lake
from warehouse.config import Enterprise, load_config
from warehouse.database import Database
from warehouse.errors import CallcostError
from warehouse.schema import calls_schema

__all__ = ["FORMAT", "BackupError", "RestoreResult", "backup", "find_pg_tool", "restore", "verify"]

FORMAT = "callcost-backup/1"
MONEY = ("actual_cost", "reference_cost", "savings")
MANIFEST = "manifest.json"
_PENDING = "database/pending-calls.parquet"
#: Where Debian/Ubuntu install versioned PostgreSQL binaries (the last place ``find_pg_tool`` looks).
PG_INSTALL_ROOT = "/usr/lib/postgresql"
_PG_HINT = "install the PostgreSQL client (apt-get install postgresql-client) or put its bin folder on PATH"


class BackupError(CallcostError):
    """A backup or restore cannot proceed, or a file does not match its manifest (names the file)."""


# --- backup ----------------------------------------------------------------------------------------


def backup(ent: Enterprise, dest: Path | str, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write a consistent backup of *ent* into the new or empty folder *dest*; return the manifest.

    Safe while the collector runs (see the module doc for how the moment is fixed).  The manifest is
    written last: a folder without ``manifest.json`` is an unfinished backup and ``restore`` refuses it.
    """
    say = progress or (lambda _msg: None)
    began = time.perf_counter()
    dest = Path(dest)
    _empty_folder(dest, "backup destination")
    (dest / "database").mkdir()
    lake_root = Path(ent.storage.lake)
    lake.recover(lake_root)  # a batch a crash interrupted is finished first, so it is in the backup whole
    staging = lake_root / f".backup-{uuid.uuid4().hex[:12]}"
    db = Database(ent.storage.database, ent.scale)
    try:
        db.create_schema()
        with _pinned(db) as snap:
            with lake.writer_lock(lake_root):
                lake.recover(lake_root, _locked=True)  # a writer that died since: its batch whole, not half
                snap.pin()
                linked = _link_live_files(lake_root, staging)
                pinned_at = datetime.now(timezone.utc)
            say(f"snapshot pinned at {pinned_at:%H:%M:%S} UTC; {linked} lake file(s) linked")
            db_file = snap.dump(dest / "database")
            say(f"database copied: {db_file.name}")
            _move_tree(staging / lake.DATASET, dest / "lake" / lake.DATASET)
            reconciled = _reconcile(ent, db, snap, dest, db_file)
            db_figures = snap.figures(dest, db_file)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        db.close()
    lake_figures = _lake_figures(dest / "lake", ent.scale)
    if (db_figures["calls"], db_figures["money"]) != (lake_figures["calls"], lake_figures["money"]):
        # Not an in-flight batch (those were reconciled) but stores that disagree on a call's figures,
        # e.g. a re-rate that died between its database and lake writes: `callcost rerate` repairs it.
        say("warning: database and lake disagree on some call's figures; run `callcost rerate` after restore")
    config_files = _copy_config(ent, dest / "config")
    manifest = {
        "format": FORMAT,
        "created_at": pinned_at.isoformat(),
        "enterprise": ent.name,
        "currency": ent.currency,
        "scale": ent.scale,
        "config": ent.path.name,
        "database": {"backend": db.dialect, "file": f"database/{db_file.name}",
                     "pending": _PENDING if (dest / _PENDING).exists() else None, **db_figures},
        "lake": lake_figures,
        "reconciled": reconciled,
        "consistent": (db_figures["calls"], db_figures["money"]) == (lake_figures["calls"], lake_figures["money"]),
        "config_files": config_files,
        "files": _file_list(dest),
        "seconds": round(time.perf_counter() - began, 3),
    }
    _write_json(dest / MANIFEST, manifest)
    say(f"backup written: {dest}")
    return manifest


def _empty_folder(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{what} {path} is not empty (give a new or empty folder)")
    path.mkdir(parents=True, exist_ok=True)


def _link_live_files(lake_root: Path, staging: Path) -> int:
    """Hard-link every live lake file into *staging* (under the writer lock: no write or swap can interleave)."""
    n = 0
    for _, folder in lake.partitions(lake_root):
        for f in lake.live_files(folder):
            target = staging / f.relative_to(lake_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(f, target)
            except OSError:  # a file system without hard links: copy (still under the lock, so still consistent)
                shutil.copy2(f, target)
            n += 1
    (staging / lake.DATASET).mkdir(parents=True, exist_ok=True)
    return n


def _move_tree(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dst)  # same file system: the links simply move
    except OSError:
        shutil.copytree(src, dst)


class _Snapshot:
    """A pinned database snapshot: ``pin()`` (under the lake lock), then ``dump`` and queries against it."""

    def __init__(self, db: Database, conn: sa.Connection | sqlite3.Connection) -> None:
        self.db = db
        self.conn = conn
        self.snapshot_id: str | None = None

    def pin(self) -> None:
        if isinstance(self.conn, sqlite3.Connection):
            self.conn.execute("BEGIN")
            self.conn.execute("SELECT count(*) FROM calls").fetchone()  # the read transaction starts here
        else:  # the connection's first statement: its REPEATABLE READ snapshot is taken now
            self.snapshot_id = self.conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()

    def dump(self, folder: Path) -> Path:
        if isinstance(self.conn, sqlite3.Connection):
            target = folder / "callcost.db"
            out = sqlite3.connect(target)
            try:
                self.conn.backup(out)  # inside the pinned read transaction: exactly the pinned state
            finally:
                out.close()
            return target
        target = folder / "callcost.pgdump"
        url, env = _libpq(self.db.url)
        _run([str(find_pg_tool("pg_dump")), "--format=custom", "--no-owner", f"--snapshot={self.snapshot_id}",
              f"--file={target}", f"--dbname={url}"], env, "pg_dump")
        return target

    def figures(self, dest: Path, db_file: Path) -> dict[str, Any]:
        """Calls and exact money totals of the backup's database (plus its pending calls)."""
        with _backup_sql(self, db_file) as (conn, db):
            figures = _db_figures(conn, db)
        pending = dest / _PENDING
        if pending.exists():
            extra = _table_figures(pq.read_table(pending), db.scale)
            figures = {"calls": figures["calls"] + extra["calls"],
                       "money": {c: str(Decimal(figures["money"][c]) + Decimal(extra["money"][c])) for c in MONEY}}
        return figures


@contextmanager
def _pinned(db: Database) -> Iterator[_Snapshot]:
    if db.dialect == "sqlite":
        path = sa.engine.make_url(db.url).database
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            yield _Snapshot(db, conn)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
            conn.close()
    else:
        with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            try:
                yield _Snapshot(db, conn)
            finally:
                conn.rollback()


@contextmanager
def _backup_sql(snap: _Snapshot, db_file: Path) -> Iterator[tuple[sa.Connection, Database]]:
    """SQLAlchemy access to the backup's database: the copied SQLite file, or the pinned PostgreSQL snapshot."""
    if isinstance(snap.conn, sqlite3.Connection):
        copy = Database(f"sqlite:///{db_file}", snap.db.scale)
        try:
            with copy.engine.begin() as conn:
                yield conn, copy
        finally:
            copy.close()
    else:
        yield snap.conn, snap.db


def _reconcile(ent: Enterprise, db: Database, snap: _Snapshot, dest: Path, db_file: Path) -> dict[str, int]:
    """Make the backup's two stores hold the same calls (the batches in flight at the pinned moment)."""
    backup_lake = dest / "lake"
    in_lake = lake.read_calls(backup_lake, columns=["call_id"]).column("call_id").combine_chunks()
    with _backup_sql(snap, db_file) as (conn, bdb):
        in_db = pa.array([r[0] for r in conn.execute(sa.select(bdb.calls.c.call_id))], pa.string())
        db_only = in_db.filter(pc.invert(pc.is_in(in_db, value_set=in_lake)))
        rows = _db_rows(conn, bdb, db_only) if len(db_only) else None
    if rows is not None:
        lake.write_calls(backup_lake, rows)
    lake_only = in_lake.filter(pc.invert(pc.is_in(in_lake, value_set=in_db)))
    if len(lake_only):
        missing = lake.read_calls(backup_lake, scale=ent.scale)
        missing = missing.filter(pc.is_in(missing.column("call_id"), value_set=lake_only))
        if isinstance(snap.conn, sqlite3.Connection):
            with Database(f"sqlite:///{db_file}", ent.scale) as copy:
                copy.insert_calls(missing)
        else:
            pq.write_table(missing, dest / _PENDING)
    (backup_lake / lake.DATASET / "_writer.lock").unlink(missing_ok=True)
    return {"database_only": len(db_only), "lake_only": len(lake_only)}


def _db_rows(conn: sa.Connection, db: Database, ids: pa.Array) -> pa.Table:
    schema = calls_schema(db.scale)
    rows: list[dict] = []
    id_list = ids.to_pylist()
    for lo in range(0, len(id_list), 10_000):
        query = sa.select(db.calls).where(db.calls.c.call_id.in_(id_list[lo:lo + 10_000]))
        rows.extend(dict(r._mapping) for r in conn.execute(query))
    return pa.Table.from_pylist(rows, schema=schema)


def _db_figures(conn: sa.Connection, db: Database) -> dict[str, Any]:
    query = sa.select(sa.func.count(), *[sa.func.coalesce(sa.func.sum(db.calls.c[c]), 0) for c in MONEY])
    count, *sums = conn.execute(query).one()
    quantum = Decimal(1).scaleb(-db.scale)
    return {"calls": int(count), "money": {c: str(Decimal(v).quantize(quantum)) for c, v in zip(MONEY, sums, strict=True)}}


def _table_figures(table: pa.Table, scale: int) -> dict[str, Any]:
    quantum = Decimal(1).scaleb(-scale)
    money = {c: str(Decimal(pc.sum(table.column(c)).as_py() or 0).quantize(quantum)) for c in MONEY}
    return {"calls": table.num_rows, "money": money}


def _lake_figures(lake_root: Path, scale: int) -> dict[str, Any]:
    """Calls, exact money totals and the per-file row counts of a lake."""
    table = lake.read_calls(lake_root, columns=["call_id", *MONEY], scale=scale)
    figures = _table_figures(table, scale)
    figures["distinct_calls"] = pc.count_distinct(table.column("call_id")).as_py() if table.num_rows else 0
    figures["rows_per_file"] = {
        str(f.relative_to(lake_root.parent)): pq.ParquetFile(f).metadata.num_rows
        for _, folder in lake.partitions(lake_root) for f in lake.live_files(folder)}
    return figures


def _copy_config(ent: Enterprise, folder: Path) -> list[str]:
    """The config file and every file it names (tariffs, directory, side files), by path relative to the config."""
    root = ent.root
    wanted = {ent.path, ent.reference_tariff, *(c.tariff for c in ent.carriers.values())}
    if ent.directory_file is not None:
        wanted.add(ent.directory_file)
    for value in _strings(ent.raw, skip=("storage",)):
        candidate = (root / value) if not os.path.isabs(value) else Path(value)
        try:
            if candidate.is_file():
                wanted.add(candidate)
        except OSError:
            continue
    copied = []
    for path in sorted(p.resolve() for p in wanted):
        try:
            rel = path.relative_to(root.resolve())
        except ValueError:
            rel = Path("_outside") / path.name  # named in the manifest; put back by hand
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / rel)
        copied.append(rel.as_posix())
    return copied


def _strings(value: Any, skip: tuple[str, ...] = ()) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str) and 0 < len(value) < 500 and "\n" not in value:
        yield value


def _file_list(dest: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        if path.name == MANIFEST and path.parent == dest:
            continue
        out.append({"path": path.relative_to(dest).as_posix(), "size": path.stat().st_size, "sha256": _sha256(path)})
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: dict) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, path)
    lake.fsync_dir(path.parent)


# --- PostgreSQL tools ------------------------------------------------------------------------------


def find_pg_tool(name: str) -> Path:
    """``pg_dump`` / ``pg_restore``: ``$PATH``, then ``pg_config --bindir``, then ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name)
    if found:
        return Path(found)
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], check=False, capture_output=True, text=True).stdout.strip()
        if bindir and (Path(bindir) / name).is_file():
            return Path(bindir) / name
    versions = sorted(Path(PG_INSTALL_ROOT).glob(f"*/bin/{name}"),
                      key=lambda p: int(p.parents[1].name) if p.parents[1].name.isdigit() else 0)
    if versions:
        return versions[-1]
    raise BackupError(f"{name} not found: {_PG_HINT}")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy URL as a libpq URL for pg_dump/pg_restore; the password goes in the environment."""
    parsed = sa.engine.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


# --- restore ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    config: Path
    database: str
    calls: int
    money: dict[str, str]
    seconds: float


def verify(src: Path | str) -> dict[str, Any]:
    """Check every file of the backup *src* against its manifest (size and SHA-256); return the manifest."""
    src = Path(src)
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{src / MANIFEST}: not found (not a callcost backup, or an unfinished one)") from None
    except ValueError as exc:
        raise BackupError(f"{src / MANIFEST}: not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src / MANIFEST}: field 'format' is {manifest.get('format')!r} (expected {FORMAT!r})")
    for entry in manifest["files"]:
        path = src / entry["path"]
        if not path.is_file():
            raise BackupError(f"{path}: listed in the manifest but missing")
        if path.stat().st_size != entry["size"]:
            raise BackupError(f"{path}: size {path.stat().st_size} (manifest: {entry['size']})")
        if _sha256(path) != entry["sha256"]:
            raise BackupError(f"{path}: SHA-256 does not match the manifest (the file was changed or damaged)")
    return manifest


def restore(src: Path | str, into: Path | str, *, database: str | None = None,
            progress: Callable[[str], None] | None = None) -> RestoreResult:
    """Rebuild the enterprise of backup *src* in the new or empty folder *into*; return what was restored.

    *database*: where the SQL database goes — default ``sqlite:///callcost.db`` in *into* for a SQLite
    backup; a PostgreSQL backup needs the URL of an existing, empty PostgreSQL database.
    """
    say = progress or (lambda _msg: None)
    began = time.perf_counter()
    src, into = Path(src), Path(into)
    manifest = verify(src)
    say(f"backup verified: {len(manifest['files'])} file(s)")
    backend = manifest["database"]["backend"]
    if backend == "postgresql" and not (database or "").startswith("postgresql"):
        raise BackupError("this backup holds a PostgreSQL database: give --database postgresql+psycopg://…/EMPTY_DB")
    if backend == "sqlite" and database and not database.startswith("sqlite"):
        raise BackupError("this backup holds a SQLite database: restore it to SQLite (leave --database out)")
    _empty_folder(into, "restore target")
    for rel in manifest["config_files"]:
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "config" / rel, into / rel)
    db_url = database or "sqlite:///callcost.db"
    config = into / manifest["config"]
    _point_storage(config, db_url)
    shutil.copytree(src / "lake", into / "lake")
    ent = load_config(config)
    if backend == "sqlite":
        shutil.copy2(src / manifest["database"]["file"], sa.engine.make_url(ent.storage.database).database)
    else:
        _pg_restore(src / manifest["database"]["file"], ent.storage.database, ent.scale)
    if manifest["database"].get("pending"):
        with Database(ent.storage.database, ent.scale) as db:
            db.insert_calls(pq.read_table(src / manifest["database"]["pending"]))
    say("database and lake restored; checking figures")
    with Database(ent.storage.database, ent.scale) as db, db.engine.connect() as conn:
        db_figures = _db_figures(conn, db)
    lake_figures = _lake_figures(Path(ent.storage.lake), ent.scale)
    expected_db = {k: manifest["database"][k] for k in ("calls", "money")}
    expected_lake = {k: manifest["lake"][k] for k in ("calls", "money")}
    if db_figures != expected_db:
        raise BackupError(f"restored database holds {db_figures}, the manifest says {expected_db}")
    if {k: lake_figures[k] for k in ("calls", "money")} != expected_lake:
        raise BackupError(f"restored lake holds {lake_figures['calls']} calls {lake_figures['money']}, "
                          f"the manifest says {expected_lake}")
    return RestoreResult(config=config, database=ent.storage.database, calls=db_figures["calls"],
                         money=db_figures["money"], seconds=time.perf_counter() - began)


_STORAGE_TABLE = re.compile(r"(?ms)^\[storage\][^\n]*\n.*?(?=^\[|\Z)")


def _point_storage(config: Path, db_url: str) -> None:
    """Point the restored config's ``[storage]`` at the restored lake and database (all else unchanged)."""
    text = config.read_text(encoding="utf-8")
    original = tomllib.loads(text)
    storage = (f'[storage]\nlake = "lake"\ndatabase = {json.dumps(db_url)}\noffline = "spool"\n'
               f'raw_dump = "raw"\n\n')
    rewritten = _STORAGE_TABLE.sub(lambda _m: "", text) if _STORAGE_TABLE.search(text) else text
    # the [storage] table goes first, before any other table, so no table header can capture its keys
    first_table = re.search(r"(?m)^\[", rewritten)
    at = first_table.start() if first_table else len(rewritten)
    rewritten = rewritten[:at] + storage + rewritten[at:]
    parsed = tomllib.loads(rewritten)
    kept = {k: v for k, v in original.items() if k != "storage"}
    if {k: v for k, v in parsed.items() if k != "storage"} != kept:
        raise BackupError(f"{config}: cannot rewrite its [storage] table safely; edit it by hand")
    extra = {k: v for k, v in original.get("storage", {}).items() if k not in ("lake", "database", "offline", "raw_dump")}
    if extra:
        rewritten = rewritten.replace(storage, storage.rstrip("\n") + "\n" + "".join(
            f"{k} = {json.dumps(v)}\n" for k, v in extra.items()) + "\n", 1)
    config.write_text(rewritten, encoding="utf-8")


def _pg_restore(dump: Path, url: str, scale: int) -> None:
    with Database(url, scale) as db, db.engine.connect() as conn:
        if sa.inspect(conn).has_table("calls"):
            raise BackupError(f"database {db.engine.url.render_as_string(hide_password=True)} already has a "
                              "calls table: restore into an empty database")
    libpq, env = _libpq(url)
    _run([str(find_pg_tool("pg_restore")), "--no-owner", "--exit-on-error", f"--dbname={libpq}", str(dump)],
         env, "pg_restore")
