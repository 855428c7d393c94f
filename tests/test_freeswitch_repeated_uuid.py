"""A repeated FreeSWITCH uuid (issue 15, defect 6), from ``tests/data/freeswitch/repeated_uuid.csv``.

``mod_cdr_csv`` writes one line per channel when it hangs up — to ``Master.csv`` and the same line to
``<accountcode>.csv`` — and the uuid names the channel.  So an exact repeat of a line is the same call:
it keeps the call's id and is stored once, the repeat counted as already stored, not as a second call
``<uuid>#1`` that doubled attempts and minutes.  A uuid repeated with *different* fields is quarantined.
"""

from __future__ import annotations

from collector.connectors.base import PbxContext
from collector.connectors.freeswitch import FreeswitchConnector
from collector.importer import import_files
from fieldkit import DATA, field_enterprise
from warehouse.store import Store

FILE = DATA / "freeswitch" / "repeated_uuid.csv"
UUID = "3f1c8a5e-9a41-4c1e-9a71-6c2f0a1b000"


def test_an_exact_repeat_keeps_the_calls_id():
    result = FreeswitchConnector(PbxContext("lon-fs", "LON", "Europe/London")).parse(FILE.read_bytes(), str(FILE))
    assert result.records_seen == 5
    assert result.calls["call_id"].to_pylist() == [f"lon-fs:{UUID}{k}" for k in (1, 2, 1, 3)]
    assert result.calls["raw_ref"].to_pylist() == [f"{FILE}:{n}" for n in (1, 2, 3, 4)]


def test_a_uuid_repeated_with_other_fields_is_quarantined_naming_the_first_line():
    result = FreeswitchConnector(PbxContext("lon-fs", "LON", "Europe/London")).parse(FILE.read_bytes(), str(FILE))
    [q] = result.quarantined
    assert (q.line, q.field) == (5, "uuid")
    assert q.reason == (f"uuid '{UUID}2' is already the call of line 2, with other fields "
                        "(mod_cdr_csv writes one line per channel uuid)")
    assert q.raw == FILE.read_bytes().splitlines()[4]


def test_the_repeat_is_stored_once_and_counted_as_already_stored(tmp_path):
    ent = field_enterprise(tmp_path)
    store = Store(ent)
    report = import_files(ent, "lon-fs", [FILE], store=store)
    assert (report.records, report.parsed, report.stored, report.duplicates, report.quarantined) == (5, 4, 3, 1, 1)
    calls = store.db.read_calls()
    assert sorted(calls["call_id"]) == [f"lon-fs:{UUID}{k}" for k in (1, 2, 3)]
    assert int(calls.loc[calls["call_id"] == f"lon-fs:{UUID}1", "duration_s"].iloc[0]) == 120  # once, not 240
