"""The monthly savings workbook as finance gets it, read back sheet by sheet with openpyxl, in English and Chinese.

Every sheet: the header row frozen in view; a Total line made of ``=SUM()`` formulas over the rows above
whose cached values equal the exact totals (and the sum of those rows); money in the currency's format
and nothing else in a money-formatted cell ("not priced" is text); the same total minutes on every
sheet, rounded once from the exact seconds; a native chart on every breakdown sheet; the labels in the
report's language.  And the what-if: a carrier that cannot price every call is marked incomplete, its
saving never a number.
"""

from __future__ import annotations

import re
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from analytics.reporting import run_report
from analytics.reporting.i18n import translator
from lakefactory import write_lake
from reportkit import report_calls, write_enterprise
from warehouse.config import load_config

CENT = Decimal("0.01")
SUMMED = re.compile(r"^=SUM\(([A-Z]+)(\d+):\1(\d+)\)$")


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    root = tmp_path_factory.mktemp("finance")
    rows = report_calls(2_000, seed=31)
    write_lake(root / "lake", rows)
    ent = load_config(write_enterprise(root))
    out = {}
    for lang in ("en", "zh_CN"):
        [path] = run_report("monthly-savings", root / "lake", "2026-10", ["xlsx"], root / "out", "USD", config=ent,
                            lang=lang)
        out[lang] = (openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True))
    calls = pd.DataFrame(rows)
    october = calls[calls.start_utc.dt.strftime("%Y-%m") == "2026-10"]
    return out, october


def header_row(ws) -> int:
    return 4 if ws.freeze_panes == "A5" else 1


def test_every_sheet_keeps_its_header_row_in_view(books):
    out, _ = books
    for lang, (wb, _) in out.items():
        for ws in wb.worksheets:
            top = header_row(ws)
            assert ws.freeze_panes in ("A5", "B2"), (lang, ws.title)
            frozen_rows = int(re.sub(r"[A-Z]", "", ws.freeze_panes)) - 1
            assert frozen_rows == top, (lang, ws.title)  # the header row is the last frozen one
            assert ws.cell(top, 1).font.b, (lang, ws.title)  # and it is the header (bold), not a data row


def test_totals_are_formulas_whose_cached_values_are_the_exact_sums(books):
    out, _ = books
    for lang, (formulas, values) in out.items():
        checked = 0
        for ws in formulas.worksheets:
            cached = values[ws.title]
            for row in ws.iter_rows():
                for cell in row:
                    if not (isinstance(cell.value, str) and cell.value.startswith("=")):
                        continue
                    m = SUMMED.match(cell.value)
                    assert m, (lang, ws.title, cell.coordinate, cell.value)
                    col, first, last = m.group(1), int(m.group(2)), int(m.group(3))
                    assert last == cell.row - 1 and first <= last  # the rows right above it
                    parts = [cached[f"{col}{r}"].value for r in range(first, last + 1)]
                    numbers = [Decimal(str(p)) for p in parts if isinstance(p, (int, float))]
                    total = Decimal(str(cached[cell.coordinate].value))
                    assert abs(total - sum(numbers, Decimal(0))) < Decimal("1e-6"), (ws.title, cell.coordinate)
                    checked += 1
        assert checked >= 5 * 4, lang  # every Total line of every breakdown sheet and of the Summary


def test_money_totals_equal_the_lake_to_the_cent(books):
    out, october = books
    rated = october[october.rating_status == "rated"]
    _, values = out["en"]
    for sheet in ("By site", "By carrier", "By department"):
        ws = values[sheet]
        header = [c.value for c in ws[1]]
        total = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Total")
        for key in ("actual_cost", "reference_cost", "savings"):
            label = {"actual_cost": "Actual cost (USD)", "reference_cost": "Reference cost (USD)",
                     "savings": "Savings (USD)"}[key]
            got = Decimal(str(total[header.index(label)])).quantize(CENT)
            assert got == sum(rated[key], Decimal(0)), (sheet, key)


def test_minutes_are_the_same_on_every_sheet_rounded_once_from_exact_seconds(books):
    out, october = books
    exact = (Decimal(int(october.duration_s.sum())) / 60).quantize(CENT)
    for lang, (_, values) in out.items():
        tr = translator(lang)
        minutes, total = tr.gettext("Minutes"), tr.gettext("Total")
        shown = {}
        summary = values.worksheets[0]
        rows = [r for r in summary.iter_rows(values_only=True)]
        shown["headline"] = next(r[1] for r in rows if r[0] == minutes)
        for ws in values.worksheets[1:]:
            header = [c.value for c in ws[1]]
            totals = [r for r in ws.iter_rows(values_only=True) if r[0] == total]
            if minutes in header and totals:  # (the what-if sheet has no Total: each line is the whole traffic)
                shown[ws.title] = totals[0][header.index(minutes)]
        # the summary's own tables (rated/unrated, by call type): their Total lines
        for i, r in enumerate(rows):
            if r[0] == total and isinstance(r[2], (int, float)):
                shown[f"summary row {i + 1}"] = r[2]
        assert len(shown) >= 6, shown
        rounded = {k: Decimal(str(v)).quantize(CENT) for k, v in shown.items()}
        assert set(rounded.values()) == {exact}, (lang, rounded)


def test_not_priced_is_never_in_a_money_formatted_cell_and_money_has_the_currency_format(books):
    out, _ = books
    for lang, (wb, _) in out.items():
        unpriced = translator(lang).gettext("not priced")
        seen = 0
        for ws in wb.worksheets:
            top = header_row(ws)
            for row in ws.iter_rows(min_row=top + 1):
                for cell in row:
                    fmt = cell.number_format
                    if isinstance(cell.value, str) and not cell.value.startswith("="):
                        assert '"USD"' not in fmt, (lang, ws.title, cell.coordinate, cell.value, fmt)
                        seen += cell.value == unpriced
                    header = ws.cell(top, cell.column).value
                    if isinstance(header, str) and header.endswith("(USD)") and isinstance(cell.value, (int, float)):
                        assert '"USD"' in fmt and "0.00" in fmt, (lang, ws.title, cell.coordinate, fmt)
        assert seen >= 3, lang  # the unrated line's three amounts, as text


def test_every_breakdown_sheet_has_a_native_chart(books):
    out, _ = books
    for lang, (wb, _) in out.items():
        assert len(wb.worksheets[0]._charts) == 1, lang  # Summary: cost and savings by call type
        for ws in wb.worksheets[1:]:
            assert len(ws._charts) == 1, (lang, ws.title)
            series = ws._charts[0].series
            sheets = {s.val.numRef.f.split("!")[0].strip("'") for s in series}
            assert series and sheets == {ws.title}, (lang, ws.title, sheets)  # drawn from this sheet's own cells


def test_labels_are_in_the_reports_language(books):
    out, _ = books
    en, zh = out["en"][0], out["zh_CN"][0]
    assert en.sheetnames[:4] == ["Summary", "By site", "By carrier", "By department"]
    assert zh.sheetnames[:4] == ["摘要", "按站点", "按运营商", "按部门"]
    assert [c.value for c in zh["按站点"][1]][:4] == ["站点", "通话数", "分钟数", "实际费用 (USD)"]
    summary = {r[0] for r in zh["摘要"].iter_rows(values_only=True) if r[0]}
    assert {"通话数", "节省", "未计价（无法定价）", "合计", "网内", "呼出"} <= summary
    assert "月度节省 — 2026年10月 (USD)" == zh["摘要"]["A1"].value
    english = {r[0] for r in en["Summary"].iter_rows(values_only=True) if r[0]}
    assert {"On-net", "Outbound", "Unrated (not priced)"} <= english and "onnet" not in english


def test_a_whatif_row_a_carrier_cannot_fully_price_is_incomplete_not_a_saving(tmp_path):
    from rating_enterprise import parsed_calls, write_enterprise as whatif_enterprise
    from test_whatif import CALLS  # the hand-worked calls: brit cannot price 3 of them
    from analytics.rating.stage import RatingStage
    from warehouse.store import Store

    ent = load_config(whatif_enterprise(tmp_path))
    Store(ent).save(RatingStage(ent).rate_batch(parsed_calls(CALLS)))
    for lang in ("en", "zh_CN"):
        [path] = run_report("carrier-whatif", ent.storage.lake, "2026-10", ["xlsx"], tmp_path / lang, "USD",
                            config=ent, lang=lang)
        tr = translator(lang)
        ws = openpyxl.load_workbook(path, data_only=True)[tr.gettext("What-if by carrier")]
        header = [c.value for c in ws[1]]
        rows = {r[0].value: r for r in ws.iter_rows(min_row=2) if r[0].value}
        delta = rows["brit"][header.index(tr.gettext("Δ vs actual") + " (USD)")]
        coverage = rows["brit"][header.index(tr.gettext("Coverage"))]
        assert delta.value == tr.gettext("incomplete") and '"USD"' not in delta.number_format, lang
        assert coverage.value == tr.gettext("Incomplete")
        acme = rows["acme"]
        assert acme[header.index(tr.gettext("Coverage"))].value == tr.gettext("Complete")
        assert Decimal(str(acme[header.index(tr.gettext("Δ vs actual") + " (USD)")].value)).quantize(CENT) == \
            Decimal("0.29")
