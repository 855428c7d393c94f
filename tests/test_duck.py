"""DuckDB connections of analytics and reports never draw a progress bar on stdout (CLI output stays clean)."""

from __future__ import annotations

import re
from pathlib import Path

from analytics import duck

ROOT = Path(__file__).resolve().parents[1]


def test_connection_has_the_progress_bar_off_outside_jupyter():
    with duck.connect() as con:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)


def test_no_module_opens_duckdb_any_other_way():
    direct = re.compile(r"\bduckdb\.connect\(")
    offenders = [str(p.relative_to(ROOT)) for folder in ("analytics", "reports", "dashboards", "callcost")
                 for p in (ROOT / folder).rglob("*.py") if p.name != "duck.py" and direct.search(p.read_text())]
    assert offenders == []
