"""Folder and FTP sources: files are taken only once complete; FTP uploads arrive through a real ftplib client."""

from __future__ import annotations

import ftplib
import io
import time

from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for


def test_a_file_still_being_written_is_taken_only_once_complete(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "folder:incoming/lon-csv"},
                          pbx_options={"lon-csv": "settle_s = 0.6\npoll_s = 0.1\nafter_import = \"move\""})
    db_url = f"sqlite:///{tmp_path}/c.db"
    folder = ent.root / "incoming" / "lon-csv"
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        growing = folder / "cdr_001.csv"
        with open(growing, "wb") as f:
            f.write(HEADER + csv_records(50))
            f.flush()
            for k in range(5):  # keeps growing for longer than settle_s in total
                time.sleep(0.3)
                f.write(csv_records(10, start=50 + 10 * k))
                f.flush()
            assert svc.pipeline.metrics["lon-csv"].records_received == 0  # not taken while growing
        (folder / "cdr_002.csv.tmp").write_bytes(HEADER + csv_records(5, prefix="t"))  # being written
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: m.stored >= 100, state=lambda: m)
        time.sleep(0.3)
        assert m.records_received == 100  # the .tmp file is ignored until renamed
        (folder / "cdr_002.csv.tmp").rename(folder / "cdr_002.csv")
        wait_for(lambda: m.stored >= 105, state=lambda: m)
        wait_for(lambda: (folder / "done" / "cdr_002.csv").exists())
    assert count(db_url, "select count(*) from calls") == 105
    assert (folder / "done" / "cdr_001.csv").exists() and not growing.exists()
    assert count(db_url, "select count(*) from collector_checkpoints where final") == 2


def test_ftp_upload_is_imported_once_the_transfer_completes(tmp_path):
    ent = enterprise_with(tmp_path, {"nyc-cucm": "ftp:127.0.0.1:0"},
                          pbx_options={"nyc-cucm": 'ftp_user = "billing"\nftp_password = "s3cret"'})
    # the CUCM billing server would send CUCM flat files; canonical CSV keeps this test about the transport
    ent.pbxs["nyc-cucm"] = type(ent.pbxs["nyc-cucm"])(id="nyc-cucm", type="canonical-csv", site="NYC",
                                                    source="ftp:127.0.0.1:0", options=ent.pbxs["nyc-cucm"].options)
    db_url = f"sqlite:///{tmp_path}/c.db"
    with running(ent, db_url, pbx_ids=["nyc-cucm"]) as svc:
        host, port = svc.transports["nyc-cucm"].address
        with ftplib.FTP() as ftp:
            ftp.connect(host, port, timeout=10)
            ftp.login("billing", "s3cret")
            ftp.storbinary("STOR cdr_StandAloneCluster_01_202610050900_1.csv", io.BytesIO(HEADER + csv_records(30)))
        m = svc.pipeline.metrics["nyc-cucm"]
        wait_for(lambda: m.stored >= 30, state=lambda: m)
        with ftplib.FTP() as ftp:
            ftp.connect(host, port, timeout=10)
            try:
                ftp.login("billing", "wrong")
                raise AssertionError("a wrong password was accepted")
            except ftplib.error_perm:
                pass
    assert count(db_url, "select count(*) from calls") == 30
    assert (ent.root / "incoming" / "nyc-cucm" / "cdr_StandAloneCluster_01_202610050900_1.csv").exists()
    raw = list((ent.storage.raw_dump / "nyc-cucm").rglob("*.raw"))
    assert raw and b"c29," in raw[0].read_bytes()  # the upload is in the raw dump too


def test_real_cucm_files_dropped_in_the_folder_match_a_batch_parse(tmp_path, shared_dir):
    import shutil

    from collector.connectors.base import connector_for
    from collector.service import pbx_context

    ent = enterprise_with(tmp_path, {"nyc-cucm": "folder:incoming/nyc-cucm"},
                          pbx_options={"nyc-cucm": "settle_s = 0.2\npoll_s = 0.1"})
    samples = sorted((shared_dir / "samples" / "cucm").glob("c*_StandAloneCluster_*"))
    connector = connector_for("cucm", pbx_context(ent, "nyc-cucm"))
    expected = {}
    for f in samples:
        r = connector.parse(f.read_bytes(), str(f))
        expected[f.name] = (r.records_seen, r.calls.num_rows)
    db_url = f"sqlite:///{tmp_path}/c.db"
    folder = ent.root / "incoming" / "nyc-cucm"
    with running(ent, db_url, pbx_ids=["nyc-cucm"]) as svc:
        for f in samples:
            shutil.copy(f, folder / f.name)
        m = svc.pipeline.metrics["nyc-cucm"]
        total = sum(v[0] for v in expected.values())
        wait_for(lambda: m.records_received >= total and svc.pipeline.parts.load == 0, state=lambda: m)
        time.sleep(0.3)
    assert count(db_url, "select count(*) from calls") == sum(v[1] for v in expected.values())
    assert count(db_url, "select count(*) from collector_checkpoints where final") == len(samples)
