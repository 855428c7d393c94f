"""Active/standby collectors: each PBX link is held by one ``callcost collect`` through a PostgreSQL advisory lock.

Why the database's lock and not an election of our own: two collectors (two machines, one PostgreSQL,
one lake) must never both serve a link, and the survivor must take over when the other dies however
it dies.  A *session* advisory lock (``pg_try_advisory_lock``) is held by a database connection and
freed by PostgreSQL the moment that connection ends — a clean stop, a ``kill -9``, a machine that lost
power (once TCP keepalive notices).  So the leader election is PostgreSQL's: each collector keeps one
dedicated connection for its locks and, every ``POLL_S``, tries the locks of the links it does not
hold; the first to get a link's lock serves it, the other stands by.

Which lock: the first 8 bytes of SHA-256 of ``callcost-link:<pbx id>`` as a signed bigint, the same in
every collector of every version.  Who holds it is written to ``link_holders`` (host, process id, the
lock connection's backend pid, since when); ``callcost status`` shows a row only while that backend
still holds the lock in ``pg_locks``, so a dead holder's row reads "free" at once.

SQLite has no such lock and no server both collectors could share safely: there is no standby there
(``[cluster] standby = true`` with a SQLite database is refused with a message saying so).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from warehouse.config import Enterprise

log = logging.getLogger("callcost.collector.leases")

#: Seconds between a standby's tries of the locks it does not hold (takeover within about this, after
#: PostgreSQL noticed the dead holder's connection).
POLL_S = 1.0

metadata = sa.MetaData()
holders = sa.Table(
    "link_holders", metadata,
    sa.Column("pbx", sa.Text, primary_key=True),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("backend_pid", sa.Integer, nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)


def lock_key(pbx: str) -> int:
    """The advisory lock of *pbx*'s link (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(f"callcost-link:{pbx}".encode()).digest()[:8], "big", signed=True)


def standby_wanted(ent: Enterprise) -> bool:
    """Whether ``callcost collect`` holds its links through advisory locks: PostgreSQL and ``[cluster] standby``.

    Raises a ``ConfigError`` when ``standby = true`` is set explicitly on a SQLite database.
    """
    table = ent.raw.get("cluster", {})
    on_pg = sa.engine.make_url(ent.storage.database).get_backend_name() == "postgresql"
    if not on_pg and table.get("standby") is True:
        raise ent.config_error("cluster", None, "standby", "active/standby collectors need PostgreSQL: SQLite has no "
                               "lock a second collector could wait on; run one collector, or use PostgreSQL",
                               "standby = false, or a postgresql+psycopg:// [storage] database")
    return on_pg and bool(table.get("standby", True))


class LinkLeases:
    """The advisory locks of one collector, on a connection of their own (blocking calls: run them off the loop)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.conn: sa.Connection | None = None
        self.held: set[str] = set()
        self.host, self.pid = socket.gethostname(), os.getpid()

    def _connection(self) -> sa.Connection:
        if self.conn is None:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            metadata.create_all(conn)
            self.conn = conn
        return self.conn

    def try_take(self, pbx: str) -> bool:
        """Take *pbx*'s lock if it is free (never waits); record who holds it."""
        conn = self._connection()
        if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(lock_key(pbx)))).scalar_one():
            return False
        row = {"pbx": pbx, "host": self.host, "pid": self.pid, "since": datetime.now(UTC),
               "backend_pid": conn.execute(sa.select(sa.func.pg_backend_pid())).scalar_one()}
        conn.execute(postgresql.insert(holders).values(**row)
                     .on_conflict_do_update(index_elements=["pbx"], set_={k: v for k, v in row.items() if k != "pbx"}))
        self.held.add(pbx)
        return True

    def give_up(self, pbx: str) -> None:
        """Release *pbx*'s lock (its transport could not start: another collector may serve it)."""
        if self.conn is not None and pbx in self.held:
            self.conn.execute(sa.select(sa.func.pg_advisory_unlock(lock_key(pbx))))
        self.held.discard(pbx)

    def alive(self) -> bool:
        """The lock connection still answers (else its locks are gone and the links must stop)."""
        if self.conn is None:
            return not self.held
        try:
            self.conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            self.drop()
            return False

    def drop(self) -> None:
        """Forget the connection (its locks are freed by PostgreSQL when it ends)."""
        if self.conn is not None:
            try:
                self.conn.close()
            except sa.exc.SQLAlchemyError:
                pass
        self.conn = None
        self.held.clear()

    def close(self) -> None:
        self.drop()
        self.engine.dispose()


def current_holders(engine: sa.Engine) -> dict[str, str]:
    """PBX → ``host pid N since …`` for every link whose recorded holder still holds its lock (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("link_holders"):
            return {}
        locked = {(int(r.classid) << 32 | int(r.objid), int(r.pid)) for r in conn.execute(sa.text(
            "SELECT classid::bigint AS classid, objid::bigint AS objid, pid FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND objsubid = 1"))}
        out = {}
        for r in conn.execute(sa.select(holders)):
            key = lock_key(r.pbx) & 0xFFFFFFFFFFFFFFFF
            if (key, r.backend_pid) in locked:
                out[r.pbx] = f"{r.host} pid {r.pid} since {r.since.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"
        return out
