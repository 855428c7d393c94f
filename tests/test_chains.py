"""Call chains (issue 17): the legs of one conversation get one ``chain_id`` and a ``leg_role``, and a
carrier call is priced once — one connect fee, the increments applied once — and shared among its legs.

The records are hand-built from the vendors' documentation (``tests/data/chains``, see its README row):
CUCM scenarios after Cisco's CDR examples (``shared/reference/cucm-cdr.md`` §7), an Asterisk blind
transfer (legs of one ``linkedid``), IP Office continuation records (one Call ID).  Every figure is worked
out by hand from ``chainkit``'s tariffs: acme 0.05 connect + 0.01/min local (60/60), reference 0.02/min.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.rating.chains import marked
from analytics.rating.stage import RatingStage
from chainkit import CUCM_FILES, DATA, parse, write_enterprise
from warehouse.config import load_config
from warehouse.errors import ConfigError

D = Decimal
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "cucm"


@pytest.fixture(scope="module")
def ent(tmp_path_factory):
    return load_config(write_enterprise(tmp_path_factory.mktemp("chains")))


@pytest.fixture(scope="module")
def stage(ent):
    return RatingStage(ent)


@pytest.fixture(scope="module")
def cucm(ent, stage):
    return _by_pkid(stage.rate_batch(parse(ent, "cucm", CUCM_FILES)))


def _by_pkid(rated: pa.Table) -> dict[int, dict]:
    """Rated CUCM legs by the number at the end of their pkid (the order ``make_cucm.py`` wrote them)."""
    return {int(r["call_id"].rsplit("-", 1)[1]): r for r in rated.to_pylist()}


def _chain(legs: dict[int, dict], *pkids: int) -> list[dict]:
    return [legs[k] for k in pkids]


def _total(legs: list[dict], column: str) -> Decimal:
    return sum((leg[column] for leg in legs), D(0))


def test_blind_transfer_of_a_pstn_call_is_one_carrier_call(cucm, ent, stage):
    """1001 calls a NYC number (120 s) and blind-transfers it to 1002 (360 s): one carrier call of
    10:00:05 → 10:08:10 = 485 s → 9 billed minutes: 0.05 + 0.09 = 0.14 (not 0.07 + 0.07, two connect fees)."""
    legs = _chain(cucm, 1, 2, 3)
    assert len({leg["chain_id"] for leg in legs}) == 1  # across two files and two GlobalCallIDs
    assert [leg["leg_role"] for leg in legs] == ["original", "consultation", "transferred"]
    original, consultation, final = legs
    assert original["carrier_call_id"] == final["carrier_call_id"] == original["call_id"]
    assert consultation["carrier_call_id"] is None and consultation["actual_cost"] == 0
    # shares by seconds held, 120 : 360, the cent remainder to the last holder
    assert (original["actual_cost"], final["actual_cost"]) == (D("0.03"), D("0.11"))
    assert (original["reference_cost"], final["reference_cost"]) == (D("0.04"), D("0.14"))
    assert (original["billable_s"], final["billable_s"]) == (135, 405)
    assert _total(legs, "actual_cost") == D("0.14") and sum(leg["billable_s"] or 0 for leg in legs) == 540
    assert final["extension"] == "1002" and final["call_type"] == "outbound"  # 1002's share, of an outbound call
    assert _total(legs, "savings") == _total(legs, "reference_cost") - _total(legs, "actual_cost")


def test_the_oracle_the_tariff_applied_once_not_the_sum_of_leg_prices(ent, stage):
    """The sum of the transferred call's legs equals the tariff applied once to the whole carrier call,
    and differs from the sum of the per-leg prices (what was billed before chains)."""
    parsed = parse(ent, "cucm", CUCM_FILES)
    chained = _by_pkid(stage.rate_batch(parsed))
    alone = _by_pkid(stage.rate_legs(parsed))
    one_call = parsed.filter(pc.equal(parsed["call_id"], chained[1]["call_id"]))  # the original, stretched
    whole = stage.rate_legs(one_call.set_column(one_call.schema.get_field_index("duration_s"), "duration_s",
                                                pa.array([485], pa.int32()))).to_pylist()[0]
    for pkids in ((1, 2, 3), (4, 5, 6)):
        legs = _chain(chained, *pkids)
        assert _total(legs, "actual_cost") != _total(_chain(alone, *pkids), "actual_cost")
    assert _total(_chain(chained, 1, 2, 3), "actual_cost") == whole["actual_cost"] == D("0.14")


def test_consultative_transfer_to_the_pstn_has_one_connect_fee(cucm):
    """1001 ↔ 1003, 1001 consults a NYC number (30 s) and transfers 1003 to it (200 s): the consultation
    and the final segment share the trunk-side leg 204 — 10:10:40 → 10:14:30 = 230 s → 4 min: 0.09."""
    legs = _chain(cucm, 4, 5, 6)
    assert len({leg["chain_id"] for leg in legs}) == 1
    assert [leg["leg_role"] for leg in legs] == ["original", "consultation", "transferred"]
    assert legs[0]["actual_cost"] == 0  # the internal call 1001 ↔ 1003
    assert (legs[1]["extension"], legs[1]["actual_cost"]) == ("1001", D("0.01"))  # 30/230 of 0.09, rounded down
    assert (legs[2]["extension"], legs[2]["actual_cost"]) == ("1003", D("0.08"))  # the rest: the last holder
    assert legs[1]["carrier_call_id"] == legs[2]["carrier_call_id"]


def test_ad_hoc_conference_legs_go_to_the_controller(cucm):
    """Cisco's ad hoc conference (§7.4) with a PSTN party: six CDRs, one chain; the PSTN party's setup call
    and its bridge segment are one carrier call (11:00:52 → 11:05:02 = 250 s → 5 min: 0.10), billed to the
    controller 1001."""
    legs = _chain(cucm, 7, 8, 9, 10, 11, 12)
    assert len({leg["chain_id"] for leg in legs}) == 1
    assert [leg["leg_role"] for leg in legs] == ["original", "consultation"] + ["conference"] * 4
    assert {leg["extension"] for leg in legs[2:5]} == {"1001"}  # bridge segments: the controller's
    pstn = [legs[1], legs[4]]
    assert pstn[0]["carrier_call_id"] == pstn[1]["carrier_call_id"] is not None
    assert _total(pstn, "actual_cost") == D("0.10") == _total(legs, "actual_cost")


def test_forward_off_net_is_billed_to_the_forwarding_extension(cucm):
    """A PSTN caller rings 1005, forwarded (CFA) to a mobile: one CDR, billed to 1005, 3 min national."""
    [leg] = _chain(cucm, 13)
    assert (leg["leg_role"], leg["extension"], leg["call_type"]) == ("forwarded", "1005", "outbound")
    assert leg["actual_cost"] == D("0.11")


def test_park_and_pickup_stay_one_inbound_call(cucm, ent, stage):
    """1006 parks an inbound call, 1007 picks it up: the retrieval CDR reads like 1007 dialling the caller
    (an outbound call, 0.07 on its own), but it holds the same trunk-side leg: one inbound carrier call, 0."""
    park, pickup = _chain(cucm, 14, 15)
    assert (park["leg_role"], pickup["leg_role"]) == ("park", "pickup")
    assert park["chain_id"] == pickup["chain_id"] and park["carrier_call_id"] == pickup["carrier_call_id"]
    assert (pickup["call_type"], pickup["actual_cost"]) == ("inbound", D("0.00"))
    alone = _by_pkid(stage.rate_legs(parse(ent, "cucm", CUCM_FILES)))
    assert alone[15]["actual_cost"] == D("0.07")  # what it cost before chains


def test_asterisk_blind_transfer(ent, stage):
    """Legs of one linkedid: the PSTN leg transferred on to 1102 is the same carrier call
    (09:00:05 → 09:05:10 local = 305 s → 6 min: 0.11, shared 100 : 200 s)."""
    rated = stage.rate_batch(parse(ent, "ast", [DATA / "asterisk_blind_transfer.csv"])).to_pylist()
    first, second, other = rated
    assert first["chain_id"] == second["chain_id"] != other["chain_id"]
    assert (first["leg_role"], second["leg_role"], other["leg_role"]) == ("original", "transferred", "original")
    assert (first["actual_cost"], second["actual_cost"]) == (D("0.03"), D("0.08"))
    assert (second["extension"], second["call_type"]) == ("1102", "outbound")


def test_ip_office_continuation_records(ent, stage):
    """Two records of Call ID 1000201 (the first with Continuation = 1): one carrier call of 333 s → 0.11,
    shared 133 : 200 s; the other call stays a call of its own."""
    rated = stage.rate_batch(parse(ent, "ipo", [DATA / "ipo_continuation.csv"])).to_pylist()
    first, second, other = rated
    assert first["chain_id"] == second["chain_id"] == "1000201" != other["chain_id"]
    assert (first["leg_role"], second["leg_role"]) == ("original", "transferred")
    assert (first["actual_cost"], second["actual_cost"], other["actual_cost"]) == (D("0.04"), D("0.07"), D("0.06"))
    assert other["carrier_call_id"] is None


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_arrival_order_never_changes_chains_or_totals(ent, stage, data):
    """Shuffling the legs (and the files they came in) gives the same chains, roles and shares."""
    parsed = parse(ent, "cucm", CUCM_FILES)
    expected = _summary(stage.rate_batch(parsed))
    order = data.draw(st.permutations(range(parsed.num_rows)))
    assert _summary(stage.rate_batch(parsed.take(pa.array(order)))) == expected
    assert _summary(stage.rate_batch(parsed.take(pa.array(order)), marks_features=True)) == expected


def test_linking_only_the_marked_legs_changes_nothing_on_cucm_files(ent, stage):
    """CUCM marks every leg of a multi-leg scenario, so the stage links only those (``marks_features``):
    on every CUCM file here and every shipped field sample the chains, roles and shares are the same as
    when every leg's keys are linked.  The files hold plain calls (left out of the graph) and chains."""
    files = CUCM_FILES + sorted((DATA / "barge").glob("cdr_*")) + sorted(SAMPLES.glob("cdr_*"))
    parsed = parse(ent, "cucm", files)
    everything, marked_only = stage.rate_batch(parsed), stage.rate_batch(parsed, marks_features=True)
    assert _summary(marked_only) == _summary(everything)
    assert (~marked(parsed)).sum() > 10
    assert len({r["chain_id"] for r in everything.to_pylist() if r["carrier_call_id"]}) >= 3


def _summary(rated: pa.Table) -> dict[str, tuple]:
    return {r["call_id"]: (r["chain_id"], r["leg_role"], r["carrier_call_id"], r["actual_cost"], r["reference_cost"],
                           r["billable_s"]) for r in rated.to_pylist()}


def test_import_stores_the_shares_in_lake_and_database(tmp_path):
    """Through ``callcost import``'s path: the SQL totals count each carrier call once."""
    from collector.importer import import_files
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path))
    store = Store(ent)
    report = import_files(ent, "cucm", CUCM_FILES, store=store)
    assert report.stored == 15
    totals = store.db.money_totals()
    # 0.14 (blind transfer) + 0.09 (consultative) + 0.10 (conference) + 0.11 (forward) + 0 (park)
    assert totals["actual_cost"] == D("0.44")
    calls = store.db.read_calls()
    assert calls["leg_role"].value_counts().to_dict()["conference"] == 4
    assert calls.groupby("chain_id").size().max() == 6


def test_chains_can_be_turned_off(tmp_path):
    ent = load_config(write_enterprise(tmp_path, "\n[chains]\nenabled = false\n"))
    stage = RatingStage(ent)
    legs = _by_pkid(stage.rate_batch(parse(ent, "cucm", CUCM_FILES)))
    assert legs[15]["actual_cost"] == D("0.07") and legs[15]["leg_role"] is None


def test_a_wrong_chains_key_names_the_file_and_line(tmp_path):
    ent = load_config(write_enterprise(tmp_path, "\n[chains]\ncontinuity = 30\n"))
    with pytest.raises(ConfigError) as err:
        RatingStage(ent)
    assert "continuity" in str(err.value) and "callcost.toml" in str(err.value)
    assert err.value.line is not None


def test_rerate_of_stored_chains_changes_nothing(tmp_path):
    """Re-rating the stored legs (whose chain_id is now the conversation's) finds the same chains, roles and
    shares: the vendor key is kept in ``call_group``, so the consultation call stays a consultation."""
    from datetime import date

    from analytics.rerate import rerate
    from collector.importer import import_files
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path))
    store = Store(ent)
    import_files(ent, "cucm", CUCM_FILES, store=store)
    before = store.db.read_calls().set_index("call_id")
    result = rerate(ent, date(2026, 10, 14), date(2026, 10, 14), database=store.db)
    assert (result.calls, result.changed) == (15, 0)
    after = store.db.read_calls().set_index("call_id").loc[before.index]
    for column in ("chain_id", "leg_role", "carrier_call_id", "actual_cost", "billable_s"):
        assert after[column].equals(before[column]), column


def test_a_late_leg_joins_its_chain_and_reprices_the_stored_legs(tmp_path):
    """The blind transfer's original comes in one import, its consultation and final segment hours later in
    another: the stored original is re-priced in place (database and lake) to its share of one carrier
    call; importing everything again changes nothing."""
    from collector.importer import import_files
    from warehouse import lake
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path))
    store = Store(ent)
    first, rest = CUCM_FILES[0], CUCM_FILES[1:]
    import_files(ent, "cucm", [first], store=store)
    alone = store.db.read_calls().set_index("call_id")
    [original_id] = alone.index
    assert alone.loc[original_id, "actual_cost"] == D("0.07")  # priced alone: 120 s with its own connect fee
    import_files(ent, "cucm", rest, store=store)
    calls = store.db.read_calls().set_index("call_id")
    assert calls.loc[original_id, "actual_cost"] == D("0.03")  # now its share of the 0.14 carrier call
    assert calls.loc[original_id, "leg_role"] == "original"
    assert store.db.money_totals()["actual_cost"] == D("0.44")  # the same as one import of everything
    in_lake = lake.read_calls(ent.storage.lake, scale=ent.scale).to_pandas().set_index("call_id")
    assert in_lake.loc[original_id, "actual_cost"] == D("0.03")
    assert in_lake["chain_id"].nunique() == calls["chain_id"].nunique() == 5
    report = import_files(ent, "cucm", CUCM_FILES, store=store)  # again: idempotent
    assert (report.stored, report.duplicates) == (0, 15)
    again = store.db.read_calls().set_index("call_id").loc[calls.index]
    for column in ("chain_id", "leg_role", "actual_cost", "billable_s"):
        assert again[column].equals(calls[column]), column


def test_late_legs_give_the_same_result_whatever_the_order_of_the_imports(tmp_path):
    """Files imported last-first give the same chains and totals as one import in order."""
    from collector.importer import import_files
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path / "a"))
    store = Store(ent)
    for path in reversed(CUCM_FILES):
        import_files(ent, "cucm", [path], store=store)
    reversed_calls = store.db.read_calls().set_index("call_id").sort_index()
    ent_b = load_config(write_enterprise(tmp_path / "b"))
    store_b = Store(ent_b)
    import_files(ent_b, "cucm", CUCM_FILES, store=store_b)
    in_order = store_b.db.read_calls().set_index("call_id").sort_index()
    for column in ("chain_id", "leg_role", "carrier_call_id", "actual_cost", "reference_cost", "billable_s"):
        assert reversed_calls[column].equals(in_order[column]), column


def test_joining_stored_legs_keeps_the_batch_order(tmp_path):
    """The collector counts a batch's rows per source part by position: the joined batch keeps its order."""
    from analytics.rating.chains_store import join_stored
    from collector.importer import import_files
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path))
    store = Store(ent)
    import_files(ent, "cucm", CUCM_FILES[:1], store=store)
    stage = RatingStage(ent)
    batch = stage.rate_batch(parse(ent, "cucm", CUCM_FILES[1:2]))
    joined = join_stored(stage, batch, store)
    assert joined.repriced == 1
    assert joined.calls["call_id"].equals(batch["call_id"])
    assert joined.calls["actual_cost"].to_pylist() != batch["actual_cost"].to_pylist()  # the final's share changed


def test_the_chains_selection_one_row_per_conversation(tmp_path):
    """``select(ent).chains()``: the 15 CUCM legs are 5 conversations, each costing the sum of its shares;
    ``chain_legs`` expands one to its legs."""
    from analytics.selection import select
    from collector.importer import import_files
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path))
    import_files(ent, "cucm", CUCM_FILES, store=Store(ent))
    sel = select(ent, "2026-10")
    rows = {r["chain_id"]: r for r in sel.chains().to_pylist()}
    assert len(rows) == 5 and sum(r["legs"] for r in rows.values()) == 15
    blind = rows["cucm:NYC-CL:1:1"]
    assert (blind["legs"], blind["roles"], blind["carrier_calls"]) == (3, "consultation,original,transferred", 1)
    assert (blind["actual_cost"], blind["reference_cost"], blind["billable_s"]) == (D("0.14"), D("0.18"), 540)
    assert sum(r["actual_cost"] for r in rows.values()) == D("0.44")
    legs = sel.chain_legs("cucm:NYC-CL:1:20").to_pylist()
    assert [leg["leg_role"] for leg in legs] == ["original", "consultation"] + ["conference"] * 4


def test_explain_shows_the_chain_and_the_share(tmp_path):
    """``callcost explain`` of the transferred segment: its chain, its role, the carrier call priced once and
    how its share came out — and the stored figures match (no false "DIFFERS")."""
    from analytics.explain_call import explain_stored_call
    from collector.importer import import_files
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path))
    store = Store(ent)
    import_files(ent, "cucm", CUCM_FILES, store=store)
    final = store.db.read_calls().query("leg_role == 'transferred' and extension == '1002'")["call_id"].iloc[0]
    out = explain_stored_call(ent, final, database=store.db)
    text = out.text()
    assert "call chain cucm:NYC-CL:1:1: 3 leg(s); this leg is the transferred" in text
    assert "priced once from first connect 10:00:05Z for 485 s" in text
    assert "actual 0.14, reference 0.18, billable 540 s" in text
    assert "the last holder takes the cent remainders" in text and "actual 0.11" in text
    assert out.matches_stored, text


@settings(max_examples=6, deadline=None)
@given(st.data())
def test_splitting_legs_across_batches_never_changes_chains_or_totals(tmp_path_factory, data):
    """Legs shuffled and cut into batches that arrive one after another (each joined to what is stored,
    then saved, as the import does) end up with the same chains, roles and shares as one batch."""
    from analytics.rating.chains_store import join_stored
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path_factory.mktemp("split")))
    stage = RatingStage(ent)
    parsed = parse(ent, "cucm", CUCM_FILES)
    expected = _summary(stage.rate_batch(parsed))
    order = data.draw(st.permutations(range(parsed.num_rows)))
    cuts = sorted(data.draw(st.sets(st.integers(1, parsed.num_rows - 1), max_size=4)))
    store = Store(ent)
    for lo, hi in zip([0, *cuts], [*cuts, parsed.num_rows]):
        batch = stage.rate_batch(parsed.take(pa.array(order[lo:hi])))
        store.save(join_stored(stage, batch, store, marks_features=True).calls)
    stored = pa.Table.from_pandas(store.db.read_calls(), preserve_index=False)
    got = {r["call_id"]: (r["chain_id"], r["leg_role"], r["carrier_call_id"], r["actual_cost"], r["reference_cost"],
                          None if r["billable_s"] is None else int(r["billable_s"])) for r in stored.to_pylist()}
    assert got == expected


def test_link_joins_a_freeswitch_a_leg_and_its_b_leg_and_keeps_distinct_keys_apart():
    """``bleg_uuid`` of an A-leg is its B-leg's ``uuid``: one chain.  Keys equal as numbers but not as text
    ("007" and "7") are different keys."""
    from analytics.rating.chains import link

    legs = pa.table({
        "pbx": ["fs"] * 5,
        "call_group": [None, None, None, "7", "007"],
        "leg_id": ["a-uuid", "b-uuid", "c-uuid", None, None],
        "peer_leg_id": ["b-uuid", None, None, None, None],
        "trunk_leg_id": pa.nulls(5, pa.string()),
    })
    labels = link(legs)
    assert labels[0] == labels[1] and len(set(labels[1:])) == 4


def test_barge_leg_joins_the_barged_call(ent, stage):
    """1009 barges into 1008's inbound call (shared line): the barge CDR (join 15, reasons 114) is a
    ``barge`` leg of the barged call's chain, and costs nothing (the call is inbound)."""
    rated = stage.rate_batch(parse(ent, "cucm", sorted((DATA / "barge").glob("cdr_*")))).to_pylist()
    barged, barge = rated
    assert barged["chain_id"] == barge["chain_id"] == "cucm:NYC-CL:1:50"
    assert (barged["leg_role"], barge["leg_role"]) == ("original", "barge")
    assert barged["actual_cost"] == barge["actual_cost"] == 0


def test_check_config_reports_a_wrong_chains_value(tmp_path):
    from callcost.checks import check_enterprise

    errors, _ = check_enterprise(write_enterprise(tmp_path, "\n[chains]\nwindow_hours = -1\n"))
    assert [e.field for e in errors] == ["chains.window_hours"]


def test_an_asterisk_leg_imported_later_joins_its_linkedid_chain(tmp_path):
    """Asterisk groups by ``linkedid`` in ``chain_id`` (no ``call_group``): the transferred leg imported after
    the original — or the original imported after the transferred leg — still finds its chain, and the carrier
    call is priced once (0.03 + 0.08, not 0.07 + 0.08)."""
    from collector.importer import import_files
    from warehouse.store import Store

    lines = (DATA / "asterisk_blind_transfer.csv").read_bytes().splitlines(keepends=True)
    (tmp_path / "a.csv").write_bytes(lines[0])
    (tmp_path / "b.csv").write_bytes(b"".join(lines[1:]))
    for first, then in (("a", "b"), ("b", "a")):  # the original first, or the transferred leg first
        ent = load_config(write_enterprise(tmp_path / first))  # a store of its own
        store = Store(ent)
        import_files(ent, "ast", [tmp_path / f"{first}.csv"], store=store)
        import_files(ent, "ast", [tmp_path / f"{then}.csv"], store=store)
        calls = store.db.read_calls().set_index("call_id").sort_index()
        assert len(calls) == 3, first
        assert list(calls["leg_role"]) == ["original", "transferred", "original"], first
        assert list(calls["actual_cost"]) == [D("0.03"), D("0.08"), D("0.00")], first


def test_a_call_a_hunt_pilot_member_answered_is_redirected_and_a_transfer_to_a_pilot_stays_a_transfer(
        ent, stage, tmp_path):
    """The real field sample's 1050 → hunt pilot 2310 transfer (member 2312 answered: ``huntPilotDN`` 2310,
    join 10) keeps its ``transferred`` role and its consultation call to the pilot stays a consultation; the
    same record with no transfer codes — a caller who dialled the pilot — is ``redirected`` by the hunt list,
    billed to the member who answered."""
    sample = SAMPLES / "cdr_StandAloneCluster_02_202112131408_515359"
    lines = sample.read_text(encoding="utf-8").splitlines()
    names = [n.strip('"') for n in lines[0].split(",")]
    transferred = stage.rate_batch(parse(ent, "cucm", [SAMPLES / "cdr_StandAloneCluster_02_202112131407_515358",
                                                       sample])).to_pylist()
    roles = {r["call_id"].rsplit("-", 1)[1][-6:]: r["leg_role"] for r in transferred}
    assert roles["9bed8d"] == "transferred" and roles["6f4cd7"] == "consultation"
    row = next(line for line in lines[2:] if "9bed8d" in line)
    fields = row.split(",")
    for name in ("joinOnBehalfOf", "lastRedirectRedirectOnBehalfOf", "lastRedirectRedirectReason",
                 "origCallTerminationOnBehalfOf", "destCallTerminationOnBehalfOf"):
        fields[names.index(name)] = "0"
    fields[names.index("lastRedirectDn")] = '"2310"'
    direct = tmp_path / "cdr_StandAloneCluster_02_202112131409_515360"
    direct.write_text("\n".join([lines[0], lines[1], ",".join(fields)]) + "\n", encoding="utf-8")
    [leg] = stage.rate_batch(parse(ent, "cucm", [direct]), marks_features=True).to_pylist()
    assert (leg["leg_role"], leg["original_called_number"], leg["called_number"]) == ("redirected", "2310", "2312")


def test_rerate_of_one_day_reprices_a_chain_that_straddles_midnight_whole(tmp_path):
    """A blind transfer of a PSTN call at 23:59 UTC: the original leg is stored on the 14th, the final segment
    on the 15th.  After a tariff change, re-rating only the 15th prices the carrier call once from both legs
    — the original, outside the range, is rewritten to its new share — exactly as rating both together."""
    from datetime import date

    from analytics.rerate import rerate
    from warehouse.store import Store

    ent = load_config(write_enterprise(tmp_path))
    parsed = parse(ent, "cucm", CUCM_FILES[:2])
    blind = parsed.filter(pc.is_in(parsed["call_group"], pa.array(["cucm:NYC-CL:1:1", "cucm:NYC-CL:1:2"])))
    assert blind.num_rows == 3
    shift = pa.scalar(13 * 3600 + 59 * 60, pa.duration("s"))  # 10:00:00 → 23:59:00
    for name in ("start_utc", "answer_utc", "end_utc"):
        i = blind.schema.get_field_index(name)
        blind = blind.set_column(i, name, pc.add(blind[name], shift))
    store = Store(ent)
    store.save(RatingStage(ent).rate_batch(blind))
    acme = tmp_path / "acme.csv"
    acme.write_text(acme.read_text().replace(",0.05,0.0100,", ",0.25,0.0100,"))  # a dearer connect fee
    ent = load_config(tmp_path / "callcost.toml")
    expected = _summary(RatingStage(ent).rate_batch(blind))
    result = rerate(ent, date(2026, 10, 15), date(2026, 10, 15), database=store.db)
    stored = _summary(pa.Table.from_pandas(store.db.read_calls(), preserve_index=False))
    assert stored == expected
    assert result.outside == 1  # the original leg, on the 14th
    assert sum(v[3] for v in stored.values()) == D("0.34")  # one connect fee 0.25 + 9 started minutes × 0.01
