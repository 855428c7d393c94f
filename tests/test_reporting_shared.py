"""The shared presentation layer (analytics.reporting): number formatting, call listings in every
format, and the warning an empty period's report gives."""

from __future__ import annotations

import doctest
import json
import logging
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

import analytics.reporting.formatting as formatting
from analytics.reporting import Figure, Listing, ReportData, ReportTable, TableRow, run_report
from analytics.reporting.formatting import format_value, money_text
from analytics.reporting.html import render_html
from analytics.reporting.text import write_json
from analytics.reporting.xlsx import write_xlsx
from lakefactory import KNOWN_CALLS, write_lake


def test_formatting_examples_and_edges():
    assert doctest.testmod(formatting).failed == 0
    assert format_value(Decimal("1234567.891"), "money", 2) == "1,234,567.89"
    assert format_value(Decimal("12"), "money", 0) == "12"
    assert format_value(12345, "count") == "12,345"
    assert format_value(Decimal("7.5"), "minutes") == "7.50"
    assert format_value(Decimal("0.01234"), "rate") == "0.0123"
    assert format_value("", "money") == "—" and format_value(None, "count") == "—"
    assert money_text(Decimal("2.345"), "EUR") == "2.35 EUR"  # half up, exactly
    assert money_text(Decimal("-0.5"), None, scale=0) == "-1"
    assert money_text(None, "USD") == "—"


def _listing_report() -> ReportData:
    calls = pd.DataFrame({
        "start_utc": pd.to_datetime(["2026-10-01 08:00:00", "2026-10-01 09:30:05", "2026-10-02 10:00:00"], utc=True),
        "who": ["A & <B>", "tab\there", ""], "seconds": [61, 0, 3600],
        "cost": [Decimal("1.25"), None, Decimal("1234.50")], "dept": ["Sales", "Sales", "Ops"],
    })
    columns = (("start_utc", "Start (UTC)", "text"), ("who", "Who", "text"), ("seconds", "Seconds", "count"),
               ("cost", "Cost", "money"))
    table = ReportTable("By department", (("dept", "Department", "text"), ("calls", "Calls", "count")),
                        (TableRow("Ops", {"calls": 1}), TableRow("Sales", {"calls": 2}),
                         TableRow("Total", {"calls": 3}, "total")))
    return ReportData(name="t", title="T", period="2026-10", currency="USD", scale=2,
                      headline=(Figure("Calls", 3, "count"),), tables={"d": table},
                      listings={"calls": Listing("Calls", calls, columns, sheet_by="dept", carry=("dept",))})


def test_a_listing_reads_back_the_same_in_xlsx_and_json(tmp_path):
    """The listing is written as sheet XML a column at a time: numbers stay numbers, an unpriced cost is
    the text "not priced" (never 0), text is escaped, an empty text is an empty cell."""
    data = _listing_report()
    write_xlsx(data, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Summary", "By department", "Calls Ops", "Calls Sales"]
    sales = list(wb["Calls Sales"].iter_rows(values_only=True))
    assert sales == [("Start (UTC)", "Who", "Seconds", "Cost (USD)"),
                     ("2026-10-01 08:00:00", "A & <B>", 61, 1.25),
                     ("2026-10-01 09:30:05", "tab\there", 0, "not priced")]
    ops = wb["Calls Ops"]
    assert [c.value for c in ops[2]] == ["2026-10-02 10:00:00", None, 3600, 1234.5]
    assert ops["D2"].number_format == '"USD" #,##0.00' and ops.auto_filter.ref == "A1:D2"

    write_json(data, tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    frame = data.listings["calls"].frame
    expected = json.loads(json.dumps(
        [{"start_utc": t.isoformat(), "who": w, "seconds": s, "cost": None if c is None else str(c), "dept": d}
         for t, w, s, c, d in zip(frame.start_utc, frame.who, frame.seconds, frame.cost, frame.dept)]))
    assert doc["calls"] == expected and doc["tables"]["d"][-1]["kind"] == "total"


def test_html_listing_rows_are_escaped():
    from analytics.reporting.html import listing_rows

    rows = listing_rows(_listing_report().listings["calls"], "dept")
    assert rows["Sales"].count("<tr>") == 2 and "A &amp; &lt;B&gt;" in rows["Sales"] and "<B>" not in rows["Sales"]
    assert '<td class="money">not priced</td>' in rows["Sales"]
    assert '<td class="money">1,234.50</td>' in rows["Ops"]
    assert "<table" in render_html(_listing_report())


@pytest.mark.parametrize("name", ["monthly-savings", "carrier-cost", "department-chargeback", "billing-statement"])
def test_an_empty_period_writes_its_report_and_warns(tmp_path, caplog, name):
    """Issue 16 item 8: a month without calls gives a report of zeros (rc 0 for the CLI), with a warning
    naming the period and the lake — and a month with calls gives no warning."""
    write_lake(tmp_path / "lake", KNOWN_CALLS)
    with caplog.at_level(logging.WARNING, logger="callcost.reports"):
        paths = run_report(name, tmp_path / "lake", "2027-03", ["xlsx", "html", "csv", "json", "txt"],
                           tmp_path / "out", "USD")
    assert all(p.exists() for p in paths)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2027-03 has no calls" in warnings[0] and str(tmp_path / "lake") in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="callcost.reports"):
        run_report(name, tmp_path / "lake", "2026-10", ["csv"], tmp_path / "out", "USD")
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
