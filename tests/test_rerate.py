"""``callcost rerate``: a tariff fixed after import prices the unrated calls, in the database and the lake alike.

Figures worked by hand from ``tests/rating_enterprise.py``'s tariffs (all calls 90 s, billable 120 s):
  local  NYC→+1212…  acme 1212  0.01/min → 0.02; reference pstn 1212 (origin 1212) 0.02/min → 0.04
  teho   NYC→UK via London, brit 4420 weekday 16:00 London 0.006/min → 0.012 → 0.01; reference pstn 44 → 1.00
  uk, uk2  NYC→UK over acme: no prefix 44 until the fix; then fee 0.10 + 0.10 × 2 = 0.30; reference 1.00
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from rating_enterprise import TARIFFS, parsed_calls, write_enterprise, write_tariff
from typer.testing import CliRunner

from callcost.cli import app
from warehouse import lake
from warehouse.config import load_config
from warehouse.database import Database
from analytics.rating.stage import RatingStage
from analytics.rerate import RerateError, rerate
from warehouse.store import Store

DAY2 = datetime(2026, 10, 15, 15, 0, tzinfo=timezone.utc)
CALLS = [
    ("local", "nyc", "1001", "92125551234", "NYC-PSTN-1", 90),
    ("teho", "nyc", "1001", "9011442079460000", "LON-PSTN-TEHO1", 90),
    ("uk", "nyc", "1001", "9011442079460000", "NYC-PSTN-1", 90),
    ("uk2", "nyc", "1002", "9011441614960000", "NYC-PSTN-2", 90, DAY2),
]
ACME_WITHOUT_44 = [r for r in TARIFFS["acme.csv"] if ",44," not in r]


def imported(root: Path, db_url: str):
    """The enterprise with the calls imported while acme's tariff lacked prefix 44."""
    config = write_enterprise(root, database=db_url, tariffs={**TARIFFS, "acme.csv": ACME_WITHOUT_44})
    ent = load_config(config)
    Store(ent).save(RatingStage(ent).rate_batch(parsed_calls(CALLS)))
    return ent


def lake_state(ent) -> dict:
    table = lake.read_calls(ent.storage.lake, scale=ent.scale)
    return {r["call_id"]: r for r in table.to_pylist()}


def lake_totals(ent) -> tuple:
    glob = lake.calls_glob(ent.storage.lake)
    return duckdb.execute(f"SELECT sum(actual_cost), sum(reference_cost), sum(savings), "
                      f"count(*) FILTER (WHERE rating_status = 'unrated') FROM {glob}").fetchone()


def test_fixed_tariff_prices_unrated_calls_in_db_and_lake_idempotently(tmp_path, db_url):
    ent = imported(tmp_path, db_url)
    before = lake_state(ent)
    assert {k: v["rating_status"] for k, v in before.items()} == {
        "local": "rated", "teho": "rated", "uk": "unrated", "uk2": "unrated"}
    assert "no prefix" in before["uk"]["unrated_reason"] and before["uk"]["actual_cost"] is None

    write_tariff(tmp_path / "acme.csv", TARIFFS["acme.csv"])  # the fix: prefix 44 added
    with Database(db_url, ent.scale) as db:
        result = rerate(ent, date(2026, 10, 14), date(2026, 10, 15), database=db)
        assert (result.days, result.calls, result.changed, result.newly_priced, result.newly_unrated) == (2, 4, 2, 2, 0)
        assert (result.before.unrated, result.after.unrated) == (2, 0)
        assert result.before.money(2) == {"actual_cost": Decimal("0.03"), "reference_cost": Decimal("1.04"),
                                          "savings": Decimal("1.01")}
        assert result.after.money(2) == {"actual_cost": Decimal("0.63"), "reference_cost": Decimal("3.04"),
                                         "savings": Decimal("2.41")}
        assert result.tariff_versions[("acme", "2026-01-01")] == 3
        assert result.tariff_versions[("reference", "2026-01-01")] == 4

        after = lake_state(ent)
        uk = after["uk"]
        assert (uk["rating_status"], uk["unrated_reason"]) == ("rated", None)
        assert (uk["actual_cost"], uk["reference_cost"], uk["savings"]) == (Decimal("0.30"), Decimal("1.00"),
                                                                            Decimal("0.70"))
        assert (uk["carrier"], uk["prefix"], uk["tariff_version"], uk["ref_tariff_version"]) == (
            "acme", "44", "2026-01-01", "2026-01-01")
        assert after["local"]["rated_at"] == before["local"]["rated_at"]  # unchanged calls are not rewritten

        # the database and the lake agree to the cent, and hold each call once
        totals = db.money_totals()
        assert tuple(totals.values()) == (Decimal("0.63"), Decimal("3.04"), Decimal("2.41"))
        assert lake_totals(ent) == (Decimal("0.63"), Decimal("3.04"), Decimal("2.41"), 0)
        stored = db.read_calls()
        assert sorted(stored["call_id"]) == sorted(after) and (stored["rating_status"] == "rated").all()
        assert stored.set_index("call_id").loc["uk", "actual_cost"] == Decimal("0.30")

        # a second run changes nothing: no call written, no lake file touched
        files = sorted((p.name, p.stat().st_mtime_ns) for p in Path(ent.storage.lake).rglob("*.parquet"))
        again = rerate(ent, date(2026, 10, 14), date(2026, 10, 15), database=db)
        assert (again.calls, again.changed, again.written, again.newly_priced) == (4, 0, 0, 0)
        assert again.after.money(2) == result.after.money(2)
        assert sorted((p.name, p.stat().st_mtime_ns) for p in Path(ent.storage.lake).rglob("*.parquet")) == files
        assert lake_state(ent) == after
        assert db.money_totals() == totals


def test_only_the_asked_dates_are_rerated(tmp_path):
    ent = imported(tmp_path, f"sqlite:///{tmp_path}/callcost.db")
    write_tariff(tmp_path / "acme.csv", TARIFFS["acme.csv"])
    result = rerate(ent, date(2026, 10, 15), date(2026, 10, 31))
    assert (result.days, result.calls, result.newly_priced) == (1, 1, 1)
    state = lake_state(ent)
    assert (state["uk"]["rating_status"], state["uk2"]["rating_status"]) == ("unrated", "rated")


def test_a_call_missing_from_the_lake_is_written_to_both(tmp_path, db_url):
    url = db_url
    ent = load_config(write_enterprise(tmp_path, database=url))
    rated = RatingStage(ent).rate_batch(parsed_calls(CALLS[:2]))
    with Database(url, ent.scale) as db:
        db.create_schema()
        db.insert_calls(rated)  # a crash after the database write, before the lake's
        lake.write_calls(ent.storage.lake, rated.slice(0, 1))
        result = rerate(ent, date(2026, 10, 14), date(2026, 10, 14), database=db)
        assert (result.calls, result.changed, result.repaired, result.written) == (2, 0, 1, 1)
        assert sorted(lake_state(ent)) == ["local", "teho"]
        assert db.money_totals()["actual_cost"] == lake_totals(ent)[0] == Decimal("0.03")


def test_the_cli_prints_progress_and_a_summary(tmp_path):
    ent = imported(tmp_path, f"sqlite:///{tmp_path}/callcost.db")
    write_tariff(tmp_path / "acme.csv", TARIFFS["acme.csv"])
    runner = CliRunner()
    args = ["rerate", "--from", "2026-10-01", "--to", "2026-10-31", "--config", str(ent.path)]
    run = runner.invoke(app, args)
    assert run.exit_code == 0, run.output
    assert "4 calls in 2 day(s) re-rated, 2 changed" in run.output
    assert "previously unrated now priced: 2" in run.output
    assert "actual cost: 0.03 USD → 0.63 USD (+0.60)" in run.output
    again = runner.invoke(app, args)
    assert "0 changed, 0 written" in again.output
    bad = runner.invoke(app, ["rerate", "--from", "2026-10-31", "--to", "2026-10-01", "--config", str(ent.path)])
    assert bad.exit_code == 1 and "--from 2026-10-31 is after --to 2026-10-01" in bad.output
    bad = runner.invoke(app, ["rerate", "--from", "yesterday", "--to", "2026-10-01", "--config", str(ent.path)])
    assert bad.exit_code == 1 and "not a date" in bad.output


def test_reversed_range_is_refused(tmp_path):
    ent = load_config(write_enterprise(tmp_path))
    with pytest.raises(RerateError):
        rerate(ent, date(2026, 10, 2), date(2026, 10, 2) - timedelta(days=1))
