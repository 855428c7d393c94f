"""The monthly savings report, every format, checked against the lake to the cent."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from analytics.savings import NO_VALUE
from lakefactory import KNOWN_CALLS, random_calls, write_lake
from analytics.reporting import Report, ReportError, registered_reports, run_report
from analytics.reporting.i18n import CALL_TYPE_LABELS
from reports.monthly_savings import MonthlySavingsReport

FORMATS = ["xlsx", "html", "csv", "json", "txt"]
CENT = Decimal("0.01")


def money(value) -> Decimal:
    """A cell value (float, as Excel stores it) back to cents."""
    return Decimal(str(value)).quantize(CENT)


def expected_by(calls: pd.DataFrame, by: str) -> pd.DataFrame:
    """The independent computation: plain pandas over the rows the factory wrote."""
    october = calls[calls.start_utc.dt.strftime("%Y-%m") == "2026-10"].copy()
    october["key"] = october[by].fillna(NO_VALUE)
    rated = october[october.rating_status == "rated"]
    out = pd.DataFrame({"calls": october.groupby("key").size()})
    for col in ("actual_cost", "reference_cost", "savings"):
        out[col] = rated.groupby("key")[col].agg(lambda v: sum(v, Decimal(0)))
    out["unrated_calls"] = october[october.rating_status == "unrated"].groupby("key").size()
    return out.fillna({"unrated_calls": 0})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    rows = random_calls(2_500, seed=21)
    write_lake(root / "lake", rows)
    paths = run_report("monthly-savings", root / "lake", "2026-10", FORMATS, root / "out", "USD")
    return {p.suffix[1:]: p for p in paths}, pd.DataFrame(rows)


def sheet_rows(ws) -> dict[str, tuple]:
    rows = list(ws.iter_rows(values_only=True))
    return {r[0]: r for r in rows[1:] if r[0] is not None}


def test_registered_under_the_entry_point_group():
    reports = registered_reports()
    assert reports["monthly-savings"] is MonthlySavingsReport and issubclass(MonthlySavingsReport, Report)
    assert set(MonthlySavingsReport.formats) == set(FORMATS)


def test_files_are_named_by_report_and_period(rendered):
    paths, _ = rendered
    assert sorted(p.name for p in paths.values()) == sorted(f"monthly-savings-2026-10.{f}" for f in FORMATS)


def test_xlsx_breakdown_sheets_equal_pandas_to_the_cent(rendered):
    paths, calls = rendered
    wb = openpyxl.load_workbook(paths["xlsx"], data_only=True)  # a Total's cached value (it is a formula)
    assert wb.sheetnames == ["Summary", "By site", "By carrier", "By department"]
    for sheet, by in (("By site", "site"), ("By carrier", "carrier"), ("By department", "department")):
        ws = wb[sheet]
        assert ws.freeze_panes == "B2" and ws.auto_filter.ref.startswith("A1:H")
        header = [c.value for c in ws[1]]
        assert header[:6] == [by.capitalize(), "Calls", "Minutes", "Actual cost (USD)", "Reference cost (USD)",
                              "Savings (USD)"]
        assert '"USD"' in ws["D2"].number_format and "0.00" in ws["D2"].number_format
        rows = sheet_rows(ws)
        exp = expected_by(calls, by)
        assert set(rows) == set(exp.index) | {"Total"}
        for key, e in exp.iterrows():
            r = rows[key]
            assert r[1] == e["calls"] and r[7] == e["unrated_calls"], (sheet, key)
            assert (money(r[3]), money(r[4]), money(r[5])) == (e.actual_cost, e.reference_cost, e.savings), (sheet, key)
        total = rows["Total"]
        assert total[1] == exp.calls.sum()
        assert money(total[5]) == sum(exp.savings, Decimal(0))


def test_xlsx_summary_has_headline_unrated_line_call_types_and_chart(rendered):
    paths, calls = rendered
    october = calls[calls.start_utc.dt.strftime("%Y-%m") == "2026-10"]
    rated = october[october.rating_status == "rated"]
    ws = openpyxl.load_workbook(paths["xlsx"], data_only=True)["Summary"]
    cells = {r[0]: r for r in ws.iter_rows(values_only=True) if r[0] is not None}
    assert cells["Calls"][1] == len(october)
    assert money(cells["Savings"][1]) == sum(rated.savings, Decimal(0))
    assert money(cells["Actual cost"][1]) == sum(rated.actual_cost, Decimal(0))
    unrated = cells["Unrated (not priced)"]
    assert unrated[1] == (october.rating_status == "unrated").sum() > 0
    assert unrated[3:6] == ("not priced",) * 3  # unknown, not 0
    for call_type in october.call_type.unique():  # as words ("On-net"), not the stored identifier
        assert cells[CALL_TYPE_LABELS[call_type]][1] == (october.call_type == call_type).sum()
    assert ws.freeze_panes == "A5"  # title, first note and the Figure/Value header stay in view (one Summary layout)
    assert len(ws._charts) == 1


def test_html_is_self_contained_and_shows_the_same_figures(rendered):
    paths, calls = rendered
    html = paths["html"].read_text()
    assert "<style>" in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "http://" not in html and "https://" not in html
    exp = expected_by(calls, "site")
    for site, e in exp.iterrows():
        assert f"<td>{site}</td>" in html
        assert f"<td>{e.savings:,.2f}</td>" in html
    assert f"{sum(exp.savings, Decimal(0)):,.2f}" in html
    assert "Unrated (not priced)" in html and "@media print" in html


def test_csv_and_json_carry_exact_decimals(rendered):
    paths, calls = rendered
    exp = expected_by(calls, "site")
    with paths["csv"].open() as fh:
        rows = {r["site"]: r for r in csv.DictReader(fh)}
    for site, e in exp.iterrows():
        assert Decimal(rows[site]["savings"]) == e.savings and rows[site]["currency"] == "USD"
    doc = json.loads(paths["json"].read_text())
    assert doc["period"] == "2026-10" and doc["currency"] == "USD"
    assert Decimal(doc["headline"]["Savings"]) == sum(exp.savings, Decimal(0))
    by_site = {r["label"]: r for r in doc["tables"]["site"]}
    assert all(Decimal(by_site[s]["actual_cost"]) == e.actual_cost for s, e in exp.iterrows())
    unrated = next(r for r in doc["tables"]["status"] if r["kind"] == "unrated")
    assert unrated["savings"] is None and unrated["calls"] > 0
    txt = paths["txt"].read_text()
    assert "By site" in txt and f"{sum(exp.savings, Decimal(0)):,.2f}" in txt


def test_known_lake_html_figures(tmp_path):
    write_lake(tmp_path / "lake", KNOWN_CALLS)
    [html] = run_report("monthly-savings", tmp_path / "lake", "2026-10", ["html"], tmp_path, "USD")
    text = html.read_text()
    for figure in ("16.12", "14.82", "30.94", "52.1 %", "NYC", "LON", "SHA"):
        assert figure in text, figure


def test_empty_month_still_renders(tmp_path):
    paths = run_report("monthly-savings", tmp_path / "no-lake", "2026-10", ["xlsx", "html"], tmp_path / "o", "USD")
    wb = openpyxl.load_workbook(paths[0])
    assert sheet_rows(wb["By site"])["Total"][1] == 0
    assert "0.00" in paths[1].read_text()


def test_unknown_report_and_format_fail_before_writing(tmp_path):
    with pytest.raises(ReportError, match="unknown report 'nope'.*monthly-savings"):
        run_report("nope", tmp_path, "2026-10", ["xlsx"], tmp_path / "o", "USD")
    with pytest.raises(ReportError, match="cannot render pdf"):
        run_report("monthly-savings", tmp_path, "2026-10", ["xlsx", "pdf"], tmp_path / "o", "USD")
    assert not (tmp_path / "o").exists()


def test_currency_mismatch_is_refused(tmp_path):
    write_lake(tmp_path / "lake", KNOWN_CALLS)
    with pytest.raises(ReportError, match="priced in USD, not EUR"):
        run_report("monthly-savings", tmp_path / "lake", "2026-10", ["html"], tmp_path, "EUR")
