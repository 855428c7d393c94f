"""The billing-statement and department-chargeback reports, every format, against an independent pandas
computation from the lake (to the cent) and the sample enterprise's chargeback rules."""

from __future__ import annotations

import csv
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from lakefactory import random_calls, write_lake

from analytics.billing import UNASSIGNED
from analytics.reporting import registered_reports, run_report
from reports.billing_statement import BillingStatementReport
from reports.department_chargeback import DepartmentChargebackReport
from warehouse.errors import ConfigErrors

FORMATS = ["xlsx", "html", "csv", "json", "txt"]
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise"
CENT = Decimal("0.01")


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _rows() -> list[dict]:
    rows = random_calls(1_500, seed=5)
    for r in rows:
        if r["department"] == "Support":
            r["department"] = "Support call centre"  # a child of "Customer operations" in the sample rules
        r["cost_center"] = f"CC-{r['department'][:3]}" if r["department"] else None
        r["user"] = f"User {r['extension']}" if r["department"] else None
        if r["call_type"] == "outbound":
            r["trunk"] = f"{r['site']}-PSTN-GW1"
    return rows


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("billing-reports") / "ent"
    shutil.copytree(SAMPLE, root)
    rows = _rows()
    write_lake(root / "lake", rows)
    paths = {}
    for name in ("billing-statement", "department-chargeback"):
        for p in run_report(name, root / "lake", "2026-10", FORMATS, root / "out", "USD"):
            paths[(name, p.suffix[1:])] = p
    calls = pd.DataFrame(rows)
    october = calls[calls.start_utc.dt.strftime("%Y-%m") == "2026-10"].copy()
    october["department"] = october["department"].fillna(UNASSIGNED)
    return paths, october


def expected_by_department(october: pd.DataFrame) -> pd.DataFrame:
    """The independent computation: plain pandas over the rows the factory wrote."""
    rated = october[october.rating_status == "rated"]
    out = pd.DataFrame({"calls": october.groupby("department").size()})
    out["usage"] = rated.groupby("department")["actual_cost"].agg(lambda v: sum(v, Decimal(0)))
    out["unrated_calls"] = october[october.rating_status != "rated"].groupby("department").size()
    out["seconds"] = october.groupby("department")["duration_s"].sum()
    return out.fillna({"unrated_calls": 0, "usage": Decimal(0)})


def expected_seat_fees(october: pd.DataFrame) -> Decimal:
    """Seat fees by hand: each extension's latest department this month (Sales 1.00, Support 4.50) + 1000's 15.00."""
    latest = october[october.department != UNASSIGNED].sort_values("start_utc").groupby(["site", "extension"]).last()
    fees = latest["department"].map({"Sales": Decimal("1.00"), "Support call centre": Decimal("4.50")}).fillna(0)
    return sum(fees, Decimal(0)) + Decimal("15.00")


def table_rows(ws) -> dict[str, dict]:
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return {r[0]: dict(zip(header, r)) for r in rows[1:] if r[0] is not None}


def test_both_reports_are_registered_plugins():
    reports = registered_reports()
    assert reports["billing-statement"] is BillingStatementReport
    assert reports["department-chargeback"] is DepartmentChargebackReport


def test_chargeback_xlsx_equals_pandas_to_the_cent(rendered):
    paths, october = rendered
    wb = openpyxl.load_workbook(paths[("department-chargeback", "xlsx")], data_only=True)
    assert wb.sheetnames == ["Summary", "By department", "By cost centre", "By call type", "Trunk charges"]
    ws = wb["By department"]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref.startswith("A1:")
    assert '"USD"' in ws["G2"].number_format and "0.00" in ws["G2"].number_format
    rows = table_rows(ws)
    exp = expected_by_department(october)
    assert set(rows) == set(exp.index) | {"Total"}
    for dept, e in exp.iterrows():
        r = rows[dept]
        assert (r["Calls"], r["Unrated calls"], money(r["Usage (USD)"])) == (e.calls, e.unrated_calls, e.usage), dept
        assert money(r["Minutes"]) == (Decimal(int(e.seconds)) / 60).quantize(CENT)
    total = rows["Total"]
    assert money(total["Usage (USD)"]) == sum(exp.usage, Decimal(0))
    assert money(total["Trunk share (USD)"]) == Decimal("1840.00")      # 1200.00 + 640.00 from the rules file
    assert money(total["Department fees (USD)"]) == Decimal("250.00")   # Customer operations' platform fee
    assert money(total["Extension fees (USD)"]) == expected_seat_fees(october)
    assert rows["Support call centre"]["Client"] == "Contoso Outsourced Support"
    parts = [money(r["Total (USD)"]) for k, r in rows.items() if k != "Total"]
    assert sum(parts, Decimal(0)) == money(total["Total (USD)"])      # the sum of the parts is the whole
    components = sum((money(total[h]) for h in ("Usage (USD)", "Trunk share (USD)", "Markup (USD)",
                     "Per-call surcharge (USD)", "Per-minute surcharge (USD)", "Extension fees (USD)",
                     "Department fees (USD)")), Decimal(0))
    assert components == money(total["Total (USD)"])
    cc = table_rows(wb["By cost centre"])
    assert money(cc["Total"]["Total (USD)"]) == money(total["Total (USD)"])
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert money(summary["Total charged"]) == money(total["Total (USD)"])
    assert summary["Calls"] == len(october)
    assert len(wb["Summary"]._charts) == 1  # the charges by department, stacked by component


def test_statement_xlsx_has_a_statement_table_and_a_call_sheet_per_department(rendered):
    paths, october = rendered
    wb = openpyxl.load_workbook(paths[("billing-statement", "xlsx")], data_only=True)
    depts = sorted(october.department.unique())
    assert wb.sheetnames == ["Summary", "By department", "Statements", "By call type",
                             *(f"Calls {d}" for d in depts)]
    assert len(wb["Summary"]._charts) == 1
    statements = list(wb["Statements"].iter_rows(values_only=True))
    header = statements[0]
    assert header[:5] == ("Extension", "Site", "User", "Department", "Cost centre")
    assert wb["Statements"].freeze_panes == "B2" and wb["Statements"].auto_filter.ref
    body = [dict(zip(header, r)) for r in statements[1:] if r[0] != "Total"]
    total = dict(zip(header, statements[-1]))
    assert sum(r["Calls"] for r in body) == total["Calls"] == len(october)
    assert sum((money(r["Total (USD)"]) for r in body), Decimal(0)) == money(total["Total (USD)"])
    chargeback = table_rows(openpyxl.load_workbook(paths[("department-chargeback", "xlsx")], data_only=True)["By department"])
    assert money(total["Total (USD)"]) == money(chargeback["Total"]["Total (USD)"])  # one split, two reports
    for dept in depts:
        ws = wb[f"Calls {dept}"]
        calls = list(ws.iter_rows(values_only=True))[1:]
        mine = october[october.department == dept]
        assert len(calls) == len(mine), dept
        priced = [money(c[7]) for c in calls if c[7] != "not priced"]
        assert sum(priced, Decimal(0)) == sum(mine[mine.rating_status == "rated"].actual_cost, Decimal(0))


def test_csv_json_txt_html_carry_the_same_exact_figures(rendered):
    paths, october = rendered
    exp = expected_by_department(october)
    with paths[("department-chargeback", "csv")].open() as fh:
        rows = {r["department"]: r for r in csv.DictReader(fh)}
    for dept, e in exp.iterrows():
        assert Decimal(rows[dept]["usage"]) == e.usage and rows[dept]["currency"] == "USD"
    doc = json.loads(paths[("department-chargeback", "json")].read_text())
    total = next(r for r in doc["tables"]["departments"] if r["kind"] == "total")
    assert Decimal(doc["headline"]["Total charged"]) == Decimal(total["total"])
    statement = json.loads(paths[("billing-statement", "json")].read_text())
    assert len(statement["calls"]) == len(october)
    assert Decimal(next(r for r in statement["tables"]["statements"] if r["kind"] == "total")["total"]) == \
        Decimal(total["total"])
    with paths[("billing-statement", "csv")].open() as fh:
        lines = list(csv.DictReader(fh))
    assert lines[0].keys() >= {"extension", "site", "department", "cost_center", "total", "currency"}
    assert f"{Decimal(total['total']):,.2f}" in paths[("department-chargeback", "txt")].read_text()
    html = paths[("billing-statement", "html")].read_text()
    assert "<style>" in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert html.count('class="statement"') == len(lines) - 1 and "@media print" in html
    assert f"{Decimal(total['total']):,.2f}" in paths[("department-chargeback", "html")].read_text()


def test_a_lake_without_config_is_billed_at_usage(tmp_path):
    write_lake(tmp_path / "lake", _rows()[:200])
    [path] = run_report("department-chargeback", tmp_path / "lake", "2026-10", ["json"], tmp_path / "o", "USD")
    doc = json.loads(path.read_text())
    assert Decimal(doc["headline"]["Total charged"]) == Decimal(doc["headline"]["Usage (rated calls)"])
    assert "no chargeback rules" in doc["notes"][0]


def test_a_broken_rules_file_stops_the_report_naming_file_line_and_field(tmp_path):
    root = tmp_path / "ent"
    shutil.copytree(SAMPLE, root)
    rules = root / "chargeback.toml"
    rules.write_text(rules.read_text().replace('markup_pct = "12.5"', 'markup_pct = "12,5"'))
    write_lake(root / "lake", _rows()[:50])
    with pytest.raises(ConfigErrors) as exc:
        run_report("department-chargeback", root / "lake", "2026-10", ["csv"], tmp_path / "o", "USD")
    [error] = exc.value.errors
    assert error.file == str(rules) and error.field == "department[0].markup_pct"
    assert rules.read_text().splitlines()[error.line - 1].startswith("markup_pct")
    assert not (tmp_path / "o" / "department-chargeback-2026-10.csv").exists()
