"""Remote unit ↔ centre with real parts: TCP PBX client → remote unit (outbox, forwarder) → real loopback
HTTPS with a test CA → the centre's ``https:`` transport → SQL DB + lake.

Checked: the centre stopped mid-stream and restarted → every call exactly once in its DB and lake; a
unit restarted (as a real ``callcost collect --remote-unit`` process) with a backlog delivers it, no
duplicates; a replayed batch is acknowledged as a duplicate without double counting, also by a
restarted centre; a wrong token → 401, nothing stored; an untrusted certificate is refused by the
unit (TLS verification on); a unit killed with ``kill -9`` feeds and counts nothing twice; outbox ids
keep growing across restarts; check-config names the fields.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for
from remotekit import centre_config, free_port, make_tls, running_unit, unit_config

from callcost.checks import check_enterprise
from collector.health import health_document, prometheus_text
from collector.recovery import CRASH_REASON
from collector import wire
from collector.remote.outbox import Outbox
from warehouse import lake
from warehouse.config import Enterprise
from warehouse.database import Database

TOKEN = "s3cret-token-for-tests"


# --- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> dict[str, Path]:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(autouse=True)
def token(monkeypatch) -> str:
    monkeypatch.setenv("CALLCOST_REMOTE_TOKEN", TOKEN)
    return TOKEN


def _ids(*payloads: bytes) -> set[str]:
    return {f"lon-csv:{line.split(b',')[0].decode()}" for p in payloads for line in p.splitlines()}


def _check_exactly_once(ent: Enterprise, url: str, expected: set[str]) -> None:
    assert count(url, "select count(*) from calls") == len(expected)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.text("select call_id from calls"))}
        records = conn.execute(sa.text("select coalesce(sum(received), 0) from ingest_account")).scalar_one()
        parsed = conn.execute(sa.text("select coalesce(sum(parsed), 0) from ingest_segments")).scalar_one()
    engine.dispose()
    assert ids == expected
    assert records == parsed == len(expected)  # accounting counted every batch once
    in_lake = lake.read_calls(ent.storage.lake, scale=ent.scale)
    assert in_lake.num_rows == len(expected) and set(in_lake.column("call_id").to_pylist()) == expected


def _reference_totals(tmp_path: Path, payload: bytes, n: int) -> dict:
    """The same CDRs straight into a central collector over plain TCP (no remote unit)."""
    ent = enterprise_with(tmp_path / "reference", {"lon-csv": "tcp:127.0.0.1:0"}, collector="batch_ms = 100")
    url = f"sqlite:///{tmp_path}/reference.db"
    with running(ent, url, pbx_ids=["lon-csv"]) as svc:
        with socket.create_connection(svc.transports["lon-csv"].address) as s:
            s.sendall(HEADER + payload)
            wait_for(lambda: svc.pipeline.metrics["lon-csv"].stored >= n, what="reference run stored")
    with Database(url, ent.scale) as db:
        totals = db.money_totals()
    return {**totals, "rated": count(url, "select count(*) from calls where rating_status = 'rated'")}


def _outbox_rows(folder: Path) -> int:
    """Calls waiting in an outbox, read from disk (the unit may be another process)."""
    return sum(wire.decode(p.read_bytes()).calls.num_rows for p in sorted(folder.glob("*.batch")))


def _post(port: int, body: bytes, *, unit: str, batch_id: int, token: str | None, ca: Path) -> tuple[int, dict]:
    conn = http.client.HTTPSConnection("localhost", port, context=ssl.create_default_context(cafile=str(ca)),
                                       timeout=10)
    headers = {wire.H_UNIT: unit, wire.H_BATCH: str(batch_id), wire.H_SHA256: wire.sha256(body)}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", wire.PATH, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


# --- tests ------------------------------------------------------------------------------------------

def test_centre_down_mid_stream_then_back_every_call_exactly_once(tmp_path, tls, db_url):
    port = free_port()
    centre = centre_config(tmp_path / "centre", port, tls)
    unit_ent = unit_config(tmp_path / "unit", port, tls["ca"])
    before, during, after = csv_records(300, prefix="a"), csv_records(200, prefix="b"), csv_records(100, prefix="c")
    with running_unit(unit_ent) as unit:
        status = unit.writer.status
        with socket.create_connection(unit.transports["lon-csv"].address) as pbx:
            with running(centre, db_url, pbx_ids=["lon-csv"]) as svc:
                pbx.sendall(HEADER + before)
                wait_for(lambda: count(db_url, "select count(*) from calls") == 300, what="first calls at the centre",
                         state=status)
                wait_for(lambda: status()["backlog_batches"] == 0, what="outbox empty")
                assert status()["centre_online"] and status()["last_acked_batch"] >= 1
                listening = svc.transports["lon-csv"].describe()
                assert listening["units"]["lon-unit-1"]["calls"] == 300
            # the centre is down: the unit keeps taking calls from the PBX into its outbox
            pbx.sendall(during)
            wait_for(lambda: status()["backlog_rows"] == 200, what="calls queued in the outbox", state=status)
            wait_for(lambda: status()["centre_online"] is False, what="failed delivery noticed", state=status)
            st = status()
            assert st["last_error"] and st["oldest_age_s"] is not None and TOKEN not in json.dumps(st)
            wait_for(lambda: unit.service.pipeline.metrics["lon-csv"].stored == 500, what="stored, for the pipeline")
            doc = health_document(unit.service)  # the unit's /health and /metrics show the backlog
            assert doc["storage"]["mode"] == "remote-unit" and doc["storage"]["backlog_rows"] == 200
            assert "callcost_offline_backlog_rows 200" in prometheus_text(unit.service)
            with running(centre, db_url, pbx_ids=["lon-csv"]):  # back: the backlog goes first, in order
                wait_for(lambda: count(db_url, "select count(*) from calls") == 500, what="backlog delivered",
                         state=status)
                pbx.sendall(after)
                wait_for(lambda: count(db_url, "select count(*) from calls") == 600, what="later calls", state=status)
                wait_for(lambda: status()["backlog_batches"] == 0, what="outbox empty")
        # the link's end (its last segment, and the "closed" event) travels as batches of their own
        with running(centre, db_url, pbx_ids=["lon-csv"]):
            wait_for(lambda: count(db_url, "select count(*) from collector_events where kind = 'closed'") == 1
                     and count(db_url, "select count(*) from ingest_segments where final") == 1
                     and status()["backlog_batches"] == 0, what="link end delivered", state=status)
    _check_exactly_once(centre, db_url, _ids(before, during, after))
    assert count(db_url, "select count(*) from collector_events where kind = 'closed' and pbx = 'lon-csv'") == 1
    with Database(db_url, centre.scale) as db:  # rated at the centre: the same figures as a direct collector
        totals = {**db.money_totals(), "rated": count(db_url, "select count(*) from calls where rating_status = 'rated'")}
    assert totals == _reference_totals(tmp_path, before + during + after, 600)
    assert not list(Path(unit_ent.path.parent / "outbox").glob("*.batch"))


def _start_unit_process(unit_ent, tcp_port: int, stdout: int) -> subprocess.Popen:
    """``callcost collect --remote-unit`` as a real process, once its PBX port accepts connections."""
    command = [sys.executable, "-m", "callcost", "collect", "--remote-unit", "--config", str(unit_ent.path)]
    proc = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: _connects(tcp_port) or proc.poll() is not None, timeout=30, what="unit listening")
    assert proc.poll() is None, proc.communicate()
    return proc


def test_unit_process_restarted_with_a_backlog_delivers_it_once_and_replays_are_duplicates(tmp_path, tls, caplog):
    port, tcp_port = free_port(), free_port()
    url = f"sqlite:///{tmp_path}/centre.db"
    centre = centre_config(tmp_path / "centre", port, tls)
    unit_ent = unit_config(tmp_path / "unit", port, tls["ca"], tcp_port=tcp_port)
    outbox = unit_ent.path.parent / "outbox"
    first, second = csv_records(200, prefix="a"), csv_records(100, prefix="b")

    def start_unit() -> subprocess.Popen:
        return _start_unit_process(unit_ent, tcp_port, subprocess.PIPE)

    def stop_unit(proc: subprocess.Popen) -> str:
        proc.send_signal(signal.SIGTERM)
        out, errors = proc.communicate(timeout=30)
        assert proc.returncode == 0, errors
        assert TOKEN not in out + errors
        return errors

    with running_unit(unit_ent):  # the centre is not there yet
        with socket.create_connection(("127.0.0.1", tcp_port)) as pbx:
            pbx.sendall(HEADER + first)
            wait_for(lambda: _outbox_rows(outbox) == 200, what="calls in the outbox")
    assert "not yet acknowledged" in caplog.text and TOKEN not in caplog.text
    backlog = sorted(outbox.glob("*.batch"))
    assert backlog and _outbox_rows(outbox) == 200
    replay = backlog[0].read_bytes()
    last_id = int((outbox / "last_id").read_text())

    with running(centre, url, pbx_ids=["lon-csv"]) as svc:
        unit = start_unit()  # restarted, as a real `callcost collect --remote-unit` process: backlog first
        try:
            wait_for(lambda: count(url, "select count(*) from calls") == 200, what="backlog delivered")
            with socket.create_connection(("127.0.0.1", tcp_port)) as pbx:
                pbx.sendall(HEADER + second)
            wait_for(lambda: count(url, "select count(*) from calls") == 300, what="new calls delivered")
            wait_for(lambda: not list(outbox.glob("*.batch")), what="outbox empty")
        finally:
            stop_unit(unit)
        assert int((outbox / "last_id").read_text()) > last_id  # ids keep growing across the restart
        units = svc.transports["lon-csv"].describe()["units"]["lon-unit-1"]
        assert units["last_batch"] == int((outbox / "last_id").read_text())
        # a replay of an already stored batch, to the same centre: acknowledged, counted once
        batches = count(url, "select count(*) from ingest_account")
        assert _post(port, replay, unit="lon-unit-1", batch_id=int(backlog[0].stem), token=TOKEN,
                     ca=tls["ca"]) == (200, {"status": "duplicate", "batch": int(backlog[0].stem)})
    with running(centre, url, pbx_ids=["lon-csv"]):  # and to a restarted centre (dedupe from the DB)
        status, answer = _post(port, replay, unit="lon-unit-1", batch_id=int(backlog[0].stem), token=TOKEN,
                               ca=tls["ca"])
        assert (status, answer["status"]) == (200, "duplicate")
    assert count(url, "select count(*) from ingest_account") == batches
    assert count(url, "select count(*) from collector_batch_commits where batch_key like 'remote:lon-unit-1:%'") \
        == int((outbox / "last_id").read_text())  # every batch (calls and events) committed once
    _check_exactly_once(centre, url, _ids(first, second))
    unit_db = f"sqlite:///{unit_ent.path.parent / 'callcost.db'}"  # the unit's own accounting: what went out
    assert count(unit_db, "select coalesce(sum(parsed), 0) from ingest_segments") == 300
    assert count(unit_db, "select count(*) from calls") == 0


def test_unit_killed_with_a_backlog_resends_nothing_twice(tmp_path, tls):
    """``kill -9`` of the unit process: the outbox and the unit's own accounting say what is durable, so the
    raw-dump recovery of the next start feeds nothing again, and the centre counts every call once."""
    port, tcp_port = free_port(), free_port()
    url = f"sqlite:///{tmp_path}/centre.db"
    centre = centre_config(tmp_path / "centre", port, tls)
    unit_ent = unit_config(tmp_path / "unit", port, tls["ca"], tcp_port=tcp_port)
    unit_db = f"sqlite:///{unit_ent.path.parent / 'callcost.db'}"
    outbox = unit_ent.path.parent / "outbox"
    first, second = csv_records(200, prefix="a"), csv_records(50, prefix="b")

    def start_unit() -> subprocess.Popen:
        return _start_unit_process(unit_ent, tcp_port, subprocess.DEVNULL)

    unit = start_unit()  # the centre is down
    try:
        with socket.create_connection(("127.0.0.1", tcp_port)) as pbx:
            pbx.sendall(HEADER + first)
            wait_for(lambda: _outbox_rows(outbox) == 200
                     and count(unit_db, "select coalesce(sum(parsed), 0) from ingest_segments") == 200,
                     what="calls in the outbox and accounted on the unit")
            unit.kill()  # SIGKILL, the link still open
            unit.communicate(timeout=30)
    finally:
        if unit.poll() is None:
            unit.kill()
    with running(centre, url, pbx_ids=["lon-csv"]):
        unit = start_unit()
        try:
            wait_for(lambda: count(url, "select count(*) from calls") == 200, what="backlog delivered")
            with socket.create_connection(("127.0.0.1", tcp_port)) as pbx:
                pbx.sendall(HEADER + second)
            wait_for(lambda: count(url, "select count(*) from calls") == 250, what="new calls delivered")
        finally:
            unit.send_signal(signal.SIGTERM)
            _, errors = unit.communicate(timeout=30)
        assert unit.returncode == 0, errors
        wait_for(lambda: not list(outbox.glob("*.batch")), what="outbox empty")
    _check_exactly_once(centre, url, _ids(first, second))
    # the unit's recovery closed the killed link (and fed nothing again): its close reached the centre
    assert count(url, f"select count(*) from collector_events where detail = '{CRASH_REASON}'") == 1


def test_wrong_token_is_refused_and_nothing_is_stored(tmp_path, tls, monkeypatch):
    port = free_port()
    url = f"sqlite:///{tmp_path}/centre.db"
    centre = centre_config(tmp_path / "centre", port, tls)
    monkeypatch.setenv("WRONG_TOKEN", "not-the-token")
    unit_ent = unit_config(tmp_path / "unit", port, tls["ca"], token_env="WRONG_TOKEN")
    with running(centre, url, pbx_ids=["lon-csv"]) as svc, running_unit(unit_ent) as unit:
        with socket.create_connection(unit.transports["lon-csv"].address) as pbx:
            pbx.sendall(HEADER + csv_records(50))
            wait_for(lambda: "401" in (unit.writer.status()["last_error"] or ""), what="401 from the centre",
                     state=unit.writer.status)
        body = (unit_ent.path.parent / "outbox").glob("*.batch").__next__().read_bytes()
        assert _post(port, body, unit="lon-unit-1", batch_id=1, token=None, ca=tls["ca"])[0] == 401
        assert _post(port, body, unit="lon-unit-1", batch_id=1, token=TOKEN + "x", ca=tls["ca"])[0] == 401
        assert svc.transports["lon-csv"].describe()["refused"] >= 3
        assert "not-the-token" not in json.dumps(unit.writer.status())
        assert unit.writer.status()["backlog_rows"] == 50  # kept for when the token is fixed
    assert count(url, "select count(*) from calls") == 0
    assert count(url, "select count(*) from ingest_account") == 0
    assert count(url, "select count(*) from ingest_segments") == 0


def test_unit_verifies_the_centre_certificate(tmp_path, tls):
    port = free_port()
    url = f"sqlite:///{tmp_path}/centre.db"
    centre = centre_config(tmp_path / "centre", port, tls)
    untrusting = unit_config(tmp_path / "unit", port, tls["other_ca"])  # trusts another CA only
    with running(centre, url, pbx_ids=["lon-csv"]), running_unit(untrusting) as unit:
        with socket.create_connection(unit.transports["lon-csv"].address) as pbx:
            pbx.sendall(HEADER + csv_records(20))
            wait_for(lambda: "CERTIFICATE_VERIFY_FAILED" in (unit.writer.status()["last_error"] or ""),
                     what="certificate refused", state=unit.writer.status)
        with pytest.raises(ssl.SSLCertVerificationError):  # nor do the system CAs trust the test CA
            _post(port, b"x", unit="u", batch_id=1, token=TOKEN, ca=tls["other_ca"])
    assert count(url, "select count(*) from calls") == 0
    wrong_host = unit_config(tmp_path / "unit2", port, tls["ca"], host="127.0.0.2")  # name not in the cert
    with running(centre, url, pbx_ids=["lon-csv"]), running_unit(wrong_host) as unit:
        with socket.create_connection(unit.transports["lon-csv"].address) as pbx:
            pbx.sendall(HEADER + csv_records(20))
            wait_for(lambda: unit.writer.status()["last_error"] is not None, what="delivery failed",
                     state=unit.writer.status)
    assert count(url, "select count(*) from calls") == 0


def test_outbox_ids_keep_growing_across_restarts_and_torn_items_are_dropped(tmp_path):
    folder = tmp_path / "outbox"
    box = Outbox(folder)
    body = lambda n: (lambda batch_id: wire.encode(wire.RemoteBatch(  # noqa: E731
        "u", batch_id, wire.parsed_columns(_parsed(n)))))
    items = [box.append(body(k + 1), k + 1) for k in range(3)]
    assert [i.batch_id for i in items] == [1, 2, 3]
    for item in items:
        box.remove(item)
    (folder / ".000000000004.batch.tmp").write_bytes(b"torn by a crash")
    again = Outbox(folder)  # empty after a restart: numbering still continues
    assert not list(folder.glob(".*.tmp")) and again.items() == []
    item = again.append(body(2), 2)
    assert item.batch_id == 4
    reopened = Outbox(folder)
    [kept] = reopened.items()
    assert (kept.batch_id, kept.rows) == (4, 2) and wire.decode(reopened.read(kept)).batch_id == 4
    assert reopened.stats()["backlog_rows"] == 2


def test_check_config_names_the_remote_and_https_fields(tmp_path, tls, monkeypatch):
    centre = centre_config(tmp_path / "centre", 8443, tls)
    assert check_enterprise(centre.path)[0] == []
    text = centre.path.read_text().replace(str(tls["key"]), "missing.key")
    centre.path.write_text(text)
    [error] = check_enterprise(centre.path)[0]
    assert error.field == "pbx 'lon-csv'.https_key" and error.file == str(centre.path) and "missing.key" in str(error)

    unit_ent = unit_config(tmp_path / "unit", 8443, tls["ca"])
    assert check_enterprise(unit_ent.path)[0] == []
    monkeypatch.delenv("CALLCOST_REMOTE_TOKEN")
    [error] = check_enterprise(unit_ent.path)[0]
    assert error.field == "remote.token_env" and "CALLCOST_REMOTE_TOKEN" in str(error)
    monkeypatch.setenv("CALLCOST_REMOTE_TOKEN", TOKEN)
    unit_ent.path.write_text(unit_ent.path.read_text().replace("https://localhost:8443", "http://localhost"))
    [error] = check_enterprise(unit_ent.path)[0]
    assert error.field == "remote.centre" and error.file == str(unit_ent.path)


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _parsed(n: int):
    from collector.connectors.base import PbxContext, connector_for

    ctx = PbxContext(pbx_id="lon-csv", site="LON", timezone="Europe/London", options={})
    return connector_for("canonical-csv", ctx).parse(HEADER + csv_records(n), "t.csv").calls
