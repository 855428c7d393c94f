"""Fuzzing every registered connector (issue 16, defect 2): any bytes parse into in-domain calls or quarantine.

Whatever a PBX link or a file delivers — random bytes, a real file with bytes flipped, inserted, cut or
repeated — ``Connector.parse`` either returns calls every one of which is inside the canonical fields'
declared domains (``collector.domains``), with the rest quarantined, or raises a ``CallcostError`` (the
caller then quarantines the whole input with that reason).  It never crashes with anything else.

The budget is fixed so the property runs in the normal suite: the ``connector-fuzz`` Hypothesis profile
(``FUZZ_EXAMPLES`` examples per configuration, 60 by default, no deadline, derandomised so CI is
repeatable).  Raise ``FUZZ_EXAMPLES`` for a longer hunt: ``FUZZ_EXAMPLES=5000 pytest tests/test_connector_fuzz.py``.
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.connectors.base import PbxContext, Quarantined, registered_connectors
from collector.domains import violations
from collector.simulate.record_formats import write_avaya, write_smdr
from test_connector_conformance import FIXTURES, PBX, known_calls
from warehouse.errors import CallcostError
from warehouse.schema import PARSED_SCHEMA

settings.register_profile(
    "connector-fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], database=None)
FUZZ = settings.get_profile("connector-fuzz")


def _smdr(layout: str):
    return "smdr", {"layout": layout}, lambda calls, d: [write_smdr(calls, d / "smdr", layout=layout,
                                                                    timezone=PBX.timezone)]


#: Every registered connector as its conformance fixture configures it, and the other shipped layouts.
CONFIGS = {name: (name, dict(f.options), f.write) for name, f in FIXTURES.items()} | {
    "avaya teleseer": ("avaya", {"layout": "teleseer", "reference_date": "2026-10-15"},
                       lambda calls, d: [write_avaya(calls, d / "t.bin", timezone=PBX.timezone, layout="teleseer")]),
    "smdr hipath": _smdr("hipath"),
    "smdr panasonic": _smdr("panasonic"),
    "smdr nec": _smdr("nec"),
}


def test_every_registered_connector_is_fuzzed():
    assert set(registered_connectors()) <= {kind for kind, _, _ in CONFIGS.values()}


@cache
def _sample(config: str) -> bytes:
    """A real file of the format (the project's writer over the conformance calls), to mutate."""
    _, _, write = CONFIGS[config]
    with tempfile.TemporaryDirectory() as tmp:
        return b"".join(p.read_bytes() for p in write(known_calls(), Path(tmp)))


def _connector(config: str):
    kind, options, _ = CONFIGS[config]
    return registered_connectors()[kind](PbxContext(PBX.pbx_id, PBX.site, PBX.timezone, options=options))


_NASTY = st.sampled_from([b"\xff\xfe", b"\x00", b"\r", b"\n", b",", b'"', b"\x02", b"\x03", b"9" * 5000,
                          b"\xc3", b"\xef\xbb\xbf", b"99999999999", b"-1", b"2147483648", b"\t", b";"])


@st.composite
def mutated(draw, sample: bytes) -> bytes:
    """*sample* with a few edits: bytes inserted or overwritten, a cut, a line repeated."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["insert", "overwrite", "cut", "repeat"]))
        chunk = draw(st.one_of(_NASTY, st.binary(min_size=1, max_size=16)))
        if edit == "insert":
            data[at:at] = chunk
        elif edit == "overwrite":
            data[at:at + len(chunk)] = chunk
        elif edit == "cut":
            del data[at:at + draw(st.integers(1, 200))]
        else:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            data[at:at] = data[start:end + 1 if end >= 0 else len(data)]
    return bytes(data)


def _inputs(config: str):
    return st.one_of(st.binary(max_size=300), mutated(_sample(config)))


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_any_bytes_parse_into_in_domain_calls_or_quarantine(config):
    connector = _connector(config)

    @FUZZ
    @given(data=_inputs(config))
    def prop(data: bytes) -> None:
        try:
            result = connector.parse(data, "fuzz.cdr")
        except CallcostError:
            return  # the whole input is quarantined by the caller, with this reason
        assert result.calls.schema == PARSED_SCHEMA
        assert violations(result.calls) == [], violations(result.calls)[:3]
        assert all(isinstance(q, Quarantined) and q.reason for q in result.quarantined)
        assert result.records_seen >= 0

    prop()
