"""The FreeSWITCH connector on the real mod_cdr_csv files (example template; A-legs only and legs=ab).

The sample's ``cdr_csv.conf.xml`` is read too: the built-in template table must be exactly what
FreeSWITCH ships, so ``template = "snom"`` means the same columns here as on the switch.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from collector.connectors.base import PbxContext, connector_for
from collector.connectors.freeswitch import TEMPLATES, FreeswitchConnector, template_columns, templates_from_conf
from collector.simulate.traffic import generate_traffic
from collector.simulate.record_formats import FS_GATEWAY_TEMPLATE, write_freeswitch
from warehouse.config import load_config
from warehouse.errors import ConfigError
from warehouse.schema import PARSED_SCHEMA

SAMPLE_ENT = Path(__file__).resolve().parents[1] / "examples" / "sample-enterprise" / "callcost.toml"
TZ = "America/Los_Angeles"


@pytest.fixture(scope="module")
def samples(shared_dir) -> Path:
    return shared_dir / "samples"


def _fs(**options) -> FreeswitchConnector:
    return FreeswitchConnector(PbxContext("fs", "SJC", TZ, options=options))


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_shipped_templates_match_the_sample_conf(samples):
    conf = templates_from_conf((samples / "freeswitch-cdr_csv" / "cdr_csv.conf.xml").read_text())
    assert set(conf) == {"example", "snom", "linksys", "asterisk", "opencdrrate"}  # sql is not CSV
    for name, columns in conf.items():
        assert columns == TEMPLATES[name], name
    assert len(TEMPLATES["default"]) == 13 and len(TEMPLATES["example"]) == 15


def test_example_template_sample(samples):
    path = samples / "freeswitch-cdr_csv" / "Master.csv"
    result = _fs().parse(path.read_bytes(), str(path))
    assert (result.records_seen, result.calls.num_rows, result.quarantined) == (82, 82, [])
    calls = result.calls
    assert calls.schema == PARSED_SCHEMA
    first, _, busy = calls.to_pylist()[:3]
    assert first["call_id"] == "fs:4824c308-0099-971d-1890-157b0d8308f3"
    assert (first["start_utc"], first["end_utc"], first["duration_s"]) == (
        _utc(2016, 2, 16, 11, 46, 41), _utc(2016, 2, 16, 11, 48, 58), 137)  # PST = UTC-8
    assert (first["calling_number"], first["called_number"], first["account_code"]) == ("1008", "3500", "1008")
    assert (first["cause_code"], first["disposition"], first["direction"]) == ("102", "answered", None)
    assert (busy["direction"], busy["disposition"], busy["cause_code"], busy["answer_utc"]) == (
        "inbound", "busy", "17", None)  # context "public": from outside
    assert (busy["called_number"], busy["extension"]) == ("14082186575", "14082186575")
    causes = Counter(calls["cause_code"].to_pylist())
    assert causes == {"16": 63, "17": 12, "102": 4, "606": 3}  # NORMAL_CLEARING, USER_BUSY, RECOVERY…, NOT_REGISTERED


def test_ab_legs_sample_does_not_double_bridged_calls(samples):
    path = samples / "freeswitch-cdr_csv-ab-legs" / "Master.csv"
    a_only = _fs().parse(path.read_bytes(), str(path))
    assert a_only.calls.num_rows == 30
    ab = _fs(legs="ab").parse(path.read_bytes(), str(path))
    assert (ab.records_seen, ab.calls.num_rows, ab.quarantined) == (29, 29, [])  # the B-leg is not a record
    ids = ab.calls["call_id"].to_pylist()
    assert "fs:7b8fcd87-18a9-4f4e-85d1-864be552df56" not in ids  # the B-leg of the row before it
    assert "fs:b57c4c15-6b8f-46f9-94a8-e7fe7835f527" in ids
    cancel = ab.calls.to_pylist()[0]
    assert (cancel["disposition"], cancel["cause_code"], cancel["answer_utc"], cancel["ring_s"]) == (
        "no_answer", "487", None, 12)  # ORIGINATOR_CANCEL with an empty answer_stamp
    bridged = ab.calls.to_pylist()[1]
    assert (bridged["duration_s"], bridged["ring_s"], bridged["answer_utc"]) == (13, 11, _utc(2017, 7, 9, 17, 34, 25))


def test_malformed_rows_between_good_ones(samples):
    path = samples / "freeswitch-cdr_csv" / "Master.csv"
    lines = path.read_bytes().split(b"\n")
    damaged = b"\n".join([lines[0], lines[1].replace(b'"184","184"', b'"184","lots"'), b'"only","three","cells"',
                          lines[2].replace(b"2016-02-16 05:02:32", b"16/02/2016 05:02", 1), lines[3]] + lines[4:])
    result = _fs().parse(damaged, str(path))
    assert result.records_seen == 83 and result.calls.num_rows == 80
    assert [(q.line, q.field) for q in result.quarantined] == [(2, "billsec"), (3, None), (4, "start_stamp")]
    assert result.calls["raw_ref"][:2].to_pylist() == [f"{path}:1", f"{path}:5"]


def test_template_given_as_text_and_the_snom_space_before_quotes():
    template = '"${caller_id_number}","${destination_number}","${start_stamp}","${answer_stamp}","${end_stamp}",' \
               '"${billsec}","${hangup_cause}","${uuid}", "${accountcode}","${regex(${x}|^.)}"'
    assert template_columns(template)[-2:] == ("accountcode", "column10")
    line = b'"1001","5551234","2026-10-05 09:00:00","2026-10-05 09:00:05","2026-10-05 09:01:05","60",' \
           b'"NORMAL_CLEARING","u-1", "ACC7","x"\n'
    row = _fs(template=template).parse(line, "m.csv").calls.to_pylist()[0]
    assert (row["account_code"], row["duration_s"], row["ring_s"], row["cause_code"]) == ("ACC7", 60, 5, "16")
    with pytest.raises(ConfigError) as err:
        _fs(template="INSERT INTO cdr VALUES (\"${uuid}\");")
    assert err.value.field == "template"
    with pytest.raises(ConfigError):
        _fs(template=["caller_id_number", "destination_number"])  # no times at all


@pytest.mark.parametrize("times", ["stamp", "epoch"])
def test_round_trip_of_generated_traffic(times, tmp_path):
    traffic = generate_traffic(load_config(SAMPLE_ENT), calls=2_000, seed=9)
    columns = list(FS_GATEWAY_TEMPLATE)
    if times == "epoch":
        columns = [c.replace("_stamp", "_epoch") for c in columns]
    path = write_freeswitch(traffic, tmp_path / "Master.csv", timezone=TZ, columns=columns)
    result = _fs(template=columns).parse(path.read_bytes(), str(path))
    assert result.quarantined == [] and result.calls.num_rows == traffic.num_rows
    start = pc.cast(traffic["start_utc"], pa.int64()).to_numpy()
    end = pc.cast(traffic["end_utc"], pa.int64()).to_numpy()
    src = traffic.take(pa.array(np.lexsort((start, end))))
    for name in ("start_utc", "answer_utc", "end_utc", "duration_s", "ring_s", "calling_number", "called_number",
                 "disposition", "cause_code", "account_code", "trunk"):
        assert result.calls[name].to_pylist() == src[name].to_pylist(), name
    assert result.calls["direction"].to_pylist() == ["outbound" if d == "internal" and t else d for d, t in
                                                     zip(src["direction"].to_pylist(), src["trunk"].to_pylist())]


def test_connector_is_registered_under_its_type():
    assert isinstance(connector_for("freeswitch", PbxContext("f", "X", "UTC")), FreeswitchConnector)


def test_a_b_leg_is_linked_to_its_a_leg_by_the_originator_variables():
    """A template with ``originating_leg_uuid`` (or ``originator``) and ``call_uuid`` links a B-leg to its
    A-leg even when the A-leg's ``bleg_uuid`` is empty; a call of its own stays alone."""
    template = ["uuid", "call_uuid", "originating_leg_uuid", "originator", "bleg_uuid", "caller_id_number",
                "destination_number", "start_stamp", "answer_stamp", "end_stamp", "billsec", "hangup_cause"]
    lines = b"".join(f'"{u}","{c}","{o}","{og}","","1001","5551234","2026-10-05 09:00:00","2026-10-05 09:00:05",'
                     f'"2026-10-05 09:01:05","60","NORMAL_CLEARING"\n'.encode()
                     for u, c, o, og in (("a-1", "a-1", "", ""), ("b-1", "a-1", "a-1", ""), ("b-2", "", "", "a-2"),
                                         ("a-2", "", "", ""), ("solo", "", "", "")))
    calls = _fs(template=template).parse(lines, "Master.csv").calls
    rows = {r["leg_id"]: r for r in calls.to_pylist()}
    assert rows["b-1"]["peer_leg_id"] == "a-1" and rows["b-2"]["peer_leg_id"] == "a-2"
    assert rows["b-1"]["chain_id"] == rows["a-1"]["chain_id"] == "a-1" and rows["solo"]["peer_leg_id"] is None
    from analytics.rating.chains import link

    legs = pa.table({"pbx": calls["pbx"], "call_group": calls["chain_id"], "leg_id": calls["leg_id"],
                     "peer_leg_id": calls["peer_leg_id"], "trunk_leg_id": pa.nulls(calls.num_rows, pa.string())})
    labels = dict(zip(calls["leg_id"].to_pylist(), link(legs)))  # what the chain engine links
    assert labels["a-1"] == labels["b-1"] and labels["a-2"] == labels["b-2"]
    assert len({labels["a-1"], labels["a-2"], labels["solo"]}) == 3
