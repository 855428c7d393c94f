"""The shared renderer: every workbook sheet formatted the same way, HTML self-contained and printable."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from lakefactory import write_lake
from reportkit import report_calls, write_enterprise
from analytics.reporting import Figure, Report, ReportData, ReportTable, TableRow, registered_reports, run_report
from analytics.reporting.xlsx import sheet_names
from warehouse.config import load_config

GENERIC = ("carrier-cost", "top-n", "destination-classes", "trunk-utilisation", "unrated-calls", "fraud-watch")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    write_lake(root / "lake", report_calls(1_500, seed=9))
    ent = load_config(write_enterprise(root))
    out = {}
    for name in GENERIC:
        paths = run_report(name, root / "lake", "2026-10", ["xlsx", "html"], root / "out", "USD", config=ent)
        out[name] = {p.suffix[1:]: p for p in paths}
    return out


@pytest.mark.parametrize("name", GENERIC)
def test_every_sheet_has_frozen_header_autofilter_and_money_format(rendered, name):
    report = registered_reports()[name]
    wb = openpyxl.load_workbook(rendered[name]["xlsx"])
    assert wb.sheetnames[0] == "Summary"
    for ws in wb.worksheets:
        assert ws.freeze_panes in ("A5", "B2"), (name, ws.title)
        assert ws.auto_filter.ref, (name, ws.title)
        header_row = 4 if ws.title == "Summary" else 1
        headers = [c.value for c in ws[header_row]]
        for col, header in enumerate(headers, start=1):
            if header and header.endswith("(USD)") and ws.max_row > header_row:
                fmt = ws.cell(header_row + 1, col).number_format
                assert '"USD"' in fmt and "0.00" in fmt, (name, ws.title, header, fmt)
    assert report.formats


@pytest.mark.parametrize("name", GENERIC)
def test_summary_tables_get_a_chart(rendered, name):
    wb = openpyxl.load_workbook(rendered[name]["xlsx"])
    charted = [ws.title for ws in wb.worksheets if ws._charts]
    assert "Summary" in charted and len(charted) >= 2, charted


@pytest.mark.parametrize("name", GENERIC)
def test_html_is_self_contained_and_printable(rendered, name):
    html = rendered[name]["html"].read_text()
    assert "<style>" in html and "@media print" in html and "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "http://" not in html


def test_a_minimal_report_type_renders_everywhere_without_rendering_code(tmp_path):
    """A new type only builds ReportData; the base class renders all five formats."""
    class Tiny(Report):
        name, title = "tiny", "Tiny"

        def build(self, lake, period, currency):
            rows = (TableRow("a/b:c", {"cost": Decimal("1.25")}), TableRow("Total", {"cost": Decimal("1.25")}, "total"))
            table = ReportTable("A table whose title is far too long for Excel", (("label", "Key", "text"),
                                                                                  ("cost", "Cost", "money")), rows,
                                chart=("cost",))
            return ReportData("tiny", "Tiny", period, currency, 2, (Figure("Cost", Decimal("1.25"), "money"),),
                              {"t": table, "u": table})

    report = Tiny()
    data = report.build(None, "2026-10", "EUR")
    assert list(sheet_names(data).values()) == ["A table whose title is far too", "A table whose title is far (2)"]
    for fmt in ("xlsx", "html", "csv", "json", "txt"):
        path = report.render(data, fmt, tmp_path)
        assert path.name == f"tiny-2026-10.{fmt}" and path.stat().st_size > 0
    assert "1.25" in Path(tmp_path / "tiny-2026-10.csv").read_text()
    ws = openpyxl.load_workbook(tmp_path / "tiny-2026-10.xlsx")["A table whose title is far too"]
    assert ws["B2"].value == 1.25 and '"EUR"' in ws["B2"].number_format
