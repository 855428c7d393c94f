"""Classification and pricing of each call type, worked by hand (SPEC §5), through the real pipeline stage."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from warehouse.config import load_config
from analytics.rating.stage import RatingStage
from warehouse.schema import PARSED_SCHEMA

CONFIG = """
[enterprise]
name = "Two Sites"
currency = "USD"

[[site]]
id = "NYC"
timezone = "America/New_York"
country = "US"
holidays = "US-NY"
main_number = "+12125550000"
dids = ["+12125550000-+12125559999", "+18005550100-+18005550199"]
extensions = ["1000-1999"]
access_code = "9"

[[site]]
id = "LON"
timezone = "Europe/London"
country = "GB"
holidays = "GB-ENG"
main_number = "+442075550000"
dids = ["+442075550000-+442075559999"]
extensions = ["2000-2999"]
access_code = "9"

[[pbx]]
id = "nyc"
type = "canonical-csv"
site = "NYC"

[[trunk]]
pbx = "nyc"
match = "NYC-PSTN-*"
carrier = "acme"

[[trunk]]
pbx = "nyc"
match = "LON-PSTN-TEHO*"
carrier = "brit"
site = "LON"

[[trunk]]
pbx = "nyc"
match = "ONNET-*"
kind = "onnet"

[[carrier]]
id = "acme"
tariff = "acme.csv"

[[carrier]]
id = "brit"
tariff = "brit.csv"

[reference]
tariff = "pstn.csv"

[directory]
file = "directory.csv"
"""
HEADER = "plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,increment,valid_from,valid_to\n"
TARIFFS = {
    "acme.csv": [
        "acme,,1,US,national,all,00:00,24:00,0.00,0.0200,60,60,2026-01-01,",
        "acme,,1212,NYC local,local,all,00:00,24:00,0.00,0.0100,60,60,2026-01-01,",
        "acme,,1800,US toll-free,tollfree,all,00:00,24:00,0.00,0.0300,60,60,2026-01-01,",
        "acme,,44,UK,international,all,00:00,24:00,0.00,0.1000,60,60,2026-01-01,",
    ],
    "brit.csv": [
        "brit,,44,UK,national,all,00:00,24:00,0.00,0.0150,60,60,2026-01-01,",
        "brit,,4420,London,local,all,00:00,24:00,0.00,0.0050,60,60,2026-01-01,",
    ],
    "pstn.csv": [
        "pstn,,1,US,national,all,00:00,24:00,0.00,0.0500,60,60,2026-01-01,",
        "pstn,1212,1212,NYC local,local,all,00:00,24:00,0.00,0.0200,60,60,2026-01-01,",
        "pstn,,1800,US toll-free,tollfree,all,00:00,24:00,0.00,0.0000,60,60,2026-01-01,",
        "pstn,,44,UK,international,all,00:00,24:00,0.00,0.5000,60,60,2026-01-01,",
        "pstn,4420,4420,London local,local,all,00:00,24:00,0.00,0.0100,60,60,2026-01-01,",
    ],
}
DIRECTORY = """extension,site,user,department,cost_center,valid_from,valid_to
1001,NYC,Ann,Sales,CC-1,2026-01-01,2026-10-13
1001,NYC,Ann,Finance,CC-2,2026-10-14,
"""

AT = datetime(2026, 10, 14, 15, 0, tzinfo=timezone.utc)  # a Wednesday, 11:00 in New York


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> RatingStage:
    root: Path = tmp_path_factory.mktemp("ent")
    for name, rows in TARIFFS.items():
        (root / name).write_text(HEADER + "\n".join(rows) + "\n")
    (root / "directory.csv").write_text(DIRECTORY)
    (root / "callcost.toml").write_text(CONFIG)
    return RatingStage(load_config(root / "callcost.toml"))


# id, calling, called, trunk, duration, expected call_type, actual, reference
CASES = [
    ("local", "1001", "92125551234", "NYC-PSTN-1", 90, "outbound", "0.02", "0.04"),
    ("teho", "1001", "9011442079460000", "LON-PSTN-TEHO1", 90, "outbound", "0.01", "1.00"),
    ("onnet", "1001", "2001", "ONNET-LON", 90, "onnet", "0.00", "1.00"),
    ("internal", "1001", "1002", None, 90, "internal", "0.00", "0.00"),
    ("inbound", "+13125551234", "2125551001", "NYC-PSTN-1", 90, "inbound", "0.00", "0.00"),
    ("emergency", "1001", "911", "NYC-PSTN-1", 90, "emergency", "0.00", "0.00"),
    ("tollfree-out", "1001", "918005551234", "NYC-PSTN-1", 90, "outbound", "0.00", "0.00"),
    ("tollfree-in", "+13125551234", "18005550100", "NYC-PSTN-1", 90, "tollfree_inbound", "0.06", "0.06"),
    ("unanswered", "1001", "92125551234", "NYC-PSTN-1", 0, "outbound", "0.00", "0.00"),
]
UNRATED = [
    ("unknown-trunk", "1001", "92125551234", "MYSTERY-1", 90, "unknown trunk 'MYSTERY-1'"),
    ("no-prefix", "1001", "9011999123456789", "NYC-PSTN-1", 90, "no prefix"),
]


def parsed(rows) -> pa.Table:
    n = len(rows)
    answered = [AT if r[4] > 0 else None for r in rows]
    return pa.Table.from_pydict({
        "call_id": [f"t:{r[0]}" for r in rows], "pbx": ["nyc"] * n, "source_format": ["test"] * n,
        "start_utc": [AT] * n, "answer_utc": answered, "duration_s": [r[4] for r in rows],
        "calling_number": [r[1] for r in rows], "called_number": [r[2] for r in rows], "trunk": [r[3] for r in rows],
    })


def test_each_call_type_priced_by_hand(stage):
    out = stage.rate_batch(parsed(CASES)).to_pylist()
    for case, row in zip(CASES, out):
        name, *_, call_type, actual, reference = case
        assert row["rating_status"] == "rated", (name, row["unrated_reason"])
        assert row["call_type"] == call_type, name
        assert row["actual_cost"] == Decimal(actual), name
        assert row["reference_cost"] == Decimal(reference), name
        assert row["savings"] == Decimal(reference) - Decimal(actual), name


def test_rated_calls_record_the_tariff_rows(stage):
    rows = {r["call_id"]: r for r in stage.rate_batch(parsed(CASES)).to_pylist()}
    teho = rows["t:teho"]
    assert (teho["carrier"], teho["plan"], teho["prefix"]) == ("brit", "brit", "4420")
    assert teho["trunk_site"] == "LON" and teho["dest_country"] == "GB"
    assert (teho["ref_plan"], teho["ref_prefix"]) == ("pstn", "44")
    assert teho["tariff_version"] == "2026-01-01" and teho["billable_s"] == 120
    assert teho["connected_number_e164"] == "+442079460000"
    assert teho["department"] == "Finance" and teho["cost_center"] == "CC-2"  # the row in force on 2026-10-14


def test_unpriceable_calls_are_unrated_never_zero(stage):
    out = stage.rate_batch(parsed(UNRATED)).to_pylist()
    for case, row in zip(UNRATED, out):
        assert row["rating_status"] == "unrated"
        assert case[5] in row["unrated_reason"]
        assert row["actual_cost"] is None and row["reference_cost"] is None and row["savings"] is None
