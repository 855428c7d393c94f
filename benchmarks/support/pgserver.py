"""A throw-away PostgreSQL server for tests and benchmarks: initdb a temp dir, start, hand out a URL, stop.

Used by ``tests/conftest.py`` (one server per pytest-xdist worker) and ``benchmarks/bench_storage.py``.
It never touches a cluster the OS package may have started: its own data directory under ``/tmp``,
its own free port on 127.0.0.1 and its own unix-socket directory.

PostgreSQL refuses to run as root, so as root every server command runs as the ``postgres`` OS user
(created by Debian's ``postgresql`` package) via ``runuser``, and the temp dir is chowned to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

INSTALL_HINT = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"

#: Settings for a test server: durability off (a crash loses a throw-away database), small footprint.
FAST = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c shared_buffers=64MB -c max_connections=50")


class PgServerError(RuntimeError):
    """The server could not be found, initialised or started (the message says why and how to fix it)."""


def find_bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: ``$PATH`` first, then Debian's versioned directories."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parents[1].name) if Path(p).parents[1].name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    raise PgServerError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    """One running server; ``start()`` then ``url(dbname)``; ``stop()`` removes everything it made."""

    settings: str = FAST
    bindir: Path = field(default_factory=find_bindir)
    port: int = 0
    base: Path | None = None
    _as_user: list[str] = field(default_factory=list)
    _opts: str = ""

    @property
    def datadir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def start(self) -> "PgServer":
        self.base = Path(tempfile.mkdtemp(prefix="callcost-pg-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PgServerError("running as root but there is no 'postgres' OS user: apt-get install postgresql") from None
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        last = ""
        for _ in range(5):  # a port found free can be taken by someone else before the server binds it
            self.port = free_port()
            opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 {self.settings}"
            proc = self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.base / "server.log"),
                             "-o", opts, "-w", "-t", "60", "start", check=False)
            if proc.returncode == 0:
                self._opts = opts
                return self
            last = proc.stdout + proc.stderr + self.log()
        self.cleanup()
        raise PgServerError(f"PostgreSQL did not start:\n{last}")

    def create_database(self, name: str, template: str = "template0") -> str:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {template}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def database(self, name: str) -> Iterator[str]:
        """A fresh database's URL for the ``with`` block; dropped after it."""
        url = self.create_database(name)
        try:
            yield url
        finally:
            self.drop_database(name)

    def log(self) -> str:
        log = self.base / "server.log" if self.base else None
        return log.read_text(errors="replace") if log and log.exists() else ""

    def stop(self) -> None:
        if self.base is None:
            return
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop", check=False)
        self.cleanup()

    def crash(self) -> None:
        """``pg_ctl stop -m immediate``: the server dies without a checkpoint, as in a power cut (the data dir stays)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def restart(self) -> None:
        """Start again on the same data dir and port after :meth:`crash` (crash recovery replays the WAL)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.base / "server.log"), "-o", self._opts,
                  "-w", "-t", "60", "start")

    def cleanup(self) -> None:
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self._as_user, str(self.bindir / tool), *args]
        # cwd: the postgres user must be able to enter it (root's home or a pytest tmp dir it cannot)
        proc = subprocess.run(cmd, cwd=self.base, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=120)
        if check and proc.returncode != 0:
            raise PgServerError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
