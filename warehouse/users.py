"""Who may see the figures: users, their API tokens and their dashboard sessions, in the SQL database.

Why in the SQL database (beside ``calls``): it is the one store every callcost process of an enterprise
already shares (CLI, dashboard, collector), it is backed up with the rest, and it works the same on
SQLite and PostgreSQL.  Nothing here knows about Flask or Dash: the dashboard's login
(``dashboards.auth``) and the CLI (``callcost users``) both call :class:`UserStore`.

No secret is stored in plain text:

* passwords are hashed with **argon2id** (``argon2-cffi``, its default, RFC 9106 "low memory" parameters),
  re-hashed on the next login when those parameters change;
* API tokens and session ids are 256 random bits shown once and stored as their **SHA-256**: a token
  that long cannot be guessed or brute-forced from its hash, so a slow hash would buy nothing and
  would make every API call pay ~50 ms; a plain digest can also be looked up by index.

Tables (their own ``MetaData``; :meth:`UserStore.create_tables` creates them on first use):

* ``users`` — name (unique), role (``admin`` | ``manager`` | ``analyst``), sites and departments
  (comma-joined; NULL = not limited by that), the argon2 hash, created / password-changed moments;
* ``api_tokens`` — user, SHA-256 of the token, created, expires (NULL = never), revoked;
* ``web_sessions`` — user, SHA-256 of the session id, the session's CSRF token, created, expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from warehouse.database import UtcDateTime, _sqlite_pragmas
from warehouse.errors import CallcostError

__all__ = ["ROLES", "Session", "User", "UserError", "UserStore", "hash_password", "parse_duration"]

#: ``admin`` sees everything and manages users; ``analyst`` sees everything, read-only; ``manager`` sees
#: only their sites / departments.
ROLES = ("admin", "manager", "analyst")
#: Shortest password accepted: eight characters is the floor NIST SP 800-63B sets for user-chosen ones.
MIN_PASSWORD = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("sites", sa.Text),  # comma-joined site ids; NULL = not limited by site
    sa.Column("departments", sa.Text),  # comma-joined departments; NULL = not limited by department
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("password_changed_at", UtcDateTime, nullable=False),
)
api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime),  # NULL = never
    sa.Column("revoked_at", UtcDateTime),
    sa.Index("ix_api_tokens_user", "user_id"),
)
web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("session_sha256", sa.Text, nullable=False, unique=True),
    sa.Column("csrf", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index("ix_web_sessions_user", "user_id"),
)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so an unknown name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(CallcostError):
    """A user, role, password, token lifetime or scope that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class User:
    """One user as stored (never with the password hash)."""

    id: int
    name: str
    role: str
    sites: frozenset[str] | None
    departments: frozenset[str] | None
    created_at: datetime

    @property
    def scoped(self) -> bool:
        """True for a user who may see only part of the figures (a manager)."""
        return self.role == "manager"


@dataclass(frozen=True)
class Session:
    """A signed-in dashboard session: whose, its CSRF token and when it ends."""

    user: User
    csrf: str
    expires_at: datetime


def hash_password(password: str) -> str:
    """The argon2id hash of *password* (what ``users.password_hash`` holds)."""
    return _hasher.hash(password)


def parse_duration(text: str, what: str = "--expires") -> timedelta | None:
    """``30d``, ``12h``, ``90m``, ``never`` (→ None); a :class:`UserError` naming *what* otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text or "")
    if text and text.strip().lower() == "never":
        return None
    if not m or int(m.group(1)) == 0:
        raise UserError(f"{what} '{text}' is not a lifetime (expected e.g. 30d, 12h, 90m or never)")
    n, unit = int(m.group(1)), m.group(2)
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _joined(values: Iterable[str] | None) -> str | None:
    if values is None:
        return None
    items = sorted({v.strip() for v in values if v.strip()})
    return ",".join(items) if items else None


def _split(text: str | None) -> frozenset[str] | None:
    return frozenset(text.split(",")) if text else None


def _user(row: sa.Row) -> User:
    return User(id=row.id, name=row.name, role=row.role, sites=_split(row.sites),
                departments=_split(row.departments), created_at=row.created_at)


def _now() -> datetime:
    return datetime.now(UTC)


class UserStore:
    """Users, tokens and sessions in the database at *url* (``sqlite:///…`` or ``postgresql+psycopg://…``).

    Creates its tables on first use.  Thread-safe (one SQLAlchemy engine; every method its own
    transaction), so one store serves all of the dashboard's threads.
    """

    def __init__(self, url: str | sa.Engine) -> None:
        try:
            self.engine = url if isinstance(url, sa.Engine) else sa.create_engine(url)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise UserError(f"cannot open database '{url}': {exc}") from exc
        if self.engine.dialect.name == "sqlite":  # the collector writes the same file: wait for it, never fail
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.create_tables()
        # Pooled connections are closed when the store goes away, not left to the GC (PostgreSQL counts them).
        self._finalizer = weakref.finalize(self, self.engine.dispose)

    def __enter__(self) -> UserStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def close(self) -> None:
        self._finalizer()

    # --- users ------------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, sites: Iterable[str] | None = None,
            departments: Iterable[str] | None = None) -> User:
        """A new user.  A manager needs sites or departments (else they would see nothing); the other
        roles see everything, so giving them either is refused rather than ignored."""
        if not _NAME.fullmatch(name or ""):
            raise UserError(f"user name '{name}' is not usable (letters, digits and . _ @ -, up to 64, "
                            "starting with a letter or digit)")
        if role not in ROLES:
            raise UserError(f"role '{role}' is not one of: {', '.join(ROLES)}")
        sites_text, deps_text = _joined(sites), _joined(departments)
        if role == "manager" and sites_text is None and deps_text is None:
            raise UserError(f"a manager sees only their sites or departments: give --sites or --departments "
                            f"for '{name}'")
        if role != "manager" and (sites_text or deps_text):
            raise UserError(f"role '{role}' sees every site and department; --sites/--departments are for managers")
        _check_password(password)
        now = _now()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first() is not None:
                raise UserError(f"user '{name}' already exists (callcost users passwd {name} changes the password)")
            conn.execute(users.insert().values(name=name, role=role, sites=sites_text, departments=deps_text,
                                               password_hash=hash_password(password), created_at=now,
                                               password_changed_at=now))
        return self.get(name)

    def get(self, name: str) -> User:
        """The user called *name*; a :class:`UserError` naming it when there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        if row is None:
            raise UserError(f"no user '{name}' (callcost users list shows them)")
        return _user(row)

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.name))]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def remove(self, name: str) -> None:
        """Delete the user with their tokens and sessions (signed out everywhere at once)."""
        user = self.get(name)
        with self.engine.begin() as conn:
            conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user.id))
            conn.execute(web_sessions.delete().where(web_sessions.c.user_id == user.id))
            conn.execute(users.delete().where(users.c.id == user.id))

    def set_password(self, name: str, password: str) -> None:
        """A new password; the user's dashboard sessions end (whoever knew the old one is signed out)."""
        _check_password(password)
        user = self.get(name)
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user.id)
                         .values(password_hash=hash_password(password), password_changed_at=_now()))
            conn.execute(web_sessions.delete().where(web_sessions.c.user_id == user.id))

    def check_password(self, name: str, password: str) -> User | None:
        """The user when *password* is theirs, else None — as slow for an unknown name as for a wrong password."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(stored):
            with self.engine.begin() as conn:
                conn.execute(users.update().where(users.c.id == row.id).values(password_hash=hash_password(password)))
        return _user(row)

    # --- API tokens -------------------------------------------------------------------------------

    def new_token(self, name: str, expires: timedelta | None = timedelta(days=30)) -> str:
        """A new API token for *name* (shown only now; only its SHA-256 is kept).  *expires* None = never."""
        user = self.get(name)
        token = "cc_" + secrets.token_urlsafe(32)
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(api_tokens.insert().values(user_id=user.id, token_sha256=_sha256(token), created_at=now,
                                                    expires_at=now + expires if expires is not None else None))
        return token

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of *name*; returns how many were revoked."""
        user = self.get(name)
        with self.engine.begin() as conn:
            result = conn.execute(api_tokens.update()
                                  .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None))
                                  .values(revoked_at=_now()))
        return int(result.rowcount)

    def token_user(self, token: str) -> User | None:
        """The user of a live *token*; None for an unknown, expired or revoked one."""
        if not token:
            return None
        query = (sa.select(users, api_tokens.c.expires_at, api_tokens.c.revoked_at)
                 .join(api_tokens, api_tokens.c.user_id == users.c.id)
                 .where(api_tokens.c.token_sha256 == _sha256(token)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= _now()):
            return None
        return _user(row)

    # --- dashboard sessions -----------------------------------------------------------------------

    def new_session(self, user: User, lifetime: timedelta) -> tuple[str, Session]:
        """A new session for *user* ending after *lifetime*: (the id for the cookie, the session)."""
        sid, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _now()
        with self.engine.begin() as conn:
            conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now))  # housekeeping
            conn.execute(web_sessions.insert().values(user_id=user.id, session_sha256=_sha256(sid), csrf=csrf,
                                                      created_at=now, expires_at=now + lifetime))
        return sid, Session(user, csrf, now + lifetime)

    def session(self, sid: str | None) -> Session | None:
        """The live session of cookie value *sid*; None when unknown or expired."""
        if not sid:
            return None
        query = (sa.select(users, web_sessions.c.csrf, web_sessions.c.expires_at)
                 .join(web_sessions, web_sessions.c.user_id == users.c.id)
                 .where(web_sessions.c.session_sha256 == _sha256(sid)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.expires_at <= _now():
            return None
        return Session(_user(row), row.csrf, row.expires_at)

    def end_session(self, sid: str | None) -> None:
        if sid:
            with self.engine.begin() as conn:
                conn.execute(web_sessions.delete().where(web_sessions.c.session_sha256 == _sha256(sid)))


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"the password is too short: at least {MIN_PASSWORD} characters")


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secrets (CSRF tokens); False when either is missing."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
