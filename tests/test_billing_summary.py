"""The billing split summed in DuckDB (``billing_summary``, the dashboard's) equals the per-call split
(``billing_split``, the statements') to the cent, on the hand-worked case and on a generated lake."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from billing_cases import EXPECTED_LINES, EXPECTED_TOTAL, write_case
from lakefactory import random_calls, write_lake

from analytics.billing import billing_split, billing_summary
from analytics.chargeback_rules import load_rules, parse_rules

COLUMNS = ("usage", "trunk_share", "markup", "surcharge_calls", "surcharge_minutes", "fixed_extension",
           "fixed_department", "total")

RULES = """
[[department]]
name = "Sales"
markup_pct = "7.5"
surcharge_per_minute = "0.0133"
fixed_monthly = "123.45"
fixed_per_extension = "2.50"
[[department]]
name = "Support"
surcharge_per_call = "0.0725"
client = "Client B"
[[extension]]
extension = "1003"
site = "NYC"
fixed_monthly = "9.99"
[[extension]]
extension = "9999"
fixed_monthly = "5.00"
[[trunk_charge]]
name = "GW"
match = "GW-*"
amount = "321.07"
[[trunk_charge]]
name = "London SIP"
match = "SIP*"
pbx = "lon-pbx"
amount = "77.77"
[[trunk_charge]]
name = "Unused"
match = "NOPE"
amount = "10.00"
"""


def _generated_lake(root, scale: int):
    rows = random_calls(3000, seed=5, months=("2026-09", "2026-10"), scale=scale)
    rng = random.Random(3)
    for row in rows:  # what random_calls leaves out: trunks, users, cost centres, empty attribution
        row["trunk"] = rng.choice(["GW-1", "GW-2", "SIP-A", "SIP-B", None])
        row["user"] = rng.choice(["Ann", "Bob", None, ""])
        row["cost_center"] = rng.choice(["CC-1", "CC-2", None, ""])
        row["extension"] = rng.choice([row["extension"], row["extension"], ""])
    write_lake(root, rows, scale=scale)
    return root


def _same(summary, split) -> None:
    assert summary.calls is None
    assert summary.total == split.total and summary.scale == split.scale and summary.currency == split.currency
    pd.testing.assert_frame_equal(summary.lines, split.lines, check_dtype=False)
    pd.testing.assert_frame_equal(summary.cells, split.cells, check_dtype=False)
    pd.testing.assert_frame_equal(summary.trunk_charges, split.trunk_charges)


def test_hand_worked_case_summed_in_duckdb(tmp_path):
    lake, rules_file = write_case(tmp_path)
    summary = billing_summary(lake, "2026-10", load_rules(rules_file, 2))
    lines = summary.lines.set_index("extension")
    for ext, expected in EXPECTED_LINES.items():
        assert tuple(int(lines.at[ext, c]) for c in COLUMNS) == expected, ext
    assert summary.total == EXPECTED_TOTAL
    _same(summary, billing_split(lake, "2026-10", load_rules(rules_file, 2)))


@pytest.mark.parametrize("scale", [2, 4])
def test_generated_lake_summed_in_duckdb_equals_the_per_call_split(tmp_path, scale):
    lake = _generated_lake(tmp_path / "lake", scale)
    rules = parse_rules(RULES, tmp_path / "rules.toml", scale)
    summary = billing_summary(lake, "2026-10", rules)
    split = billing_split(lake, "2026-10", rules)
    assert len(split.lines) > 100 and split.trunk_charges["calls"].min() == 0 < split.trunk_charges["calls"].max()
    _same(summary, split)
    _same(billing_summary(lake, "2026-10"), billing_split(lake, "2026-10"))   # no rules: the usage


def test_empty_period(tmp_path):
    lake, rules_file = write_case(tmp_path)
    rules = load_rules(rules_file, 2)
    summary, split = billing_summary(lake, "2026-08", rules), billing_split(lake, "2026-08", rules)
    assert summary.total == split.total == 1200
    pd.testing.assert_frame_equal(summary.lines, split.lines, check_dtype=False)
