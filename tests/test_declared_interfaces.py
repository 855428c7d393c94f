"""Declared interfaces (issue 14): what a connector or a writer may be asked is on its base class.

A capability found by ``getattr`` or an assignment that needs ``# type: ignore`` hides an interface;
these checks keep them declared.
"""

from __future__ import annotations

import re
from pathlib import Path

from collector.batch_writer import BatchWriter
from collector.connectors.base import BatchParse, Connector, PbxContext, registered_connectors
from collector.failover import FailoverWriter
from collector.remote.writer import OutboxWriter
from test_connector_conformance import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("analytics", "callcost", "collector", "dashboards", "reports", "warehouse")


def test_every_connector_parses_many_files_through_the_declared_method():
    for name, cls in registered_connectors().items():
        assert issubclass(cls, Connector), name
        batch = cls(PbxContext("p", "NYC", "UTC", dict(FIXTURES[name].options))).parse_many([])
        assert isinstance(batch, BatchParse) and batch.files == [] and batch.calls.num_rows == 0, name


def test_the_pipeline_writers_share_the_declared_base():
    assert issubclass(FailoverWriter, BatchWriter) and issubclass(OutboxWriter, BatchWriter)
    # what only a database writer does has a default on the base, not a probe in the pipeline
    assert OutboxWriter.preload is BatchWriter.preload and OutboxWriter.online is BatchWriter.online


def test_no_type_ignore_and_no_capability_probes_in_the_product():
    found = []
    for pkg in PRODUCT:
        for path in (ROOT / pkg).rglob("*.py"):
            for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0] if "type: ignore" not in line else line
                if re.search(r"#\s*type:\s*ignore", line) or re.search(r"getattr\([^)]*\"(parse_many|preload|stage)\"", code):
                    found.append(f"{path.relative_to(ROOT)}:{k}: {line.strip()}")
    assert not found, "\n".join(found)


def test_stage_names_the_rating_step_only():
    """Issue 14, names: the SQLite bulk-load scratch is a *preload*; ``stage`` is a step of the pipeline."""
    import warehouse.database as database
    from warehouse.store import Store

    assert hasattr(database.Database, "preload_calls") and hasattr(Store, "preload")
    assert not any(hasattr(database.Database, n) for n in ("stage_calls", "_stage", "_staged"))
    assert not hasattr(database, "StagedCalls") and not hasattr(Store, "stage")


def test_one_delivery_error():
    found = [p for pkg in PRODUCT for p in (ROOT / pkg).rglob("*.py")
             if re.search(r"^class DeliveryError\b", p.read_text(encoding="utf-8"), re.M)]
    assert len(found) == 1, found
