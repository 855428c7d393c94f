"""``callcost export`` and :func:`analytics.export.export_calls`: every format read back with its own reader.

The lake holds lakefactory calls (rated, unrated, unanswered, no carrier, no department) plus a few
with awkward text (commas, quotes, ``<``, ``&``, non-ASCII).  Each export is read back with a reader
that knows nothing of ours (csv, json, html.parser, pyarrow, openpyxl) and must give the same calls in
the same order with the same exact money totals as the rows the lake was written from.
"""

from __future__ import annotations

import csv
import json
import zipfile
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import analytics.export_formats as formats
from analytics.export import ExportError, export_calls, export_columns
from analytics.selection import select
from callcost.cli import app
from callcost.demo import build_sample
from lakefactory import call, random_calls, write_lake
from warehouse.config import load_config

ZERO = Decimal(0)
MONEY = ("actual_cost", "reference_cost", "savings")
AWKWARD = [
    call("w1", "2026-10-07T10:00:00", "LON", "acme", 'R&D, "Labs" <EU>', "2001", "outbound", "national", 61,
         "0.07", "0.31"),
    call("w2", "2026-10-07T11:00:00", "SHA", None, "Sales — 销售", "3001", "outbound", "international", 5,
         "123456789.99", "223456789.98"),
]


@pytest.fixture(scope="module")
def enterprise(tmp_path_factory):
    """The sample enterprise's config (no demo traffic) over a lakefactory lake: fast, and figures known."""
    config = build_sample(tmp_path_factory.mktemp("export") / "ent")
    ent = load_config(config)
    rows = random_calls(1_500, seed=8, months=("2026-10", "2026-11")) + AWKWARD
    write_lake(ent.storage.lake, rows)
    calls = pd.DataFrame(rows)
    calls["date"] = calls.start_utc.dt.date
    return ent, calls


def expected(calls: pd.DataFrame, **filters) -> pd.DataFrame:
    oct_ = calls[(calls.date >= pd.Timestamp("2026-10-01").date()) & (calls.date <= pd.Timestamp("2026-10-31").date())]
    for column, value in filters.items():
        oct_ = oct_[oct_[column].isin([value] if isinstance(value, str) else value)]
    return oct_.sort_values(["start_utc", "call_id"])


def totals(frame: pd.DataFrame) -> dict[str, Decimal]:
    rated = frame[frame.rating_status == "rated"]
    return {m: sum(rated[m], ZERO) for m in MONEY}


def read_money(values) -> Decimal:
    return sum((Decimal(v) for v in values if v not in (None, "")), ZERO)


# --- every format ------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_json(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


class _Table(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.header: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            (self.header if tag == "th" else self.rows[-1]).append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def read_html(path: Path) -> list[dict]:
    parser = _Table()
    parser.feed(path.read_text(encoding="utf-8"))
    return [dict(zip(parser.header, r)) for r in parser.rows if r]


def read_txt(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").split("\n")
    rule_at = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans, pos = [], 0
    for dashes in lines[rule_at].split("  "):
        spans.append((pos, pos + len(dashes)))
        pos += len(dashes) + 2
    names = [lines[rule_at - 1][a:b].strip() for a, b in spans]
    body = lines[rule_at + 1:lines.index("", rule_at)]
    return [{n: line[a:b].strip() for n, (a, b) in zip(names, spans)} for line in body]


def read_parquet(path: Path) -> list[dict]:
    table = pq.read_table(path)
    assert table.schema.field("savings").type == pa.decimal128(18, 2)
    assert str(table.schema.field("start_utc").type.tz) in ("UTC", "Etc/UTC", "+00:00")
    return table.to_pylist()


def read_xlsx(path: Path) -> list[dict]:
    book = openpyxl.load_workbook(path, read_only=False)
    sheet = book["calls"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    money_col = header.index("savings") + 1
    assert sheet.cell(row=2, column=money_col).number_format == "#,##0.00"
    # a float from openpyxl, but its shortest repr is the exact decimal the file stores
    return [{h: (str(v) if isinstance(v, float) else v) for h, v in zip(header, r)} for r in rows[1:]]


READERS = {"csv": read_csv, "json": read_json, "html": read_html, "txt": read_txt, "parquet": read_parquet,
           "xlsx": read_xlsx}


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_every_format_reads_back_with_exact_totals(enterprise, tmp_path, fmt):
    ent, calls = enterprise
    want = expected(calls)
    batches: list[int] = []
    started: list[int] = []
    result = export_calls(select(ent, "2026-10"), fmt, tmp_path / f"calls.{fmt}", batch_rows=200,
                          on_start=started.append, on_rows=batches.append)
    rows = READERS[fmt](result.path)
    assert [r["call_id"] for r in rows] == list(want.call_id)
    assert started == [len(rows)]  # the progress bar's total, known before the first batch
    assert result.rows == len(rows) == sum(batches) and max(batches) <= 200 and len(batches) >= len(rows) // 200
    exact = totals(want)
    for m in MONEY:
        assert read_money(str(r[m]) if r[m] is not None else None for r in rows) == exact[m] == getattr(result, m), m
    by_id = {r["call_id"]: r for r in rows}
    assert by_id["w2"]["actual_cost"] in ("123456789.99", Decimal("123456789.99"))
    if fmt != "parquet":  # text and xlsx keep the awkward strings as they are
        assert by_id["w1"]["department"] == 'R&D, "Labs" <EU>' and by_id["w2"]["department"] == "Sales — 销售"
    unrated = want[want.rating_status == "unrated"].call_id.iloc[0]
    assert by_id[unrated]["actual_cost"] in (None, "")  # unknown cost stays unknown, never 0
    assert set(rows[0]) == set(export_columns())


def test_json_types_money_as_strings_counts_as_numbers(enterprise, tmp_path):
    ent, _ = enterprise
    rows = read_json(export_calls(select(ent, "2026-10", site="LON"), "json", tmp_path / "c.json").path)
    first = next(r for r in rows if r["rating_status"] == "rated")
    assert isinstance(first["actual_cost"], str) and isinstance(first["duration_s"], int)
    assert first["start_utc"].endswith("Z") and len(first["start_utc"]) == 20


def test_filters_and_columns(enterprise, tmp_path):
    ent, calls = enterprise
    sel = select(ent, "2026-10", site=["NYC", "LON"], carrier="acme", call_type="outbound")
    want = expected(calls, site=["NYC", "LON"], carrier="acme", call_type="outbound")
    result = export_calls(sel, "csv", tmp_path / "f.csv", columns=["call_id", "site", "savings"])
    rows = read_csv(result.path)
    assert list(rows[0]) == ["call_id", "site", "savings"]
    assert [r["call_id"] for r in rows] == list(want.call_id)
    assert read_money(r["savings"] for r in rows) == totals(want)["savings"] == result.savings


def test_large_xlsx_streams_in_constant_memory_mode(enterprise, tmp_path, monkeypatch):
    ent, calls = enterprise
    monkeypatch.setattr(formats.XlsxWriter, "constant_memory_rows", 100)
    result = export_calls(select(ent, "2026-10"), "xlsx", tmp_path / "big.xlsx", batch_rows=64)
    sheet_xml = zipfile.ZipFile(result.path).read("xl/worksheets/sheet1.xml").decode()
    assert 't="inlineStr"' in sheet_xml  # constant_memory writes inline strings row by row
    assert "<v>123456789.99</v>" in sheet_xml  # the stored number is the exact decimal text
    rows = read_xlsx(result.path)
    assert read_money(r["savings"] for r in rows) == totals(expected(calls))["savings"]


def test_errors_are_clear_and_leave_no_file(enterprise, tmp_path, monkeypatch):
    ent, _ = enterprise
    with pytest.raises(ExportError, match="unknown export format 'docx'.*csv"):
        export_calls(select(ent, "2026-10"), "docx", tmp_path / "x.docx")
    with pytest.raises(ExportError, match=r"nothing to export: no calls for 2027-01-01 … 2027-01-31.*2026-10, 2026-11"):
        export_calls(select(ent, "2027-01"), "csv", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="unknown column 'cost'"):
        export_calls(select(ent, "2026-10"), "csv", tmp_path / "x.csv", columns=["call_id", "cost"])
    monkeypatch.setattr(formats, "XLSX_MAX_ROWS", 10)
    with pytest.raises(ExportError, match="do not fit one Excel sheet"):
        export_calls(select(ent, "2026-10"), "xlsx", tmp_path / "x.xlsx")
    assert not list(tmp_path.iterdir())


def test_a_failed_export_keeps_the_previous_file(enterprise, tmp_path):
    ent, _ = enterprise
    target = tmp_path / "calls.csv"
    target.write_text("previous export\n")

    def interrupt(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_calls(select(ent, "2026-10"), "csv", target, batch_rows=50, on_rows=interrupt)
    assert target.read_text() == "previous export\n" and [p.name for p in tmp_path.iterdir()] == ["calls.csv"]


# --- the command ---------------------------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cli_export_with_filters(enterprise, tmp_path):
    ent, calls = enterprise
    out = tmp_path / "nyc.parquet"
    result = run("export", "--from", "2026-10-01", "--to", "2026-10-15", "--format", "parquet", "--site", "NYC",
                 "--call-type", "outbound,onnet", "--out", str(out), "--config", str(ent.path))
    assert result.exit_code == 0, result.output
    half = calls[(calls.date >= pd.Timestamp("2026-10-01").date()) & (calls.date <= pd.Timestamp("2026-10-15").date())
                 & (calls.site == "NYC") & calls.call_type.isin(["outbound", "onnet"])]
    table = pq.read_table(out)
    assert sorted(table.column("call_id").to_pylist()) == sorted(half.call_id)
    exact = totals(half)
    assert sum(table.column("savings").to_pylist()[i] or ZERO for i in range(table.num_rows)) == exact["savings"]
    assert f"savings {exact['savings']} USD" in result.output and f"{len(half):,} calls" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "docx"], "unknown format 'docx'"),
    (["--site", "NCY"], "filter site: unknown value 'NCY'"),
    (["--department", "Nope"], "filter department: unknown value 'Nope'"),
    (["--carrier", "nocarrier"], "filter carrier: unknown value 'nocarrier'"),
    (["--extension", "99999"], "filter extension: unknown value '99999'"),
    (["--call-type", "outgoing"], "filter call_type: unknown value 'outgoing'"),
])
def test_cli_rejects_unknown_values(enterprise, tmp_path, args, message):
    ent, _ = enterprise
    result = run("export", "--from", "2026-10-01", "--to", "2026-10-31", *args, "--out", str(tmp_path / "x"),
                 "--config", str(ent.path))
    assert result.exit_code == 1 and message in result.output, result.output
    assert not list(tmp_path.iterdir())


def test_cli_empty_period_and_bad_dates(enterprise, tmp_path):
    ent, _ = enterprise
    empty = run("export", "--from", "2026-12-01", "--to", "2026-12-31", "--out", str(tmp_path / "x.csv"),
                "--config", str(ent.path))
    assert empty.exit_code == 1 and "nothing to export" in empty.output and "2026-10, 2026-11" in empty.output
    bad = run("export", "--from", "2026-10-32", "--to", "2026-10-31", "--config", str(ent.path))
    assert bad.exit_code == 1 and "'2026-10-32' is not a date" in bad.output
    backwards = run("export", "--from", "2026-10-31", "--to", "2026-10-01", "--config", str(ent.path))
    assert backwards.exit_code == 1 and "after" in backwards.output


def test_cli_help_has_an_example():
    result = run("export", "--help")
    assert result.exit_code == 0 and "Example: callcost export" in result.output
