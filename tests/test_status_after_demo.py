"""``callcost status`` after ``callcost demo`` counts the demo's imports (issue 16, item 5).

The demo imports its CUCM, Avaya, Asterisk … files through ``import_files``: every PBX it generated for
shows records received, and per PBX received = stored + already stored + quarantined (+ already
quarantined), its quarantined total equal to its rows in the quarantine table.  Through the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys

import sqlalchemy as sa


def callcost(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callcost", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_status_counts_the_demo_imports(tmp_path):
    run = callcost("demo", "--no-serve", "--calls", "3000", "--dir", "acme", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    root = tmp_path / "acme"
    status = callcost("status", "--json", cwd=root)
    rows = json.loads(status.stdout)
    engine = sa.create_engine(f"sqlite:///{root}/callcost.db")
    try:
        with engine.connect() as conn:
            calls = conn.execute(sa.text("select count(*) from calls")).scalar_one()
            quarantined = dict(conn.execute(sa.text("select pbx, count(*) from quarantine group by pbx")).all())
    finally:
        engine.dispose()
    assert sum(r["stored"] for r in rows) == calls
    assert sum(r["received"] for r in rows) >= 3000
    for r in rows:
        assert r["received"] == r["imported"] and r["last_record_at"] is not None, r
        assert r["received"] == r["stored"] + r["already_stored"] + r["quarantined"] + r["already_quarantined"], r
        assert r["quarantined"] == quarantined.get(r["pbx"], 0), r
        assert not [a for a in r["alerts"] if "add up" in a or "quarantine" in a], r["alerts"]
