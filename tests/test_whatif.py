"""What-if and least-cost (``analytics.whatif``) and the ``carrier-whatif`` report, on hand-worked calls.

Enterprise and tariffs: ``tests/rating_enterprise.py``; every call 90 s (billable 120 s) on Wednesday
2026-10-14 15:00Z (11:00 New York, 16:00 London), except the unanswered one.

  call    route                         actual (stored)   acme (from breakout)   brit (from breakout)
  local   NYC → +1212… over acme        0.02              1212: 0.02             no prefix 1: not priced
  uk      NYC → +4420… over acme        0.30              44: 0.10 + 0.20 = 0.30 4420 day 0.006×2 → 0.01
  teho    NYC → +4420… out via London   0.01 (brit)       from LON 44: 0.30      from LON: 0.01
  lon-us  LON → +1212… over brit        unrated           1212: 0.02             no prefix 1: not priced
  missed  NYC → +1212…, unanswered      0.00              0.00                   0.00
  tf      NYC → +1800… (toll-free)      0.00              1800 row → 0 (toll-free) no prefix: not priced
  in      inbound: not outbound, left out
References (stored, rated calls): 0.04 + 1.00 + 1.00 + 0 + 0 = 2.04.
"""

from __future__ import annotations

import json
from decimal import Decimal

import plotly.graph_objects as go
import pytest
from rating_enterprise import parsed_calls, write_enterprise

from analytics import carrier_whatif, least_cost, whatif_figure
from analytics.reporting import ReportError, run_report
from warehouse.config import load_config
from analytics.rating.stage import RatingStage
from warehouse.store import Store

D = Decimal
CALLS = [
    ("local", "nyc", "1001", "92125551234", "NYC-PSTN-1", 90),
    ("uk", "nyc", "1001", "9011442079460000", "NYC-PSTN-1", 90),
    ("teho", "nyc", "1001", "9011442079460000", "LON-PSTN-TEHO1", 90),
    ("lon-us", "lon", "2001", "90012125551234", "LON-PSTN-1", 90),
    ("missed", "nyc", "1001", "92125551234", "NYC-PSTN-1", 0),
    ("tf", "nyc", "1001", "918005551234", "NYC-PSTN-1", 90),
    ("in", "nyc", "+13125551234", "2125551001", "NYC-PSTN-1", 90),
]


@pytest.fixture(scope="module")
def ent(tmp_path_factory):
    ent = load_config(write_enterprise(tmp_path_factory.mktemp("whatif")))
    Store(ent).save(RatingStage(ent).rate_batch(parsed_calls(CALLS)))
    return ent


def test_every_carrier_prices_the_same_outbound_calls(ent):
    df = carrier_whatif(ent, "2026-10").set_index("carrier")
    assert list(df.index) == ["acme", "brit", "(actual)", "(reference)"]
    assert (df["calls"] == 6).all() and (df["minutes"] == D("7.50")).all()
    got = {c: (r["priced_calls"], r["cost"], r["unrated_calls"], r["delta_vs_actual"], r["compared_calls"])
           for c, r in df.iterrows()}
    assert got == {
        "acme": (6, D("0.64"), 0, D("0.29"), 5),  # 0.62 on the 5 calls with an actual cost, vs 0.33
        "brit": (3, D("0.02"), 3, D("-0.29"), 3),  # uk, teho, missed: 0.02 vs 0.31
        "(actual)": (5, D("0.33"), 1, D("0.00"), 5),
        "(reference)": (5, D("2.04"), 1, D("1.71"), 5),
    }
    assert all(isinstance(v, Decimal) for v in df["cost"])


def test_least_cost_by_country_only_ranks_carriers_that_price_the_whole_group(ent):
    df = least_cost(ent, "2026-10")
    assert list(df.index) == ["GB", "US"] and df.index.name == "dest_country"
    gb, us = df.loc["GB"], df.loc["US"]
    assert (gb["calls"], gb["actual_cost"], gb["cost_acme"], gb["cost_brit"]) == (2, D("0.31"), D("0.60"), D("0.02"))
    assert (gb["cheapest"], gb["cheapest_cost"], gb["saving_vs_actual"]) == ("brit", D("0.02"), D("0.29"))
    # brit looks cheaper in the US (0.00) only because it prices 1 of 4 calls: acme wins
    assert (us["calls"], us["actual_cost"], us["actual_unrated"]) == (4, D("0.02"), 1)
    assert (us["cost_brit"], us["unrated_brit"], us["cost_acme"], us["unrated_acme"]) == (D("0.00"), 3, D("0.04"), 0)
    assert (us["cheapest"], us["cheapest_cost"], us["saving_vs_actual"]) == ("acme", D("0.04"), D("0.00"))


def test_least_cost_by_class(ent):
    df = least_cost(ent, "2026-10", by="category")
    assert df.loc["international", "cheapest"] == "brit"
    assert df.loc["national", "cheapest"] == "acme"  # lon-us: the reference classed it, the actual is unrated
    assert df.loc["national", "saving_vs_actual"] is None  # no call of the group has an actual cost
    assert df.loc["tollfree", "cost_acme"] == D("0.00") and df.loc["tollfree", "unrated_brit"] == 1
    with pytest.raises(ValueError, match="cannot group least-cost by 'site'"):
        least_cost(ent, "2026-10", by="site")


def test_an_empty_month_and_the_figure(ent):
    empty = carrier_whatif(ent, "2026-09")
    assert list(empty["calls"]) == [0, 0, 0, 0] and list(empty["cost"]) == [D("0.00")] * 4
    assert least_cost(ent, "2026-09").empty
    fig = whatif_figure(carrier_whatif(ent, "2026-10"), currency="USD")
    assert isinstance(fig, go.Figure)
    bar = fig.data[0]
    assert list(bar.x) == ["acme", "brit", "(actual)", "(reference)"] and list(bar.y) == [0.64, 0.02, 0.33, 2.04]
    assert bar.text[1] == "3 not priced"


def test_carrier_whatif_report_in_every_format(ent, tmp_path):
    paths = run_report("carrier-whatif", ent.storage.lake, "2026-10", ["xlsx", "html", "csv", "json", "txt"],
                       tmp_path, "USD", config=ent)
    assert [p.suffix for p in paths] == [".xlsx", ".html", ".csv", ".json", ".txt"]
    doc = json.loads(paths[3].read_text())
    assert doc["headline"]["Cheapest carrier (all calls)"] == "acme"
    assert doc["headline"]["Least-cost saving by class"] == "0.29"  # international over brit
    whatif = {r["label"]: r for r in doc["tables"]["whatif"]}
    assert whatif["brit"]["cost"] == "0.02" and whatif["brit"]["unrated_calls"] == 3
    assert whatif["acme"]["delta_vs_actual"] == "0.29"
    country = {r["label"]: r for r in doc["tables"]["by_country"]}
    assert country["GB"]["cheapest"] == "brit" and country["Total"]["saving_vs_actual"] == "0.29"
    csv_text = paths[2].read_text()
    assert "brit" in csv_text and "0.64" in csv_text
    assert "Least cost by destination country" in paths[1].read_text()
    with pytest.raises(ReportError, match="needs the enterprise config"):
        run_report("carrier-whatif", ent.storage.lake, "2026-10", ["csv"], tmp_path, "USD")


def test_module_docstring_examples_run():
    import doctest

    import analytics.whatif

    result = doctest.testmod(analytics.whatif)
    assert result.failed == 0 and result.attempted >= 2


def test_a_call_from_a_site_no_longer_configured_is_unpriced_not_a_crash(tmp_path):
    """A lake call whose site left the config has no origin: every carrier counts it unpriced (was ArrowTypeError)."""
    from lakefactory import call, write_lake

    ent = load_config(write_enterprise(tmp_path))
    write_lake(ent.storage.lake, [call("gone1", "2026-10-14T15:00:00", "GONE", "acme", None, "1001", "outbound",
                                       "national", 90, "0.10", "0.50")])
    rows = carrier_whatif(ent, "2026-10").set_index("carrier")
    assert rows.loc["acme", "calls"] == 1
    assert rows.loc["acme", "unrated_calls"] == 1 and rows.loc["acme", "priced_calls"] == 0
    assert rows.loc["acme", "delta_vs_actual"] is None
    assert rows.loc["(actual)", "cost"] == D("0.10")
