"""Bulk import and re-rate on a real Dask ``LocalCluster`` of 2 worker processes (issue 21).

The cluster path must store exactly what the one-process path stores: the same files (same paths, so the
same ``raw_ref``) are imported by both into two enterprises on PostgreSQL that differ only in their
database and lake, and the lakes, the databases and the ingest accounts are compared row for row — then
a tariff changes and both are re-rated.  A worker SIGKILLed after writing its lake files and before
returning its task: Dask runs the task again, and every record is stored once.  The coordinator (``callcost
import --cluster local:2``) SIGKILLed mid-run with its workers: the same command again doubles nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from clusterkit import PBX, cucm_files, database_rows, enterprise_at, lake_ids, lake_rows
from crashkit import count_calls

from analytics.cluster_rerate import rerate_on_cluster
from analytics.rerate import rerate
from collector.cluster_import import KILL_ONCE_ENV, import_on_cluster
from collector.connectors.base import connector_for
from collector.importer import import_files, pbx_context
from warehouse import cluster, ingest
from warehouse.config import load_config
from warehouse.store import Store

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CDRS = 8_000
TASK_BYTES = 256 << 10  # a dozen tasks for the 2 workers


@pytest.fixture(scope="module")
def client():
    with cluster.connect("local:2") as c:
        yield c


@pytest.fixture()
def two(tmp_path, pg_server):
    """The one-process and the cluster enterprise, each on a PostgreSQL database of its own, and the files."""
    with pg_server.database(f"one{os.getpid()}") as one_url, pg_server.database(f"many{os.getpid()}") as many_url:
        one, many = enterprise_at(tmp_path / "one", one_url), enterprise_at(tmp_path / "many", many_url)
        yield one, many, cucm_files(one, CDRS)


def _accounts(ent) -> dict:
    store = Store(ent)
    with store.begin() as conn:
        totals = ingest.totals(conn)
        segments = conn.execute(sa.select(ingest.segments.c.stream, ingest.segments.c.received,
                                          ingest.segments.c.parsed, ingest.segments.c.sha256)
                                .order_by(ingest.segments.c.stream)).all()
    store.db.close()
    return {"totals": totals, "segments": [tuple(r) for r in segments]}


def test_import_and_rerate_on_two_workers_equal_one_process(two, client):
    one, many, files = two
    single = import_files(one, PBX, files, store=Store(one))
    spread = import_on_cluster(many, PBX, files, store=Store(many), client=client, task_bytes=TASK_BYTES)
    assert single.parsed > CDRS * 0.9 and single.stored == single.parsed
    assert (spread.files, spread.records, spread.parsed, spread.stored, spread.duplicates, spread.unrated) == (
        single.files, single.records, single.parsed, single.stored, single.duplicates, single.unrated)
    assert lake_rows(many).equals(lake_rows(one))
    assert database_rows(many) == database_rows(one)
    assert _accounts(many) == _accounts(one)

    for ent in (one, many):  # acme's weekday local rate goes up: the re-rate must reprice those calls
        tariff = ent.root / "tariffs" / "acme.csv"
        tariff.write_text(tariff.read_text(encoding="utf-8").replace(",0.0120,", ",0.0190,"), encoding="utf-8")
    one, many = load_config(one.path), load_config(many.path)
    lo, hi = date(2026, 1, 1), date(2026, 12, 31)
    r1 = rerate(one, lo, hi)
    r2 = rerate_on_cluster(many, lo, hi, client=client)
    assert r1.changed > 0 and r2.changed > 0
    # chains straddling two tasks' days are re-rated by both: the counts of changes may differ, not the result
    assert (r2.days, r2.calls, r2.after.minor, r2.after.unrated, r2.tariff_versions) == (
        r1.days, r1.calls, r1.after.minor, r1.after.unrated, r1.tariff_versions)
    assert lake_rows(many).equals(lake_rows(one))
    assert database_rows(many) == database_rows(one)
    assert rerate_on_cluster(many, lo, hi, client=client).written == 0  # idempotent


def test_a_worker_killed_mid_import_loses_and_doubles_nothing(tmp_path, pg_server, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_ONCE_ENV, str(marker))  # inherited by the workers the cluster spawns
    with pg_server.database(f"kill{os.getpid()}") as url:
        ent = enterprise_at(tmp_path / "ent", url)
        files = cucm_files(ent, CDRS)
        with cluster.connect("local:2") as c:
            pids_before = set(c.run(os.getpid).values())
            report = import_on_cluster(ent, PBX, files, store=Store(ent), client=c, task_bytes=TASK_BYTES)
            pids_after = set(c.run(os.getpid).values())
        assert marker.exists(), "no worker was killed"
        assert pids_before - pids_after, "the killed worker is still listed"
        ids = lake_ids(ent)
        assert len(ids) == len(set(ids)) == report.parsed == report.stored > CDRS * 0.9
        assert report.duplicates == 0 and report.files == len(files)
        assert sorted(r["call_id"] for r in database_rows(ent)) == sorted(ids)
        totals = _accounts(ent)["totals"][PBX]
        assert totals["received"] == totals["stored"] == len(ids)  # each file accounted once


def test_a_bad_local_address_is_a_clear_error():
    with pytest.raises(cluster.ClusterError, match="local:N"):
        with cluster.connect("local:0"):
            pass


def test_the_cluster_verbs_take_the_address_from_the_config():
    assert cluster.address_for({"cluster": {"address": "local:3"}}, None) == "local:3"
    assert cluster.address_for({"cluster": {"address": "local:3"}}, "tcp://h:8786") == "tcp://h:8786"
    assert cluster.address_for({}, None) is None


def test_chunks_keep_file_order_and_give_each_worker_several_tasks():
    groups = cluster.chunks(list(range(10)), [1] * 10, 100, at_least=4)
    assert [x for g in groups for x in g] == list(range(10)) and len(groups) >= 4
    assert cluster.chunks([], [], 10) == []


def test_the_coordinator_killed_mid_import_then_rerun_doubles_nothing(tmp_path, pg_server):
    """``callcost import --cluster local:2`` SIGKILLed once some tasks are in the database (its workers with
    it: the process group); the same command again completes the import, and every call is stored once."""
    with pg_server.database(f"coord{os.getpid()}") as url:
        ent = enterprise_at(tmp_path / "ent", url)
        files = cucm_files(ent, 20_000)
        connector = connector_for("cucm", pbx_context(ent, PBX))
        expected = {i for k in range(0, len(files), 64) for i in connector.parse_many(
            [(p.read_bytes(), str(p)) for p in files[k:k + 64]]).calls.column("call_id").to_pylist()}
        cmd = [sys.executable, "-m", "callcost", "import", "--pbx", PBX, "--cluster", "local:2",
               "--config", str(ent.path), *map(str, files)]
        with open(tmp_path / "first.log", "wb") as log:
            first = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while count_calls(url) <= 0 and first.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            mid = count_calls(url)
            os.killpg(first.pid, signal.SIGKILL)  # the coordinator and every worker it started
        finally:
            first.wait(30)
        assert 0 < mid < len(expected), f"not killed mid-run: {mid} of {len(expected)} stored"
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        ids = lake_ids(ent)
        assert len(ids) == len(set(ids)) and set(ids) == expected
        assert count_calls(url) == len(expected)
        totals = _accounts(ent)["totals"][PBX]
        assert totals["received"] == totals["stored"] + totals["already_stored"] + totals["quarantined"]
        assert totals["stored"] <= len(expected)  # a call is counted stored once, whichever run stored it


def test_a_long_lived_worker_sees_a_tariff_edited_between_two_imports(tmp_path):
    """The worker's cached config and rating stage are rebuilt when a tariff file changes (run in this process:
    a worker runs ``import_task`` the same way)."""
    from collector.cluster_import import import_task

    ent = enterprise_at(tmp_path / "ent")
    files = [str(p) for p in cucm_files(ent, 3_000)[:40]]

    def acme_cost() -> int:
        calls = import_task(str(ent.path), PBX, files).calls
        acme = calls.filter(pc.equal(calls.column("carrier"), "acme"))
        return sum(v for v in acme.column("actual_cost").to_pylist() if v is not None)

    before = acme_cost()
    tariff = ent.root / "tariffs" / "acme.csv"
    tariff.write_text(tariff.read_text(encoding="utf-8").replace(",0.0120,", ",0.0190,"), encoding="utf-8")
    assert acme_cost() > before
