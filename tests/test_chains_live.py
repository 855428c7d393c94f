"""Call chains in the live collector (issue 17): legs of one conversation that reach a running collector in
different batches — or on both sides of a restart — are stitched into one chain, the stored legs re-priced
in place, and the ingest accounting stays exact.

Real parts: a :class:`~collector.service.CollectorService` on its own event loop, Asterisk CSV sent over
real TCP sockets, a real SQLite database and Parquet lake.  The records are ``tests/data/chains``'s
Asterisk blind transfer (``test_chains.test_asterisk_blind_transfer`` works its figures out by hand: one
carrier call of 305 s → 0.11, shared 100 : 200 s as 0.03 + 0.08; the third, internal call costs 0).
"""

from __future__ import annotations

import socket
from decimal import Decimal

import pyarrow as pa
import pytest
from collectorkit import count, running, wait_for
from crashkit import durable_pg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.rating.stage import RatingStage
from chainkit import DATA, parse, write_enterprise
from warehouse import lake
from warehouse.config import load_config

D = Decimal
LINES = (DATA / "asterisk_blind_transfer.csv").read_bytes().splitlines(keepends=True)


def _live_enterprise(root):
    """chainkit's enterprise with its Asterisk box sending CDRs over TCP (small batches, so each send is one)."""
    path = write_enterprise(root)
    text = path.read_text().replace('id = "ast"\ntype = "asterisk"\n',
                                    'id = "ast"\ntype = "asterisk"\nsource = "tcp:127.0.0.1:0"\n', 1)
    text = text.replace("[[site]]", "[collector]\nbatch_ms = 100\n\n[[site]]", 1)
    path.write_text(text)
    return load_config(path)


def _send(svc, lines: list[bytes], stored_before: int) -> None:
    """*lines* over one TCP connection; returns once the collector has stored them (its own batch)."""
    with socket.create_connection(svc.transports["ast"].address) as s:
        s.sendall(b"".join(lines))
    metrics = svc.pipeline.metrics["ast"]
    wait_for(lambda: metrics.stored >= stored_before + len(lines) and metrics.sessions_open == 0,
             what=f"{len(lines)} more legs stored", state=lambda: metrics)


def _summary(table: pa.Table) -> dict[str, tuple]:
    return {r["call_id"]: (r["chain_id"], r["leg_role"], r["carrier_call_id"], r["actual_cost"], r["reference_cost"],
                           None if r["billable_s"] is None else int(r["billable_s"])) for r in table.to_pylist()}


def _in_store(ent, db_url: str) -> tuple[dict, dict]:
    """The stored legs as (database, lake) summaries."""
    from warehouse.store import Store

    store = Store(ent, database_url=db_url)
    try:
        in_db = _summary(pa.Table.from_pandas(store.db.read_calls(), preserve_index=False))
    finally:
        store.db.close()
    in_lake = _summary(lake.read_calls(ent.storage.lake, scale=ent.scale))
    return in_db, in_lake


def _accounting(db_url: str) -> tuple[int, int, int]:
    return (count(db_url, "select sum(received) from ingest_segments"),
            count(db_url, "select sum(parsed) from ingest_segments"),
            count(db_url, "select count(*) from calls"))


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """The three legs rated as one batch (what an import of the whole file stores)."""
    ent = load_config(write_enterprise(tmp_path_factory.mktemp("one-batch")))
    return _summary(RatingStage(ent).rate_batch(parse(ent, "ast", [DATA / "asterisk_blind_transfer.csv"])))


def test_a_transfer_whose_legs_arrive_in_two_batches_is_priced_once(tmp_path, expected):
    """The original leg is stored alone (0.07 with its own connect fee); when the transferred leg arrives in a
    later batch, the stored original is re-priced in place (database and lake) to its 0.03 share."""
    ent = _live_enterprise(tmp_path)
    db_url = f"sqlite:///{tmp_path}/live.db"
    with running(ent, db_url, pbx_ids=["ast"]) as svc:
        _send(svc, LINES[:1], 0)
        alone, _ = _in_store(ent, db_url)
        [(first_id, first)] = alone.items()
        assert (first[1], first[3]) == ("original", D("0.07"))  # priced as a call of its own so far
        _send(svc, LINES[1:], 1)
        batches = svc.pipeline.batches_stored
    assert batches >= 2
    in_db, in_lake = _in_store(ent, db_url)
    assert in_db == in_lake == expected
    assert in_db[first_id][3] == D("0.03")
    assert sum(v[3] for v in in_db.values()) == D("0.11")  # the carrier call once, not 0.07 + 0.08
    assert _accounting(db_url) == (3, 3, 3)  # the re-priced leg is not counted twice


def test_a_restart_between_the_legs_still_prices_the_carrier_call_once(tmp_path, expected):
    """Open chains are the stored legs: a collector started after the first leg was stored joins the rest to it."""
    ent = _live_enterprise(tmp_path)
    db_url = f"sqlite:///{tmp_path}/live.db"
    with running(ent, db_url, pbx_ids=["ast"]) as svc:
        _send(svc, LINES[:1], 0)
    with running(ent, db_url, pbx_ids=["ast"]) as svc:  # a new process: nothing held in memory
        _send(svc, LINES[1:], 0)
    in_db, in_lake = _in_store(ent, db_url)
    assert in_db == in_lake == expected
    assert _accounting(db_url) == (3, 3, 3)


def test_legs_that_arrive_while_the_database_is_down_are_joined_when_the_spool_drains(tmp_path, expected):
    """The original leg is stored; PostgreSQL crashes; the transferred legs go to the offline spool unjoined
    (the open chains are in the database).  When it answers, each drained batch is joined to its stored
    chain first: the original is re-priced to its share and the carrier call counts once."""
    server = durable_pg()
    try:
        ent = _live_enterprise(tmp_path)
        url = server.create_database("chains_spool")
        with running(ent, url, pbx_ids=["ast"]) as svc:
            writer = svc.pipeline.writer
            writer.retry_initial_s, writer.retry_max_s = 0.05, 0.3
            _send(svc, LINES[:1], 0)
            server.crash()  # pg_ctl stop -m immediate
            _send(svc, LINES[1:2], 1)
            _send(svc, LINES[2:], 2)
            assert not writer.online and writer.status()["backlog_batches"] >= 2
            server.restart()
            wait_for(lambda: writer.online, what="backlog drained", state=writer.status)
        in_db, in_lake = _in_store(ent, url)
        assert in_db == in_lake == expected
        assert sum(v[3] for v in in_db.values()) == D("0.11")  # one carrier call, not 0.07 + 0.08
        assert _accounting(url) == (3, 3, 3)
    finally:
        server.stop()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_arrival_order_and_batching_never_change_the_live_result(tmp_path_factory, expected, data):
    """The legs in any order, cut into any batches sent one after another: the same chains and shares."""
    order = data.draw(st.permutations(range(len(LINES))))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(LINES) - 1), max_size=2)))
    root = tmp_path_factory.mktemp("live-order")
    ent = _live_enterprise(root)
    db_url = f"sqlite:///{root}/live.db"
    with running(ent, db_url, pbx_ids=["ast"]) as svc:
        sent = 0
        for lo, hi in zip([0, *cuts], [*cuts, len(LINES)]):
            _send(svc, [LINES[k] for k in order[lo:hi]], sent)
            sent += hi - lo
    in_db, in_lake = _in_store(ent, db_url)
    assert in_db == in_lake == expected
    assert _accounting(db_url) == (3, 3, 3)
