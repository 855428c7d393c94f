"""The traffic generator: deterministic, realistic in the ways rating and reports depend on, and valid.

Runs on the sample enterprise (examples/sample-enterprise), through its real config, directory and
the classifier's own number normalisation.
"""

from __future__ import annotations

import random
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from collector.simulate.demo_files import WRITERS, source_folder, write_demo_files
from collector.simulate.numbering_plans import COUNTRIES, DOMESTIC, EMERGENCY
from collector.simulate.traffic import generate_traffic, simulate
from warehouse.config import load_config
from analytics.rating.numbering import DialPlan, in_ranges, strip_access_code, to_e164
from warehouse.schema import PARSED_SCHEMA

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"
CALLS = 60_000


@pytest.fixture(scope="module")
def ent():
    return load_config(SAMPLE)


@pytest.fixture(scope="module")
def frame(ent) -> pd.DataFrame:
    traffic = simulate(ent, calls=CALLS, seed=11, with_truth=True)
    df = traffic.calls.to_pandas()
    truth = traffic.truth.to_pandas()
    assert (df["call_id"] == truth["call_id"]).all()
    df["scenario"] = truth["scenario"]
    df["far_e164"] = truth["far_e164"]
    for sid, site in ent.sites.items():
        here = df["site"] == sid
        df.loc[here, "local_hour"] = df.loc[here, "start_utc"].dt.tz_convert(site.timezone).dt.hour
        df.loc[here, "local_day"] = df.loc[here, "start_utc"].dt.tz_convert(site.timezone).dt.date
    return df


def strings(s: pd.Series) -> pd.Series:
    return s.astype("string[pyarrow]")


# ---- determinism, shape ---------------------------------------------------------------------------------

def test_same_seed_gives_identical_table_and_another_seed_does_not(ent):
    a = generate_traffic(ent, calls=5_000, seed=3)
    b = generate_traffic(ent, calls=5_000, seed=3)
    c = generate_traffic(ent, calls=5_000, seed=4)
    assert a.equals(b)
    assert not a.equals(c)


@pytest.mark.parametrize("n", [0, 1, 1_000])
def test_size_schema_and_unique_ids(ent, n):
    t = generate_traffic(ent, calls=n, seed=5)
    assert t.schema == PARSED_SCHEMA
    assert t.num_rows == n
    ids = t.column("call_id").to_pylist()
    assert len(set(ids)) == n and all(i.startswith("gen:5:") for i in ids)
    assert set(t.column("source_format").to_pylist()) <= {"generated"}


def test_calls_are_sorted_and_inside_the_month(frame):
    start = frame["start_utc"]
    assert start.is_monotonic_increasing
    assert start.min() >= pd.Timestamp("2026-10-01", tz="UTC")
    assert start.max() < pd.Timestamp("2026-11-01", tz="UTC")
    assert frame["chain_id"].isna().all() and frame["raw_ref"].isna().all()


def test_every_pbx_and_scenario_is_present(ent, frame):
    assert set(frame["pbx"]) == set(ent.pbxs)
    assert set(frame["scenario"]) == {"internal", "onnet", "local", "national", "mobile", "international",
                                      "tollfree", "emergency", "teho", "inbound", "inbound_tollfree"}
    for pbx_id, pbx in ent.pbxs.items():
        assert (frame.loc[frame["pbx"] == pbx_id, "site"] == pbx.site).all()


# ---- time and answer model ------------------------------------------------------------------------------

def test_unanswered_share_and_timestamps_are_consistent(frame):
    unanswered = frame["duration_s"] == 0
    assert 0.24 <= unanswered.mean() <= 0.31
    assert set(frame.loc[unanswered, "disposition"]) == {"no_answer", "busy"}
    assert frame.loc[unanswered, "answer_utc"].isna().all()
    answered = frame[~unanswered]
    assert (answered["disposition"] == "answered").all()
    ring = pd.to_timedelta(answered["ring_s"], unit="s")
    talk = pd.to_timedelta(answered["duration_s"], unit="s")
    assert (answered["answer_utc"] == answered["start_utc"] + ring).all()
    assert (answered["end_utc"] == answered["answer_utc"] + talk).all()
    assert (frame.loc[unanswered, "end_utc"] == frame.loc[unanswered, "start_utc"]
            + pd.to_timedelta(frame.loc[unanswered, "ring_s"], unit="s")).all()
    assert (frame.loc[frame["scenario"] == "emergency", "duration_s"] > 0).all()


def test_talk_times_are_log_normal_with_a_long_tail(frame):
    talk = frame.loc[frame["duration_s"] > 0, "duration_s"]
    assert 90 <= talk.median() <= 200
    assert talk.quantile(0.99) > 15 * 60
    assert talk.mean() > talk.median() * 1.3  # right-skewed
    intl = frame.loc[(frame["scenario"] == "international") & (frame["duration_s"] > 0), "duration_s"]
    internal = frame.loc[(frame["scenario"] == "internal") & (frame["duration_s"] > 0), "duration_s"]
    assert intl.median() > 2 * internal.median()


def test_busy_hours_are_office_hours_in_each_sites_local_time(ent, frame):
    for sid in ent.sites:
        hours = frame.loc[frame["site"] == sid, "local_hour"]
        assert hours.value_counts().idxmax() in (9, 10, 11, 14, 15, 16), sid
        assert hours.between(0, 5).mean() < 0.03, sid
        assert hours.between(8, 17).mean() > 0.75, sid


def test_weekends_and_public_holidays_are_quiet(ent, frame):
    for sid, site in ent.sites.items():
        cal = holidays.country_holidays(site.holiday_country, subdiv=site.holiday_subdiv, years=2026)
        per_day = frame.loc[frame["site"] == sid].groupby("local_day").size()
        days = pd.Series(per_day.index, index=per_day.index)
        weekend = days.map(lambda d: d.weekday() >= 5)
        holiday = days.map(lambda d: d in cal)
        workday = ~weekend & ~holiday
        assert per_day[weekend].mean() < 0.3 * per_day[workday].mean(), sid
        if holiday.any():
            assert per_day[holiday & ~weekend].mean() < 0.3 * per_day[workday].mean(), sid
    # the holidays that matter in October 2026: Columbus Day in New York, National Day week in Shanghai
    nyc = frame.loc[frame["site"] == "NYC"].groupby("local_day").size()
    assert nyc[pd.Timestamp("2026-10-12").date()] < 0.3 * nyc[pd.Timestamp("2026-10-13").date()]
    sha = frame.loc[frame["site"] == "SHA"].groupby("local_day").size()
    assert sha[pd.Timestamp("2026-10-02").date()] < 0.3 * sha[pd.Timestamp("2026-10-09").date()]


# ---- numbers --------------------------------------------------------------------------------------------

def test_every_outbound_number_is_valid_once_the_access_code_is_stripped(ent, frame):
    """phonenumbers parses what the user dialled, read with the site's country rules, to a valid number."""
    for sid, site in ent.sites.items():
        out = frame[(frame["site"] == sid) & (frame["direction"] == "outbound") & (frame["scenario"] != "emergency")]
        assert len(out) > 500
        pairs = out[["called_number", "far_e164"]].drop_duplicates()
        area = DialPlan.for_site(site).area_code
        for dialled, truth in pairs.itertuples(index=False):
            assert dialled.startswith(site.access_code)
            national = dialled[len(site.access_code):]
            if site.country == "CN" and len(national) == 8 and national[0] != "0":
                national = "0" + area + national  # a local subscriber number: the caller's area code is implied
            parsed = phonenumbers.parse(national, site.country)
            assert phonenumbers.is_valid_number(parsed), (sid, dialled)
            assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == truth


def test_the_classifier_reads_dialled_and_presented_numbers_as_generated(ent, frame):
    """analytics.rating.numbering turns every dialled (outbound) and presented (inbound) number into the truth."""
    for sid, site in ent.sites.items():
        plan = DialPlan.for_site(site)
        out = frame[(frame["site"] == sid) & (frame["direction"] == "outbound") & (frame["scenario"] != "emergency")]
        got = to_e164(strings(out["called_number"]), plan, strip_access=True)
        assert (got == strings(out["far_e164"])).all(), sid
        inb = frame[(frame["site"] == sid) & (frame["direction"] == "inbound")]
        got = to_e164(strings(inb["calling_number"]), plan, strip_access=False)
        assert (got == strings(inb["far_e164"])).all(), sid
        did = to_e164(strings(inb["called_number"]), plan, strip_access=False)
        assert in_ranges(did, site.dids).all(), sid


def test_far_ends_are_valid_and_of_the_right_kind(frame):
    kinds = {"local": (0, 2), "national": (0, 2), "mobile": (1,), "tollfree": (3,), "teho": (0, 1)}
    for scenario, allowed in kinds.items():
        nums = frame.loc[frame["scenario"] == scenario, "far_e164"].drop_duplicates()
        for num in random.Random(1).sample(list(nums), min(400, len(nums))):
            parsed = phonenumbers.parse(num, None)
            assert phonenumbers.is_valid_number(parsed), num
            assert phonenumbers.number_type(parsed) in allowed, (scenario, num)
    teho = frame.loc[frame["scenario"] == "teho", "far_e164"]
    assert teho.str.startswith("+44").all()
    intl = frame[frame["scenario"] == "international"]
    assert not intl.loc[intl["site"] == "NYC", "far_e164"].str.startswith("+44").any()  # UK goes via TEHO


def test_emergency_numbers_are_emergency_numbers(ent, frame):
    em = frame[frame["scenario"] == "emergency"]
    assert len(em) > 0
    for sid, dialled in em[["site", "called_number"]].drop_duplicates().itertuples(index=False):
        site = ent.sites[sid]
        bare = dialled[len(site.access_code):] if dialled not in EMERGENCY[site.country] else dialled
        assert phonenumbers.is_emergency_number(bare, site.country), (sid, dialled)


def test_every_number_block_is_valid_for_any_digits():
    rng = random.Random(3)
    blocks = [b for v in DOMESTIC.values() for b in v] + [b for c in COUNTRIES.values() for b in c.blocks()]
    for block in blocks:
        for _ in range(50):
            num = "+" + block.e164 + "".join(rng.choice("0123456789") for _ in range(block.free))
            assert phonenumbers.is_valid_number(phonenumbers.parse(num, None)), (block, num)


# ---- parties and trunks ---------------------------------------------------------------------------------

def test_every_trunk_name_matches_exactly_one_glob_of_its_pbx(ent, frame):
    pairs = frame[["pbx", "trunk"]].dropna().drop_duplicates()
    assert len(pairs) >= 8
    for pbx, name in pairs.itertuples(index=False):
        hits = [t for t in ent.trunks_of(pbx) if t.matches(name)]
        assert len(hits) == 1, (pbx, name, hits)


def test_trunks_fit_the_scenario(ent, frame):
    def trunk_of(pbx, name):
        return next(t for t in ent.trunks_of(pbx) if t.matches(name))

    seen = set()
    for pbx, name, scenario, site in frame[["pbx", "trunk", "scenario", "site"]].drop_duplicates().itertuples(index=False):
        if scenario == "internal":
            assert pd.isna(name)
            continue
        t = trunk_of(pbx, name)
        seen.add((scenario, t.kind, t.site))
        if scenario == "onnet":
            assert t.kind == "onnet"
        elif scenario == "teho":
            assert t.kind == "pstn" and t.site == "LON" and pbx == "nyc-cucm"
            assert t.carrier == next(x for x in ent.trunks_of("lon-csv") if x.kind == "pstn").carrier
        else:
            assert t.kind == "pstn" and t.site == site, (scenario, name)
    assert ("teho", "pstn", "LON") in seen


def test_parties_are_extensions_and_dids_of_the_right_sites(ent, frame):
    for sid, site in ent.sites.items():
        here = frame[frame["site"] == sid]
        assert in_ranges(strings(here["extension"]), site.extensions).all(), sid
        internal = here[here["scenario"] == "internal"]
        assert in_ranges(strings(internal["calling_number"]), site.extensions).all()
        assert in_ranges(strings(internal["called_number"]), site.extensions).all()
        assert (internal["calling_number"] != internal["called_number"]).all()
        onnet = here[here["scenario"] == "onnet"]
        assert not in_ranges(strings(onnet["called_number"]), site.extensions).any()
        others = [r for s in ent.sites.values() if s.id != sid for r in s.extensions]
        assert in_ranges(strings(onnet["called_number"]), others).all()
        outbound = here[here["direction"] == "outbound"]
        assert (outbound["calling_number"] == outbound["extension"]).all()
    tollfree = frame[frame["scenario"] == "inbound_tollfree"]
    assert set(tollfree["site"]) == {"NYC"}
    assert tollfree["called_number"].str.fullmatch(r"80055501\d\d").all()
    forwarded = frame["original_called_number"] != frame["called_number"]
    assert 0 < forwarded.mean() < 0.02
    assert (frame.loc[forwarded, "direction"] == "inbound").all()


def test_extensions_come_from_the_directory(ent, frame):
    directory = pd.read_csv(ent.directory_file, dtype=str)
    known = set(zip(directory["site"], directory["extension"]))
    assert set(zip(frame["site"], frame["extension"])) <= known
    # the call centre takes the toll-free calls
    centre = directory[directory["department"] == "Support call centre"]
    tf = frame[frame["scenario"] == "inbound_tollfree"]
    assert tf["extension"].isin(centre["extension"]).all()


def test_call_mix_is_an_office_with_a_call_centre(frame):
    share = frame["scenario"].value_counts(normalize=True)
    assert 0.20 < share["internal"] < 0.32
    assert 0.25 < share["inbound"] + share["inbound_tollfree"] < 0.40
    assert share["emergency"] < 0.002
    outbound = frame["direction"] == "outbound"
    assert 0.25 < outbound.mean() < 0.45


# ---- demo files -----------------------------------------------------------------------------------------

def test_demo_writers_cover_every_pbx_type_of_the_sample(ent):
    assert {p.type for p in ent.pbxs.values()} <= set(WRITERS)


def test_write_demo_files_puts_each_pbx_in_its_source_folder(ent, tmp_path):
    traffic = generate_traffic(ent, calls=3_000, seed=2)
    written = write_demo_files(ent, traffic, tmp_path)
    assert set(written) == set(ent.pbxs)
    for pbx_id, files in written.items():
        pbx = ent.pbxs[pbx_id]
        folder = source_folder(pbx, tmp_path)
        assert folder == tmp_path / pbx.source_target
        assert files and all(f.is_file() and f.parent == folder for f in files)
    counts = pd.Series(traffic.column("pbx").to_pylist()).value_counts()
    for pbx_id in ("lon-csv", "sha-csv"):
        files = written[pbx_id]
        days = {f.stem.split(f"{pbx_id}-")[1] for f in files}
        assert len(days) == len(files) >= 28  # one file per local day
        total = sum(pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)).num_rows
                    for f in files)
        assert total == counts[pbx_id]
        ids = pa.concat_arrays([pacsv.read_csv(f).column("call_id").combine_chunks() for f in files])
        assert len(set(ids.to_pylist())) == counts[pbx_id]


def test_unknown_pbx_type_is_named_in_the_error(ent, tmp_path):
    from dataclasses import replace

    pbx = replace(ent.pbxs["lon-csv"], type="avaya-smdr-9000")
    odd = replace(ent, pbxs={**ent.pbxs, "lon-csv": pbx})
    traffic = generate_traffic(ent, calls=300, seed=2)
    with pytest.raises(ValueError, match="avaya-smdr-9000"):
        write_demo_files(odd, traffic, tmp_path)


def test_access_code_strip_matches_the_sites(ent, frame):
    """The dial strings carry each site's access code; stripping it leaves national/international digits."""
    for sid, site in ent.sites.items():
        out = frame[(frame["site"] == sid) & frame["scenario"].isin(["local", "national", "international"])]
        stripped = strip_access_code(strings(out["called_number"]), site.access_code)
        assert (stripped.str.len() == out["called_number"].str.len() - len(site.access_code)).all()
        intl = DialPlan.for_site(site).international_prefix
        is_intl = out["scenario"] == "international"
        nanp = out["far_e164"].str.startswith("+1") & (site.country == "US")
        assert stripped[is_intl & ~nanp].str.startswith(intl).all(), sid
        assert not np.any(stripped[~is_intl].str.startswith(intl)), sid


def test_demo_files_parse_back_to_the_generated_calls(ent, tmp_path):
    """Each PBX's own connector reads its demo files back into the calls that were generated."""
    from collector.connectors.base import PbxContext, connector_for

    traffic = generate_traffic(ent, calls=4_000, seed=8)
    written = write_demo_files(ent, traffic, tmp_path)
    key = ["start_utc", "calling_number", "called_number"]
    same = ["start_utc", "duration_s", "calling_number", "called_number", "original_called_number", "trunk",
            "disposition"]
    for pbx_id, files in written.items():
        pbx = ent.pbxs[pbx_id]
        connector = connector_for(pbx.type, PbxContext(pbx_id=pbx.id, site=pbx.site,
                                                       timezone=ent.sites[pbx.site].timezone, options=dict(pbx.options)))
        parsed = [connector.parse(f.read_bytes(), str(f)) for f in files]
        assert not any(r.quarantined for r in parsed), pbx_id
        got = pa.concat_tables([r.calls for r in parsed]).to_pandas()
        expected = traffic.filter(pa.compute.equal(traffic.column("pbx"), pbx_id)).to_pandas()
        assert len(got) == len(expected) > 0
        got = got.sort_values(key).reset_index(drop=True)[same].astype(str)
        expected = expected.sort_values(key).reset_index(drop=True)[same].astype(str)
        pd.testing.assert_frame_equal(got.replace({"None": "", "nan": "", "<NA>": ""}),
                                      expected.replace({"None": "", "nan": "", "<NA>": ""}), obj=pbx_id)
