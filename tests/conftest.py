"""Fixtures the whole suite shares: a real PostgreSQL server, a SQL URL per backend, the shared folder.

* ``postgres_url`` — session-scoped: this pytest process (each xdist worker) starts its own server
  (``benchmarks/support/pgserver.py``) on a free port and stops it at the end.  Missing server binaries are a
  failure, not a skip: the suite's promise is that both backends are tested.
* ``db_url`` — parametrised over ``sqlite`` and ``postgresql``; each test gets an empty database of
  its own (a file in ``tmp_path``, or a fresh ``CREATE DATABASE`` dropped afterwards).
* ``shared_dir`` — ``../shared`` beside the repository (SPEC, samples, reference).

The harness the tests share with the benchmarks (throw-away PostgreSQL, crash harness, synthetic calls,
sample enterprises, remote-unit TLS) lives in ``benchmarks/support/`` — on the path through
``pythonpath`` in pyproject.toml — because benchmarks depend on the product only, never on ``tests/``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgserver import PgServer, PgServerError

REPO_ROOT = Path(__file__).resolve().parents[1]
_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        server = PgServer().start()
    except PgServerError as exc:
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        server.create_database("callcost_test")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(pg_server: PgServer) -> str:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT/callcost_test`` on this worker's own server."""
    return pg_server.url("callcost_test")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend, private to the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/callcost.db"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with server.database(f"t{os.getpid()}_{next(_databases)}") as url:
        yield url


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder beside the repository; the suite reads samples from there, never copies them."""
    shared = REPO_ROOT.parent / "shared"
    if not shared.is_dir():
        pytest.fail(f"shared folder not found at {shared} (expected ../shared beside the repository)", pytrace=False)
    return shared
