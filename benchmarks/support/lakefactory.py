"""Small Parquet lakes with figures known in advance, written the way the storage layer lays them out.

``<root>/calls/date=YYYY-MM-DD/part-N.parquet`` with rows of ``calls_schema(scale)``.  Two kinds:

* ``KNOWN_CALLS`` — a dozen hand-written calls whose October 2026 totals are worked out by hand in
  ``KNOWN_OCTOBER`` (so a test can say "savings are 16.12", not "savings equal what we computed");
* ``random_calls(n, seed)`` — a few thousand varied calls across three months, for checks against an
  independent pandas computation.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.schema import calls_schema, conform

UTC = timezone.utc


def call(call_id: str, start: str, site: str, carrier: str | None, department: str | None, extension: str,
         call_type: str, category: str, duration_s: int, actual: str | None, reference: str | None,
         *, currency: str = "USD") -> dict:
    """One rated call (or unrated, when *actual* is None) in canonical columns."""
    start_utc = datetime.fromisoformat(start).replace(tzinfo=UTC)
    rated = actual is not None
    a = Decimal(actual) if rated else None
    r = Decimal(reference) if rated else None
    return {
        "call_id": call_id, "pbx": f"{site.lower()}-pbx", "site": site, "source_format": "test",
        "start_utc": start_utc, "answer_utc": start_utc if duration_s else None,
        "end_utc": start_utc + timedelta(seconds=duration_s), "duration_s": duration_s,
        "calling_number": extension, "called_number": "900000000", "extension": extension,
        "direction": "inbound" if "inbound" in call_type else "outbound", "disposition": "answered" if duration_s else "no_answer",
        "call_type": call_type, "category": category, "department": department,
        "rating_status": "rated" if rated else "unrated", "unrated_reason": None if rated else "actual: no prefix",
        "actual_cost": a, "reference_cost": r, "savings": (r - a) if rated else None,
        "currency": currency, "carrier": carrier,
    }


KNOWN_CALLS: list[dict] = [
    call("s1", "2026-09-30T23:59:00", "NYC", "acme", "Sales", "1001", "outbound", "national", 60, "1.00", "5.00"),
    call("c1", "2026-10-01T00:00:00", "NYC", "acme", "Sales", "1001", "outbound", "national", 120, "0.40", "1.20"),
    call("c2", "2026-10-15T14:00:00", "NYC", None, "Sales", "1002", "onnet", "internal", 300, "0.00", "2.50"),
    call("c3", "2026-10-31T23:30:00", "NYC", "globex", "Support", "1003", "outbound", "mobile", 65, "0.13", "0.33"),
    call("c4", "2026-10-20T09:00:00", "NYC", "acme", "Support", "1003", "outbound", "international", 90, None, None),
    call("c5", "2026-10-05T10:00:00", "NYC", "acme", "Sales", "1001", "outbound", "local", 0, "0.00", "0.00"),
    call("c6", "2026-10-02T08:00:00", "LON", "globex", "Finance", "2001", "outbound", "international", 600, "1.05", "6.00"),
    call("c7", "2026-10-02T08:30:00", "LON", None, "Finance", "2002", "internal", "internal", 45, "0.00", "0.00"),
    call("c8", "2026-10-10T12:00:00", "LON", "globex", None, "2003", "tollfree_inbound", "tollfree", 180, "0.90", "0.90"),
    call("c9", "2026-10-03T03:00:00", "SHA", "acme", "Sales", "3001", "outbound", "international", 1200, "12.34", "20.01"),
    call("c10", "2026-10-03T04:00:00", "SHA", None, None, "3002", "outbound", "premium", 30, None, None),
    call("n1", "2026-11-01T00:00:00", "LON", "globex", "Finance", "2001", "outbound", "national", 60, "1.00", "5.00"),
]

#: October 2026 of KNOWN_CALLS, worked out by hand (c1..c10; s1 and n1 are just outside the month).
KNOWN_OCTOBER = {
    "calls": 10, "answered_calls": 9, "minutes": Decimal("43.83"),  # 2630 s
    "actual_cost": Decimal("14.82"), "reference_cost": Decimal("30.94"), "savings": Decimal("16.12"),
    "unrated_calls": 2, "unrated_minutes": Decimal("2.00"),
    "by_site": {
        "NYC": {"calls": 5, "actual_cost": Decimal("0.53"), "reference_cost": Decimal("4.03"),
                "savings": Decimal("3.50"), "unrated_calls": 1},
        "LON": {"calls": 3, "actual_cost": Decimal("1.95"), "reference_cost": Decimal("6.90"),
                "savings": Decimal("4.95"), "unrated_calls": 0},
        "SHA": {"calls": 2, "actual_cost": Decimal("12.34"), "reference_cost": Decimal("20.01"),
                "savings": Decimal("7.67"), "unrated_calls": 1},
    },
}

SITES = ("NYC", "LON", "SHA")
CARRIERS = ("acme", "globex", None)
DEPARTMENTS = ("Sales", "Support", "Finance", None)
CALL_TYPES = (("outbound", "national"), ("outbound", "international"), ("outbound", "mobile"),
              ("onnet", "internal"), ("internal", "internal"), ("inbound", "local"))


def random_calls(n: int = 2_000, seed: int = 11, months: tuple[str, ...] = ("2026-09", "2026-10", "2026-11"),
                 scale: int = 2) -> list[dict]:
    """*n* varied calls spread over *months*: ~5% unrated, ~10% unanswered, costs at *scale* decimals."""
    rng = random.Random(seed)
    quantum = Decimal(1).scaleb(-scale)
    rows = []
    for i in range(n):
        month = rng.choice(months)
        start = f"{month}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"
        ctype, category = rng.choice(CALL_TYPES)
        duration = 0 if rng.random() < 0.1 else rng.randint(1, 3600)
        site = rng.choice(SITES)
        unrated = rng.random() < 0.05
        if unrated:
            actual = reference = None
        else:
            ref = (Decimal(rng.randint(0, 5000)) / 100 if duration else Decimal(0)).quantize(quantum)
            act = (ref * Decimal(rng.randint(0, 100)) / 100).quantize(quantum)
            actual, reference = str(act), str(ref)
        rows.append(call(f"r{i}", start, site, rng.choice(CARRIERS), rng.choice(DEPARTMENTS),
                         f"{SITES.index(site) + 1}{rng.randint(0, 20):03d}", ctype, category, duration,
                         actual, reference))
    return rows


def write_lake(root: Path, rows: list[dict], *, scale: int = 2, files_per_partition: int = 2) -> pa.Table:
    """Write *rows* as a hive-partitioned lake under *root* (by UTC date of ``start_utc``); return the table."""
    schema = calls_schema(scale)
    table = conform(pa.Table.from_pylist(rows), schema)
    by_day: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_day.setdefault(row["start_utc"].astimezone(UTC).date().isoformat(), []).append(i)
    for day, idx in by_day.items():
        folder = root / "calls" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        chunk = max(1, -(-len(idx) // files_per_partition))
        for part, lo in enumerate(range(0, len(idx), chunk)):
            pq.write_table(table.take(idx[lo:lo + chunk]), folder / f"part-{part}.parquet")
    return table
