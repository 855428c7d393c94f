"""The billing split: hand-worked charges, directory changes mid-month, and parts that sum to the whole."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from billing_cases import EXPECTED_LINES, EXPECTED_TOTAL, write_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lakefactory import call, write_lake

from analytics.billing import UNASSIGNED, billing_split, split_calls
from analytics.chargeback_rules import load_rules, parse_rules
from analytics.rating.directory import load_directory

COLUMNS = ("usage", "trunk_share", "markup", "surcharge_calls", "surcharge_minutes", "fixed_extension",
           "fixed_department", "total")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    lake, rules_file = write_case(tmp_path_factory.mktemp("billing"))
    return billing_split(lake, "2026-10", load_rules(rules_file, 2))


def test_hand_worked_lines(case):
    lines = case.lines.set_index("extension")
    assert sorted(lines.index) == sorted(EXPECTED_LINES)
    for ext, expected in EXPECTED_LINES.items():
        assert tuple(int(lines.at[ext, c]) for c in COLUMNS) == expected, ext
    assert case.total == EXPECTED_TOTAL
    assert case.to_decimal(case.total) == Decimal("18.98")


def test_counts_unrated_and_unassigned(case):
    lines = case.lines.set_index("extension")
    assert lines.at["200", "calls"] == 2 and lines.at["200", "unrated_calls"] == 1  # r1: counted, not billed
    assert lines.at["999", "department"] == UNASSIGNED and lines.at["999", "cost_center"] == UNASSIGNED
    assert int(case.lines.calls.sum()) == 7  # the November call is another period's
    cells = case.cells.merge(case.lines[["line_id", "extension"]], on="line_id").set_index(["extension", "call_type"])
    assert cells.loc[("300", "inbound"), ["calls", "answered", "total"]].tolist() == [1, 0, 0]


def test_hierarchy_rollups_and_clients(case):
    depts = case.departments()
    assert depts.loc["Ops/EMEA", "parent"] == "Ops" and depts.loc["Ops/EMEA", "client"] == "Client A"
    assert depts["total"].to_dict() == {UNASSIGNED: 65, "Ops": 1193, "Ops/EMEA": 582, "Sales": 58}
    assert depts["total"].sum() == case.cost_centers()["total"].sum() == case.total
    assert case.trunk_charges.iloc[0][["amount", "calls", "seconds"]].tolist() == [100, 6, 405]


def test_without_rules_the_total_is_the_usage(tmp_path):
    lake, _ = write_case(tmp_path)
    split = billing_split(lake, "2026-10")
    assert split.total == 398 and (split.lines.total == split.lines.usage).all()


def test_empty_period_is_an_empty_split(tmp_path):
    lake, rules = write_case(tmp_path)
    split = billing_split(lake, "2026-08", load_rules(rules, 2))
    assert split.total == 100 + 100 + 1000  # fees are still due: trunk, extension 100, Ops — never dropped
    assert set(split.lines.department) == {UNASSIGNED, "Ops"}


def test_directory_change_mid_month_moves_calls_to_the_new_department(tmp_path):
    directory = tmp_path / "directory.csv"
    directory.write_text("extension,site,user,department,cost_center,valid_from,valid_to\n"
                         "500,NYC,Ann,Sales,CC-S,2025-01-01,2026-10-14\n"
                         "500,NYC,Ann,Marketing,CC-M,2026-10-15,\n", encoding="utf-8")
    rows = [call("d1", "2026-10-14T23:59:00", "NYC", "acme", "Stale", "500", "outbound", "national", 60, "1.00", "1.00"),
            call("d2", "2026-10-15T00:00:00", "NYC", "acme", "Stale", "500", "outbound", "national", 60, "2.00", "2.00"),
            call("d3", "2026-10-20T09:00:00", "NYC", "acme", "Stale", "777", "outbound", "national", 60, "4.00", "4.00")]
    write_lake(tmp_path / "lake", rows)
    split = billing_split(tmp_path / "lake", "2026-10", directory=load_directory(directory))
    by = split.lines.set_index(["extension", "department"])
    assert by.loc[("500", "Sales"), ["calls", "usage"]].tolist() == [1, 100]
    assert by.loc[("500", "Marketing"), ["calls", "usage", "cost_center"]].tolist() == [1, 200, "CC-M"]
    assert by.loc[("777", UNASSIGNED), "usage"] == 400  # not in the directory: unassigned, never dropped
    stored = billing_split(tmp_path / "lake", "2026-10")  # without a directory: the lake's attribution
    assert set(stored.lines.department) == {"Stale"}


# --- property: every part adds up to the whole, to the cent -----------------------------------------------

DEPTS = ["A", "A/x", "A/x/y", "B", None]


def _frame(rows) -> pd.DataFrame:
    n = len(rows)
    start = pd.Timestamp(datetime(2026, 10, 1, tzinfo=timezone.utc))
    return pd.DataFrame({
        "call_id": [f"p{i}" for i in range(n)], "pbx": "p", "site": "NYC",
        "start_utc": [start + pd.Timedelta(minutes=int(r[4])) for r in rows],
        "extension": [str(r[0]) for r in rows], "user": None, "department": [r[1] for r in rows],
        "cost_center": [r[1] and f"CC-{r[1][0]}" for r in rows], "call_type": [r[2] for r in rows],
        "category": "national", "number": "+1", "trunk": [r[5] for r in rows], "duration_s": [r[3] for r in rows],
        "rating_status": ["unrated" if r[6] is None else "rated" for r in rows], "unrated_reason": None,
        "actual_cost": None, "currency": "USD", "cost": [r[6] or 0 for r in rows],
    })


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


call_rows = st.lists(st.tuples(st.integers(1, 6), st.sampled_from(DEPTS), st.sampled_from(["outbound", "inbound"]),
                               st.integers(0, 4000), st.integers(0, 40_000), st.sampled_from(["GW-1", "SIP", None]),
                               st.one_of(st.none(), st.integers(0, 100_000))), min_size=0, max_size=40)
money = st.decimals(min_value=0, max_value=1000, places=2).map(str)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call_rows, st.decimals(0, 50, places=2).map(str), st.decimals(0, 1, places=4).map(str),
       st.decimals(0, 1, places=4).map(str), money, money, money, money)
def test_parts_sum_to_the_whole_to_the_cent(rows, markup, per_call, per_minute, trunk, dept_fee, seat, ext_fee):
    rules = parse_rules(f"""
[[department]]
name = "A"
markup_pct = "{markup}"
surcharge_per_minute = "{per_minute}"
fixed_monthly = "{dept_fee}"
[[department]]
name = "A/x"
surcharge_per_call = "{per_call}"
fixed_per_extension = "{seat}"
[[extension]]
extension = "3"
fixed_monthly = "{ext_fee}"
[[trunk_charge]]
name = "GW"
match = "GW-*"
amount = "{trunk}"
""", Path("r.toml"), 2)
    split = split_calls(_frame(rows), 2, period="2026-10", currency="USD", rules=rules)
    lines, cells = split.lines, split.cells
    assert int(lines.calls.sum()) == len(rows)                       # no call dropped
    assert int(lines.trunk_share.sum()) == _cents(trunk)              # the trunk invoice, to the cent
    assert int(lines.fixed_department.sum()) == _cents(dept_fee)      # the department fee, to the cent
    assert int(lines.usage.sum()) == sum(r[6] or 0 for r in rows if r[6] is not None)
    components = sum(int(lines[c].sum()) for c in COLUMNS[:-1])
    assert split.total == components == int(lines.total.sum())
    assert int(cells.total.sum()) + int(lines.fixed_extension.sum()) + int(lines.fixed_department.sum()) == split.total
    for by in ("department", "cost_center", "site", "client"):
        assert int(split.rollup(by)["total"].sum()) == split.total
    per_line = cells.groupby("line_id")["total"].sum().reindex(lines.line_id, fill_value=0).to_numpy()
    assert np.array_equal(per_line + lines.fixed_extension.to_numpy() + lines.fixed_department.to_numpy(),
                          lines.total.to_numpy())
