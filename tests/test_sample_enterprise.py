"""The sample enterprise (examples/sample-enterprise): a config a user can copy, and data that exercises
every rating rule — three countries and clocks, two carriers, a tail-end hop-off route, time bands,
holidays, increments, connect fees, toll-free, dated tariff and directory versions.
"""

from __future__ import annotations

import csv
import tomllib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from collector.simulate.traffic import simulate
from warehouse.config import load_config
from analytics.rating.directory import load_directory

ROOT = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise"
CONFIG = ROOT / "callcost.toml"
HEADER = ["plan", "origin", "prefix", "destination", "category", "days", "time_from", "time_to", "connect_fee",
          "rate", "first_increment", "increment", "valid_from", "valid_to"]


@pytest.fixture(scope="module")
def ent():
    return load_config(CONFIG)


def tariff_paths(ent) -> dict[str, Path]:
    return {**{c.id: c.tariff for c in ent.carriers.values()}, "pstn": ent.reference_tariff}


def rows(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# ---- config ---------------------------------------------------------------------------------------------

def test_config_loads_with_the_contract_keys(ent):
    raw = tomllib.loads(CONFIG.read_text())
    assert raw["storage"] == {"lake": "lake", "database": "sqlite:///callcost.db", "offline": "spool", "raw_dump": "raw"}
    assert ent.currency == "USD" and ent.scale == 2
    assert ent.storage.lake == ROOT / "lake"
    assert ent.reference_tariff == ROOT / "tariffs" / "pstn-reference.csv"
    assert ent.onnet_rate == Decimal("0.00")
    assert ent.directory_file == ROOT / "directory.csv"


def test_three_sites_in_three_countries_and_time_zones(ent):
    sites = ent.sites
    assert set(sites) == {"NYC", "LON", "SHA"}
    assert {s.country for s in sites.values()} == {"US", "GB", "CN"}
    assert {s.timezone for s in sites.values()} == {"America/New_York", "Europe/London", "Asia/Shanghai"}
    nyc = sites["NYC"]
    assert nyc.holidays == "US-NY" and nyc.main_number == "+12125550000" and nyc.access_code == "9"
    assert any(r.contains("+18005550150") for r in nyc.dids) and any(r.contains("+12125551234") for r in nyc.dids)
    assert nyc.local_prefixes == ("+1212", "+1646", "+1917", "+1718", "+1347")
    for s in sites.values():
        assert any(r.contains(s.main_number) for r in s.dids)
        assert s.local_prefixes and all(s.main_number.startswith(p) for p in s.local_prefixes[:1])
    ranges = {s.id: (s.extensions[0].first, s.extensions[0].last) for s in sites.values()}
    assert ranges == {"NYC": ("1000", "1999"), "LON": ("2000", "2999"), "SHA": ("3000", "3999")}


def test_pbxs_use_existing_connectors_and_relative_drop_folders(ent):
    assert {p.id: p.type for p in ent.pbxs.values()} == {"nyc-cucm": "cucm", "lon-csv": "canonical-csv",
                                                         "sha-csv": "canonical-csv"}
    for pbx in ent.pbxs.values():
        assert pbx.source_kind == "folder"
        assert not Path(pbx.source_target).is_absolute()
        assert pbx.source_target == f"incoming/{pbx.id}"


def test_trunks_pstn_per_site_onnet_and_tail_end_hop_off(ent):
    for pbx in ent.pbxs.values():
        kinds = [(t.kind, t.site) for t in ent.trunks_of(pbx.id)]
        assert ("pstn", pbx.site) in kinds and any(k == "onnet" for k, _ in kinds), pbx.id
    teho = [t for t in ent.trunks if t.pbx == "nyc-cucm" and t.site == "LON"]
    assert len(teho) == 1
    london = next(t for t in ent.trunks if t.pbx == "lon-csv" and t.kind == "pstn")
    assert teho[0].match == "LON-PSTN-TEHO*" and teho[0].kind == "pstn" and teho[0].carrier == london.carrier
    assert teho[0].matches("LON-PSTN-TEHO1") and not any(
        t.matches("LON-PSTN-TEHO1") for t in ent.trunks_of("nyc-cucm") if t is not teho[0])
    assert set(ent.carriers) == {"acme", "britvoice"}


# ---- tariffs --------------------------------------------------------------------------------------------

def test_every_tariff_loads(ent):
    from analytics.rating.tariffs import load_tariff

    for name, path in tariff_paths(ent).items():
        tariff = load_tariff(path, scale=ent.scale)
        assert len(tariff) == len(rows(path)), name
        assert set(tariff.plan) == {name}


def test_tariff_files_have_the_spec_header_realistic_size_and_one_plan(ent):
    for name, path in tariff_paths(ent).items():
        with path.open() as fh:
            assert next(csv.reader(fh)) == HEADER
        df = rows(path)
        assert 50 <= len(df) <= 600, (name, len(df))
        assert set(df["plan"]) == {name}
        assert df["category"].isin(["local", "national", "mobile", "international", "tollfree"]).all()
        assert df["prefix"].str.fullmatch(r"[1-9]\d*").all()
        for col in ("connect_fee", "rate"):
            assert df[col].map(Decimal).ge(0).all()
        assert df["valid_from"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
        assert df["valid_to"].str.fullmatch(r"(\d{4}-\d\d-\d\d)?").all()
        assert not df.duplicated(["origin", "prefix", "days", "time_from", "valid_from"]).any(), name
        assert df["destination"].str.len().gt(0).all()
        assert df.loc[df["category"] == "international", "prefix"].str.slice(0, 3).nunique() >= 30


def test_domestic_rows_have_peak_off_peak_weekend_and_holiday_bands(ent):
    for name, path in tariff_paths(ent).items():
        df = rows(path)
        domestic = df[df["category"].isin(["local", "national"])]
        for (origin, prefix), g in domestic.groupby(["origin", "prefix"]):
            bands = set(zip(g["days"], g["time_from"], g["time_to"]))
            assert {("mon-fri", "08:00", "18:00"), ("mon-fri", "00:00", "08:00"), ("mon-fri", "18:00", "24:00"),
                    ("sat-sun", "00:00", "24:00"), ("holiday", "00:00", "24:00")} <= bands, (name, origin, prefix)
            peak = Decimal(g.loc[g["time_from"] == "08:00", "rate"].iloc[0])
            weekend = Decimal(g.loc[g["days"] == "sat-sun", "rate"].iloc[0])
            assert peak > weekend


def test_increments_connect_fees_and_versions_vary(ent):
    df = pd.concat([rows(p) for p in tariff_paths(ent).values()])
    increments = set(zip(df["first_increment"], df["increment"]))
    assert {("60", "60"), ("30", "6"), ("1", "1")} <= increments
    assert (df["connect_fee"].map(Decimal) > 0).sum() >= 10
    acme = rows(ent.carriers["acme"].tariff)
    india = acme[acme["prefix"] == "91"]
    assert set(zip(india["valid_from"], india["valid_to"])) == {("2026-01-01", "2026-10-15"), ("2026-10-16", "")}


def test_tollfree_rows(ent):
    acme = rows(ent.carriers["acme"].tariff)
    tf = acme[acme["category"] == "tollfree"]
    assert "1800" in set(tf["prefix"]) and (tf["rate"].map(Decimal) > 0).all()  # our inbound 1-800 lines cost us
    ref = rows(ent.reference_tariff)
    for origin, prefix in (("1212", "1800"), ("4420", "44800"), ("8621", "86800")):
        row = ref[(ref["origin"] == origin) & (ref["prefix"] == prefix)]
        assert list(row["category"]) == ["tollfree"], (origin, prefix)


def test_reference_is_priced_per_origin_site_and_dearer_than_the_carriers(ent):
    ref = rows(ent.reference_tariff)
    origins = {s.id: next(o for o in set(ref["origin"]) if s.main_number[1:].startswith(o)) for s in ent.sites.values()}
    assert origins == {"NYC": "1212", "LON": "4420", "SHA": "8621"}
    # distance-dependent: from New York, 212 is local and 312 long distance
    nyc = ref[ref["origin"] == "1212"]
    assert set(nyc.loc[nyc["prefix"] == "1212", "category"]) == {"local"}
    assert set(nyc.loc[nyc["prefix"] == "1", "category"]) == {"national"}
    ref_peak = ref.drop_duplicates(["origin", "prefix"]).set_index(["origin", "prefix"])["rate"].map(Decimal)
    site_of_carrier_origin = {"acme": {"": "1212", "1212": "1212"}, "britvoice": {"44": "4420", "86": "8621"}}
    compared = 0
    for carrier, origin_map in site_of_carrier_origin.items():
        df = rows(ent.carriers[carrier].tariff)
        intl = df[df["category"] == "international"].drop_duplicates(["origin", "prefix"])
        for origin, prefix, rate in intl[["origin", "prefix", "rate"]].itertuples(index=False):
            key = (origin_map[origin], prefix)
            if key in ref_peak.index:
                assert Decimal(rate) < ref_peak[key], (carrier, origin, prefix)
                compared += 1
    assert compared > 100


# ---- directory ------------------------------------------------------------------------------------------

def test_directory_has_500_extensions_real_departments_and_cost_centres(ent):
    d = load_directory(ent.directory_file)
    assert d[["site", "extension"]].drop_duplicates().shape[0] >= 500
    assert {"Sales", "Finance", "Support call centre", "Engineering", "HR"} <= set(d["department"])
    assert d["cost_center"].str.fullmatch(r"CC-\d{4}").all()
    for sid, site in ent.sites.items():
        exts = d.loc[d["site"] == sid, "extension"]
        assert len(exts) >= 100
        assert exts.map(lambda e: any(r.contains(e) for r in site.extensions)).all(), sid
    # one cost centre per department and site
    assert (d.groupby(["site", "department"])["cost_center"].nunique() == 1).all()


def test_directory_moves_in_mid_october_have_a_successor_row(ent):
    d = load_directory(ent.directory_file)
    ended = d[(d["valid_to"] >= pd.Timestamp("2026-10-10")) & (d["valid_to"] <= pd.Timestamp("2026-10-20"))]
    assert len(ended) >= 4
    moved_department = 0
    for row in ended.itertuples(index=False):
        nxt = d[(d["site"] == row.site) & (d["extension"] == row.extension) & (d["valid_from"] > row.valid_to)]
        assert len(nxt) == 1, row.extension
        gap = (nxt["valid_from"].iloc[0] - row.valid_to).days
        assert 1 <= gap <= 3
        moved_department += nxt["department"].iloc[0] != row.department
    assert moved_department >= 4
    # no extension has two rows in force on the same day
    for (_site, _ext), g in d.groupby(["site", "extension"]):
        g = g.sort_values("valid_from")
        assert (g["valid_from"].iloc[1:].to_numpy() > g["valid_to"].iloc[:-1].to_numpy()).all()


# ---- the sample rates completely ------------------------------------------------------------------------

def test_generated_month_rates_without_unrated_calls_and_saves_money(ent):
    """Every destination the generator produces is covered by the carrier of its trunk and the reference."""
    from analytics.rating.stage import RatingStage

    traffic = simulate(ent, calls=20_000, seed=5, with_truth=True)
    rated = RatingStage(ent).rate_batch(traffic.calls).to_pandas()
    rated["scenario"] = traffic.truth.column("scenario").to_pandas()
    unrated = rated[rated["rating_status"] != "rated"]
    assert unrated.empty, unrated[["scenario", "called_number", "trunk", "unrated_reason"]].head(10).to_string()
    assert rated["savings"].map(Decimal).sum() > 0
    teho = rated[(rated["scenario"] == "teho") & (rated["duration_s"] > 0)]
    assert len(teho) > 0
    assert (teho["actual_cost"] < teho["reference_cost"]).all()
    assert set(teho["carrier"]) == {"britvoice"} and set(teho["trunk_site"]) == {"LON"}
    expected = {"internal": "internal", "onnet": "onnet", "local": "outbound", "national": "outbound",
                "mobile": "outbound", "international": "outbound", "tollfree": "outbound", "teho": "outbound",
                "emergency": "emergency", "inbound": "inbound", "inbound_tollfree": "tollfree_inbound"}
    assert (rated["call_type"] == rated["scenario"].map(expected)).all()
    answered_tf = rated[(rated["scenario"] == "inbound_tollfree") & (rated["duration_s"] > 0)]
    assert (answered_tf["actual_cost"] > 0).all()
    # the October directory moves are visible in attribution
    moved = rated[(rated["extension"] == "1105") & (rated["site"] == "NYC")]
    if len(moved):
        before = moved["start_utc"] < pd.Timestamp("2026-10-15", tz="UTC")
        assert set(moved.loc[before, "department"]) <= {"Sales"}
        assert set(moved.loc[~before, "department"]) <= {"Marketing"}


def test_tariff_validity_covers_the_demo_month(ent):
    for path in tariff_paths(ent).values():
        df = rows(path)
        for day in (date(2026, 10, 1) + timedelta(days=i) for i in range(31)):
            iso = day.isoformat()
            live = df[(df["valid_from"] <= iso) & ((df["valid_to"] == "") | (df["valid_to"] >= iso))]
            assert live["prefix"].nunique() == df["prefix"].nunique(), (path.name, iso)


def best_row(tariff: pd.DataFrame, origin: str, dest: str) -> pd.Series | None:
    """SPEC §4 row choice, without the engine: longest prefix, then a matching origin over an empty one."""
    hit = tariff[[dest.startswith(p) and (o == "" or origin.startswith(o))
                  for p, o in zip(tariff["prefix"], tariff["origin"])]]
    if hit.empty:
        return None
    hit = hit.assign(_len=hit["prefix"].str.len(), _origin=hit["origin"] != "")
    return hit.sort_values(["_len", "_origin"], ascending=False).iloc[0]


def test_every_generated_destination_has_a_carrier_and_a_reference_row(ent):
    """Coverage of the data itself, independent of the rating engine: every far end the generator
    produces is priced by the carrier of its trunk (from the trunk's site) and by the reference tariff
    (from the calling site), with the category the call type implies."""
    traffic = simulate(ent, calls=30_000, seed=9, with_truth=True)
    df = traffic.calls.to_pandas()
    df["scenario"] = traffic.truth.column("scenario").to_pandas()
    df["far"] = traffic.truth.column("far_e164").to_pandas()
    tariffs = {c: rows(p) for c, p in tariff_paths(ent).items()}
    main = {s.id: s.main_number[1:] for s in ent.sites.values()}
    outbound = df[df["scenario"].isin(["local", "national", "mobile", "international", "tollfree", "teho"])]
    longest = max(t["prefix"].str.len().max() for t in tariffs.values())  # digits beyond it cannot change the row
    keys = outbound.assign(key=outbound["far"].str.slice(1, 1 + longest)).drop_duplicates(["pbx", "trunk", "key"])
    expected_ref = {"local": {"local"}, "national": {"national"}, "mobile": {"mobile", "national"},
                    "international": {"international"}, "tollfree": {"tollfree"}, "teho": {"international"}}
    for row in keys.itertuples(index=False):
        trunk = next(t for t in ent.trunks_of(row.pbx) if t.matches(row.trunk))
        dest = row.far[1:]
        actual = best_row(tariffs[trunk.carrier], main[trunk.site], dest)
        assert actual is not None, (row.scenario, row.far, trunk.carrier)
        ref = best_row(tariffs["pstn"], main[row.site], dest)
        assert ref is not None, (row.scenario, row.far, "reference")
        assert ref["category"] in expected_ref[row.scenario], (row.scenario, row.far, ref["category"])
        if row.scenario == "teho":
            assert actual["category"] in {"local", "national", "mobile"}, row.far
    # on-net: the reference is a PSTN call to the destination site's main number
    for a in ent.sites:
        for b in ent.sites:
            if a != b:
                assert best_row(tariffs["pstn"], main[a], main[b])["category"] == "international"
    # inbound toll-free: the carrier of the DID prices the call
    for did in df.loc[df["scenario"] == "inbound_tollfree", "called_number"].unique()[:20]:
        row = best_row(tariffs["acme"], main["NYC"], "1" + did)
        assert row is not None and row["category"] == "tollfree"
