"""Bulk import and re-rate on a real Dask ``LocalCluster`` of 2 worker processes (issue 21).

The cluster path must store exactly what the one-process path stores: the same files (same paths, so the
same ``raw_ref``) are imported by both into two enterprises on PostgreSQL that differ only in their
database and lake, and the lakes, the databases and the ingest accounts are compared row for row — then
a tariff changes and both are re-rated.  A worker SIGKILLed after writing its lake files and before
returning its task: Dask runs the task again, and every record is stored once.
"""

from __future__ import annotations

import os
from datetime import date

import pytest
import sqlalchemy as sa
from clusterkit import PBX, cucm_files, database_rows, enterprise_at, lake_ids, lake_rows

from analytics.cluster_rerate import rerate_on_cluster
from analytics.rerate import rerate
from collector.cluster_import import KILL_ONCE_ENV, import_on_cluster
from collector.importer import import_files
from warehouse import cluster, ingest
from warehouse.config import load_config
from warehouse.store import Store

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CDRS = 12_000
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
    assert r1.changed > 0
    assert (r2.days, r2.calls, r2.changed, r2.written, r2.newly_priced, r2.before.minor, r2.after.minor,
            r2.tariff_versions) == (r1.days, r1.calls, r1.changed, r1.written, r1.newly_priced, r1.before.minor,
                                    r1.after.minor, r1.tariff_versions)
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


def test_a_rerun_after_the_coordinator_stopped_midway_doubles_nothing(tmp_path, pg_server, client):
    """The coordinator gone after half the tasks (their lake files written, half of them in the database):
    the rerun stores the rest, counts the others as already stored, and no call is held twice."""
    with pg_server.database(f"rerun{os.getpid()}") as url:
        ent = enterprise_at(tmp_path / "ent", url)
        files = cucm_files(ent, CDRS)
        half = files[: len(files) // 2]
        import_task_only = cluster.chunks(half, cluster.file_sizes(half), TASK_BYTES)
        from collector.cluster_import import import_task

        for group in import_task_only:  # workers finished these; the coordinator died before loading them
            client.submit(import_task, str(ent.path), PBX, [str(p) for p in group], pure=False).result()
        first = import_on_cluster(ent, PBX, files[: len(files) // 4], store=Store(ent), client=client,
                                  task_bytes=TASK_BYTES)
        again = import_on_cluster(ent, PBX, files, store=Store(ent), client=client, task_bytes=TASK_BYTES)
        ids = lake_ids(ent)
        assert len(ids) == len(set(ids)) == first.stored + again.stored
        assert again.duplicates == first.stored
        assert len(database_rows(ent)) == len(ids)


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
