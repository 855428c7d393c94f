"""The README's first command, end to end on the embedded defaults, through the real CLI and code paths."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest
import sqlalchemy as sa

from collector.importer import import_files
from warehouse.config import load_config
from warehouse.store import Store

CALLS = 6_000


def callcost(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callcost", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    run = callcost("demo", "--no-serve", "--calls", str(CALLS), "--dir", "acme", cwd=work)
    assert run.returncode == 0, run.stdout + run.stderr
    return work / "acme", run.stdout


def lake_count(root: Path) -> int:
    return duckdb.execute(f"select count(*) from read_parquet('{root}/lake/calls/*/*.parquet', hive_partitioning=true)").fetchone()[0]


def db_count(root: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{root}/callcost.db")
    with engine.connect() as conn:
        return conn.execute(sa.text("select count(*) from calls")).scalar_one()


def test_demo_prints_sites_and_report_paths(demo):
    root, out = demo
    for site in ("NYC", "LON", "SHA"):
        assert site in out
    assert "savings" in out.lower()
    xlsx = root / "reports" / "monthly-savings-2026-10.xlsx"
    html = root / "reports" / "monthly-savings-2026-10.html"
    assert str(xlsx) in out.replace("\n", "") or xlsx.name in out
    assert xlsx.is_file() and html.is_file()


def test_demo_stores_every_generated_call_once(demo):
    root, _ = demo
    assert lake_count(root) == db_count(root) == CALLS


def test_xlsx_has_summary_and_site_sheets_matching_the_lake(demo):
    root, _ = demo
    wb = openpyxl.load_workbook(root / "reports" / "monthly-savings-2026-10.xlsx", data_only=True)
    assert "Summary" in wb.sheetnames and "By site" in wb.sheetnames
    savings = duckdb.execute(
        f"select sum(savings) from read_parquet('{root}/lake/calls/*/*.parquet', hive_partitioning=true) "
        "where rating_status = 'rated'").fetchone()[0]
    cells = [c.value for row in wb["By site"].iter_rows() for c in row if c.value is not None]
    numeric = [Decimal(str(v)).quantize(Decimal("0.01")) for v in cells if isinstance(v, (int, float))]
    assert Decimal(savings).quantize(Decimal("0.01")) in numeric


def test_importing_the_demo_files_again_changes_nothing(demo):
    root, _ = demo
    ent = load_config(root / "callcost.toml")
    before = (lake_count(root), db_count(root))
    store = Store(ent)
    for pbx in ent.pbxs.values():
        folder = ent.root / pbx.source_target
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        assert files, f"no demo files for {pbx.id}"
        report = import_files(ent, pbx.id, files, store=store)
        assert report.stored == 0 and report.duplicates == report.parsed > 0
    assert (lake_count(root), db_count(root)) == before


def test_check_config_on_the_demo_passes(demo):
    root, _ = demo
    run = callcost("check-config", "--config", str(root / "callcost.toml"), cwd=root)
    assert run.returncode == 0, run.stderr
    assert "ok" in run.stdout


def test_check_config_names_file_line_field(tmp_path, demo):
    root, _ = demo
    text = (root / "callcost.toml").read_text().replace('timezone = "Europe/London"', 'timezone = "Europe/Londres"')
    cfg = root / "broken.toml"
    cfg.write_text(text)
    run = callcost("check-config", "--config", str(cfg), cwd=root)
    assert run.returncode == 1
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "Europe/Londres" in l)
    assert f"{cfg}:{line}" in run.stderr.replace("\n", "") and "timezone" in run.stderr


def test_inbound_calls_reach_an_extension_and_department_on_every_site(demo):
    """CUCM logs the dialled DID on inbound calls; the DID's tail must still land on the extension."""
    root, _ = demo
    rows = duckdb.execute(
        f"select site, count(*), count(extension), count(department) "
        f"from read_parquet('{root}/lake/calls/*/*.parquet', hive_partitioning=true) "
        f"where call_type = 'inbound' group by site order by site").fetchall()
    assert [r[0] for r in rows] == ["LON", "NYC", "SHA"]
    for site, calls, with_ext, with_dept in rows:
        assert calls > 0 and with_ext == calls and with_dept == calls, site


def _verbs(group) -> list[list[str]]:
    """Every command path of the CLI, sub-commands of groups included."""
    import typer.main

    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    paths = []
    for name, cmd in click_group.commands.items():
        if hasattr(cmd, "commands"):
            paths += [[name, *sub] for sub in _verbs(cmd)]
        else:
            paths.append([name])
    return paths


def test_help_on_every_verb(tmp_path):
    from callcost.cli import app

    verbs = _verbs(app)
    assert {"demo", "import", "check-config", "report", "dashboard", "explain", "rerate", "export",
            "collect", "status", "replay"} <= {v[0] for v in verbs}
    for verb in verbs:
        run = callcost(*verb, "--help", cwd=tmp_path)
        assert run.returncode == 0 and "Example" in run.stdout, verb


def test_monthly_report_has_the_carrier_whatif_section(demo):
    """The monthly report shows what the month's outbound traffic would have cost with each carrier."""
    from analytics.whatif import carrier_whatif

    root, _ = demo
    expected = carrier_whatif(load_config(root / "callcost.toml"), "2026-10")
    wb = openpyxl.load_workbook(root / "reports" / "monthly-savings-2026-10.xlsx", read_only=True)
    assert "What-if by carrier" in wb.sheetnames
    rows = list(wb["What-if by carrier"].iter_rows(values_only=True))
    by_label = {r[0]: r for r in rows[1:] if r[0]}
    for rec in expected.to_dict("records"):
        got = by_label[rec["carrier"]]
        assert got[1] == rec["calls"]
        assert Decimal(str(got[3])).quantize(Decimal("0.01")) == rec["cost"], rec["carrier"]
    html = (root / "reports" / "monthly-savings-2026-10.html").read_text()
    assert "Outbound traffic under each carrier" in html
