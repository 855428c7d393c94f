"""``callcost explain CALL_ID``: a stored call's actual and reference cost, step by step, from the real stores.

Enterprise and tariffs: ``tests/rating_enterprise.py``.  The tail-end hop-off call below leaves through
London at 17:30 local (brit, split): 30 min at the day band 0.006/min = 0.18, 30 min after 18:00 at
0.003/min = 0.09, total 0.27; its reference is New York → UK on the PSTN, 60 min × 0.50 = 30.00.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rating_enterprise import TARIFFS, parsed_calls, write_enterprise, write_tariff
from typer.testing import CliRunner

from callcost.cli import app
from warehouse import lake
from warehouse.config import load_config
from warehouse.database import Database
from analytics.explain_call import UnknownCallError, explain_stored_call
from analytics.rating.stage import RatingStage
from warehouse.store import Store

UTC = timezone.utc
CALLS = [
    ("teho", "nyc", "1001", "9011442079460000", "LON-PSTN-TEHO1", 3600, datetime(2026, 10, 14, 16, 30, tzinfo=UTC)),
    ("nowhere", "nyc", "1001", "9011999123456789", "NYC-PSTN-1", 90),
    ("fallback", "nyc", "1001", "92125551234", "NYC-PSTN-1", 60, datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ("tollfree", "nyc", "+13125551234", "18005550100", "NYC-PSTN-1", 90),
    ("missed", "nyc", "1001", "92125551234", "NYC-PSTN-1", 0),
]


@pytest.fixture(scope="module")
def ent(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    ent = load_config(write_enterprise(root))
    Store(ent).save(RatingStage(ent).rate_batch(parsed_calls(CALLS)))
    return ent


def explain(ent, call_id: str) -> str:
    run = CliRunner().invoke(app, ["explain", call_id, "--config", str(ent.path)])
    assert run.exit_code == 0, run.output
    return run.output


def test_tail_end_hop_off_split_call_step_by_step(ent):
    text = explain(ent, "teho")
    brit, pstn = ent.carriers["brit"].tariff, ent.reference_tariff
    for expected in [
        "call teho (found in the database; lake partition date=2026-10-14)",
        "direction outbound, call type outbound, category international",
        "far end E.164 +442079460000, country GB",
        "originating site NYC (main number +12125550000",
        "trunk LON-PSTN-TEHO1 → carrier brit, meets the PSTN at site LON (tail-end hop-off",
        # actual: London's clock, the row chosen at answer, then the split parts
        "local time at answer: 2026-10-14T17:30:00+01:00 (Europe/London, UTC+01:00, daylight saving time), Wednesday",
        f"row used: {brit}:3: brit,,4420,London,local,mon-fri,08:00,18:00",
        "prefix '4420': the longest prefix",
        "days 'mon-fri' include Wednesday; hours [08:00, 18:00) contain 17:30:00",
        "billable: 60 + ceil((3600 − 60) / 60) × 60 = 60 + 59 × 60 = 3600 s",
        "seconds 0-1800 at 'mon-fri 08:00-18:00' (line 3): 0.006000/min × 1800 s / 60 = 0.180000",
        "seconds 1800-3600 at 'mon-fri 18:00-24:00' (line 5): 0.003000/min × 1800 s / 60 = 0.090000",
        "rounded half-up to 2 decimals once per call: 0.27",
        # reference: New York's clock, the origin-specific London row does not apply from New York
        "local time at answer: 2026-10-14T12:30:00-04:00 (America/New_York, UTC-04:00, daylight saving time)",
        f"row used: {pstn}:5: pstn,,44,UK,international",
        "longer 4420 skipped",
        "tariff version 2026-01-01 (valid from 2026-01-01 open-ended), band 'all 00:00-24:00'",
        "actual 0.27, reference 30.00, savings = reference − actual = 29.73 USD",
        "band mon-fri 08:00-18:00+mon-fri 18:00-24:00",
        "matches today's rating",
    ]:
        assert expected in text, expected


def test_unrated_call_gives_the_reason_and_what_to_fix(ent):
    text = explain(ent, "nowhere")
    assert "unrated: no prefix; cost left empty (not 0)" in text
    assert f"no row of {ent.carriers['acme'].tariff} has a prefix of 999123456789" in text
    assert "unrated: no prefix; reference: no prefix — costs left empty (not 0)" in text
    assert "rating_status unrated" in text


def test_fall_back_night_shows_standard_time(ent):
    text = explain(ent, "fallback")  # 06:30Z on 2026-11-01 is the second 01:30 in New York
    assert "2026-11-01T01:30:00-05:00 (America/New_York, UTC-05:00, standard time), Sunday" in text


def test_toll_free_inbound_and_unanswered(ent):
    text = explain(ent, "tollfree")
    assert "call type tollfree_inbound" in text and "the DID's carrier (inbound toll-free: we pay) acme" in text
    assert "reference = actual (no cheaper PSTN alternative, no saving)" in text
    assert "actual 0.06, reference 0.06" in text
    text = explain(ent, "missed")
    assert "unanswered: costs 0 (SPEC §5), no connect fee" in text and "actual 0.00, reference 0.00" in text


def test_unknown_call_id_says_how_to_find_ids(ent):
    run = CliRunner().invoke(app, ["explain", "no-such-call", "--config", str(ent.path)])
    assert run.exit_code == 1
    assert "no stored call has id 'no-such-call'" in run.output and "callcost export" in run.output
    with pytest.raises(UnknownCallError):
        explain_stored_call(ent, "no-such-call")


def test_lake_only_call_and_a_changed_tariff(tmp_path):
    ent = load_config(write_enterprise(tmp_path))
    lake.write_calls(ent.storage.lake, RatingStage(ent).rate_batch(parsed_calls(CALLS[:1])))  # not in the DB
    write_tariff(tmp_path / "brit.csv", [r.replace("0.0060", "0.0080") for r in TARIFFS["brit.csv"]])
    result = explain_stored_call(ent, "teho")
    assert result.found_in == "lake" and not result.matches_stored
    text = result.text()
    assert "actual 0.33, reference 30.00" in text  # 0.24 + 0.09 with the new day rate
    assert "DIFFERS from today's rating in actual_cost (0.27 → 0.33)" in text
    assert "callcost rerate --from 2026-10-14 --to 2026-10-14" in text


def test_a_call_stored_in_postgresql_or_sqlite(tmp_path, db_url):
    ent = load_config(write_enterprise(tmp_path, database=db_url))
    Store(ent).save(RatingStage(ent).rate_batch(parsed_calls(CALLS[:1])))
    with Database(db_url, ent.scale) as db:
        result = explain_stored_call(ent, "teho", database=db)
    assert result.found_in == "database" and result.matches_stored
    assert "actual 0.27, reference 30.00, savings = reference − actual = 29.73 USD" in result.text()
