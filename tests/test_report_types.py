"""The report types of the ``callcost.reports`` group: every figure equals an independent pandas
computation from the lake's rows, to the cent, in the workbook, the CSV and the JSON."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from lakefactory import write_lake
from reportkit import report_calls, write_enterprise
from analytics.reporting import ReportError, registered_reports, run_report
from warehouse.config import load_config

FORMATS = ["xlsx", "html", "csv", "json", "txt"]
CENT = Decimal("0.01")
NEW_TYPES = ("carrier-cost", "top-n", "destination-classes", "trunk-utilisation", "unrated-calls", "fraud-watch")


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def dsum(values) -> Decimal:
    return sum((v for v in values if v is not None), Decimal(0))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("types")
    rows = report_calls(3_000, seed=5)
    write_lake(root / "lake", rows)
    calls = pd.DataFrame(rows)
    october = calls[calls.start_utc.dt.strftime("%Y-%m") == "2026-10"].copy()
    ent = load_config(write_enterprise(root, '\n[alerts]\nrecipients = ["sec@test.example"]\n'
                                             '[alerts.premium]\ncalls = 2\n[alerts.international]\ncost = "40.00"\n'))
    return root, ent, october


def render(lake, name: str, **params) -> dict:
    root, ent, _ = lake
    out = root / "out" / name / "-".join(f"{k}{v}" for k, v in params.items())
    paths = run_report(name, root / "lake", "2026-10", FORMATS, out, "USD", config=ent, params=params)
    return {p.suffix[1:]: p for p in paths}


def sheet(path, title: str) -> dict[str, tuple]:
    ws = openpyxl.load_workbook(path, data_only=True)[title]
    return {r[0]: r for r in list(ws.iter_rows(values_only=True))[1:] if r[0] is not None}


def expected_groups(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """calls, actual, reference, savings (rated only), unrated per group — plain pandas."""
    f = frame.assign(key=frame[by].fillna("(none)"))
    rated = f[f.rating_status == "rated"]
    out = pd.DataFrame({"calls": f.groupby("key").size()})
    for col in ("actual_cost", "reference_cost", "savings"):
        out[col] = rated.groupby("key")[col].agg(dsum)
    out["unrated"] = f[f.rating_status != "rated"].groupby("key").size()
    out["seconds"] = f.groupby("key").duration_s.sum()
    return out.fillna({"unrated": 0, "actual_cost": Decimal(0), "reference_cost": Decimal(0), "savings": Decimal(0)})


def check_rows(rows: dict, exp: pd.DataFrame, where: str) -> None:
    assert set(rows) - {"Total"} == set(exp.index), where
    for key, e in exp.iterrows():
        r = rows[key]
        assert r[1] == e.calls and r[-1] == e.unrated, (where, key)
        assert (money(r[3]), money(r[4]), money(r[5])) == (e.actual_cost, e.reference_cost, e.savings), (where, key)
        assert money(r[2]) == (Decimal(int(e.seconds)) / 60).quantize(CENT), (where, key)
    assert rows["Total"][1] == exp.calls.sum()
    assert money(rows["Total"][3]) == dsum(exp.actual_cost)


def test_all_types_are_registered_entry_points():
    reports = registered_reports()
    for name in NEW_TYPES:
        assert name in reports and set(reports[name].formats) == set(FORMATS), name


def test_carrier_cost_equals_pandas(lake):
    _, _, october = lake
    paths = render(lake, "carrier-cost")
    scope = october[october.carrier.notna() | (october.rating_status != "rated")]
    check_rows(sheet(paths["xlsx"], "By carrier"), expected_groups(scope, "carrier"), "by carrier")
    with paths["csv"].open() as fh:
        rows = {r["label"]: r for r in csv.DictReader(fh)}
    assert Decimal(rows["Total"]["actual_cost"]) == dsum(scope[scope.rating_status == "rated"].actual_cost)
    doc = json.loads(paths["json"].read_text())
    assert Decimal(doc["headline"]["Carrier cost"]) == dsum(scope[scope.rating_status == "rated"].actual_cost)
    by_class = scope.assign(k=scope.carrier.fillna("(none)") + " / " + scope.category.fillna("(none)"))
    check_rows(sheet(paths["xlsx"], "By carrier and class"), expected_groups(by_class, "k"), "class")


def test_destination_classes_equal_pandas(lake):
    _, _, october = lake
    paths = render(lake, "destination-classes")
    check_rows(sheet(paths["xlsx"], "By destination class"), expected_groups(october, "category"), "class")
    intl = october[october.category == "international"]
    check_rows(sheet(paths["xlsx"], "International by country"), expected_groups(intl, "dest_country"), "country")
    rows = sheet(paths["xlsx"], "By destination class")
    assert "premium" in rows and rows["Total"][7] == pytest.approx(1.0)  # shares add up to 100 %


@pytest.mark.parametrize("by, column", [("cost", "actual_cost"), ("minutes", "seconds"), ("count", "calls")])
def test_top_n_equals_pandas(lake, by, column):
    _, _, october = lake
    paths = render(lake, "top-n", by=by, n="5")
    exp = expected_groups(october, "extension")
    exp["name"] = exp.index
    exp["sort"] = [Decimal(v) for v in exp[column]]
    exp = exp.sort_values(["sort", "name"], ascending=[False, True])
    top = exp.iloc[:5]
    ws = openpyxl.load_workbook(paths["xlsx"], data_only=True)[f"Top 5 by {('cost', 'minutes', 'calls')[('cost', 'minutes', 'count').index(by)]}"]
    rows = [r for r in list(ws.iter_rows(values_only=True))[1:] if r[0]]
    assert [r[0] for r in rows[:5]] == [f"{i}. {k}" for i, k in enumerate(top.index, 1)]
    for r, (_, e) in zip(rows, top.iterrows()):
        assert r[1] == e.calls and money(r[3]) == e.actual_cost
    others = rows[5]
    assert others[0] == f"All others ({len(exp) - 5})"
    assert others[1] == exp.calls.iloc[5:].sum() and money(others[3]) == dsum(exp.actual_cost.iloc[5:])
    assert rows[6][0] == "Total" and money(rows[6][3]) == dsum(exp.actual_cost)
    assert json.loads(paths["json"].read_text())["extra"] == {"by": by, "n": 5, "of": "extension"}


def test_top_n_refuses_bad_parameters(lake):
    with pytest.raises(ReportError, match="by='price'"):
        render(lake, "top-n", by="price")
    with pytest.raises(ReportError, match="no parameter colour"):
        render(lake, "top-n", colour="red")
    with pytest.raises(ReportError, match="n='0'"):
        render(lake, "top-n", n="0")


def test_unrated_calls_lists_every_unrated_call_with_its_reason(lake):
    _, _, october = lake
    paths = render(lake, "unrated-calls")
    unrated = october[october.rating_status != "rated"]
    assert len(unrated) > 10
    with paths["csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["call_id"] for r in rows} == set(unrated.call_id)
    by_id = unrated.set_index("call_id")
    assert all(r["unrated_reason"] == by_id.loc[r["call_id"], "unrated_reason"] for r in rows)
    reasons = sheet(paths["xlsx"], "By reason")
    for reason, n in unrated.unrated_reason.value_counts().items():
        assert reasons[reason][1] == n
    assert reasons["Total"][1] == len(unrated)
    assert "not priced" not in paths["csv"].read_text()  # no cost column pretending to be 0


def test_fraud_watch_totals_and_crossings_equal_pandas(lake):
    _, ent, october = lake
    paths = render(lake, "fraud-watch")
    watched = october[october.call_type.isin(["outbound", "tandem"])].copy()
    zones = {s.id: s.timezone for s in ent.sites.values()}
    local = [t.tz_convert(zones[s]) for t, s in zip(watched.start_utc, watched.site)]
    watched["day"] = [t.date() for t in local]
    intl = watched[watched.category == "international"]
    rows = sheet(paths["xlsx"], "International")
    assert rows["Total"][2] == len(intl)
    assert money(rows["Total"][4]) == dsum(intl[intl.rating_status == "rated"].actual_cost)
    # crossings: premium ≥ 2 calls, international cost ≥ 40.00, per extension per local day
    prem = watched[watched.category == "premium"].groupby(["day", "extension"]).size()
    expected = {(d, e) for (d, e), n in prem.items() if n >= 2}
    icost = intl[intl.rating_status == "rated"].groupby(["day", "extension"]).actual_cost.agg(dsum)
    expected_intl = {(d, e) for (d, e), c in icost.items() if c >= Decimal("40.00")}
    crossings = sheet(paths["xlsx"], "Threshold crossings")
    got = {(r[1], r[0]) for r in crossings.values()}
    want = {("Premium rate", f"{d:%Y-%m-%d} {e}") for d, e in expected} | \
           {("International", f"{d:%Y-%m-%d} {e}") for d, e in expected_intl}
    assert expected_intl and got == want


def test_after_hours_uses_site_local_time_and_holidays(tmp_path):
    from lakefactory import call
    rows = [
        call("a", "2026-10-14T13:00:00", "NYC", "acme", None, "1001", "outbound", "national", 60, "1.00", "2.00"),
        call("b", "2026-10-14T23:30:00", "NYC", "acme", None, "1001", "outbound", "national", 60, "1.00", "2.00"),
        call("c", "2026-10-17T14:00:00", "NYC", "acme", None, "1002", "outbound", "national", 60, "1.00", "2.00"),
        call("d", "2026-10-01T09:00:00", "SHA", "acme", None, "3001", "outbound", "national", 60, "1.00", "2.00"),
        call("e", "2026-10-14T09:00:00", "SHA", "acme", None, "3002", "outbound", "national", 60, "1.00", "2.00"),
        call("f", "2026-10-14T02:00:00", "SHA", "acme", None, "3003", "emergency", "emergency", 60, "0.00", "0.00"),
    ]
    # a: 09:00 NY, Wednesday → in hours; b: 19:30 NY → after; c: Saturday → after;
    # d: 17:00 Shanghai on 1 Oct, National Day → after (holiday); e: 17:00 Shanghai Wednesday → in hours;
    # f: emergency → never watched.
    write_lake(tmp_path / "lake", rows)
    ent = load_config(write_enterprise(tmp_path))
    [path] = run_report("fraud-watch", tmp_path / "lake", "2026-10", ["json"], tmp_path / "o", "USD", config=ent)
    doc = json.loads(path.read_text())
    assert sorted(r["label"] for r in doc["tables"]["after_hours"] if r["kind"] == "group") == ["1001", "1002", "3001"]
    assert doc["headline"]["After hours calls"] == 3 and doc["headline"]["After hours cost"] == "3.00"
