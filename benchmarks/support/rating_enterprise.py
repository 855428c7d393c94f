"""A two-site enterprise with hand-written tariffs, for the explain, rerate and what-if tests.

Small enough to work every figure out by hand: New York (acme, a US carrier) and London (brit, split
at band changes), a reference PSTN tariff, a tail-end hop-off trunk from New York out through London.
``write_enterprise`` writes the config and tariffs into a folder (lake and SQLite DB beside them);
``parsed_calls`` builds connector output for ``RatingStage.rate_batch``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

CONFIG = """
[enterprise]
name = "Two Sites"
currency = "USD"

[storage]
lake = "lake"
database = "{database}"

[[site]]
id = "NYC"
timezone = "America/New_York"
country = "US"
holidays = "US-NY"
main_number = "+12125550000"
dids = ["+12125550000-+12125559999", "+18005550100-+18005550199"]
extensions = ["1000-1999"]
access_code = "9"

[[site]]
id = "LON"
timezone = "Europe/London"
country = "GB"
holidays = "GB-ENG"
main_number = "+442075550000"
dids = ["+442075550000-+442075559999"]
extensions = ["2000-2999"]
access_code = "9"

[[pbx]]
id = "nyc"
type = "canonical-csv"
site = "NYC"

[[pbx]]
id = "lon"
type = "canonical-csv"
site = "LON"

[[trunk]]
pbx = "nyc"
match = "NYC-PSTN-*"
carrier = "acme"

[[trunk]]
pbx = "nyc"
match = "LON-PSTN-TEHO*"
carrier = "brit"
site = "LON"

[[trunk]]
pbx = "nyc"
match = "ONNET-*"
kind = "onnet"

[[trunk]]
pbx = "lon"
match = "LON-PSTN-*"
carrier = "brit"

[[carrier]]
id = "acme"
tariff = "acme.csv"

[[carrier]]
id = "brit"
tariff = "brit.csv"
split = true

[reference]
tariff = "pstn.csv"
"""
HEADER = ("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,"
          "increment,valid_from,valid_to")
TARIFFS = {
    "acme.csv": [
        "acme,,1,US,national,all,00:00,24:00,0.00,0.0200,60,60,2026-01-01,",
        "acme,,1212,NYC local,local,all,00:00,24:00,0.00,0.0100,60,60,2026-01-01,",
        "acme,,1800,US toll-free,tollfree,all,00:00,24:00,0.00,0.0300,60,60,2026-01-01,",
        "acme,,44,UK,international,all,00:00,24:00,0.10,0.1000,60,60,2026-01-01,",
    ],
    "brit.csv": [
        "brit,,44,UK,national,all,00:00,24:00,0.00,0.0150,60,60,2026-01-01,",
        "brit,,4420,London,local,mon-fri,08:00,18:00,0.00,0.0060,60,60,2026-01-01,",
        "brit,,4420,London,local,mon-fri,00:00,08:00,0.00,0.0030,60,60,2026-01-01,",
        "brit,,4420,London,local,mon-fri,18:00,24:00,0.00,0.0030,60,60,2026-01-01,",
        "brit,,4420,London,local,sat-sun,00:00,24:00,0.00,0.0030,60,60,2026-01-01,",
    ],
    "pstn.csv": [
        "pstn,,1,US,national,all,00:00,24:00,0.00,0.0500,60,60,2026-01-01,",
        "pstn,1212,1212,NYC local,local,all,00:00,24:00,0.00,0.0200,60,60,2026-01-01,",
        "pstn,,1800,US toll-free,tollfree,all,00:00,24:00,0.00,0.0000,60,60,2026-01-01,",
        "pstn,,44,UK,international,all,00:00,24:00,0.00,0.5000,60,60,2026-01-01,",
        "pstn,4420,4420,London local,local,all,00:00,24:00,0.00,0.0100,60,60,2026-01-01,",
    ],
}

AT = datetime(2026, 10, 14, 15, 0, tzinfo=timezone.utc)  # Wednesday: 11:00 in New York, 16:00 in London


def write_enterprise(root: Path, *, database: str | None = None, tariffs: dict[str, list[str]] | None = None) -> Path:
    """Write the config and tariffs into *root*; return the config path."""
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in (tariffs or TARIFFS).items():
        write_tariff(root / name, rows)
    (root / "callcost.toml").write_text(CONFIG.format(database=database or "sqlite:///callcost.db"))
    return root / "callcost.toml"


def write_tariff(path: Path, rows: list[str]) -> None:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")


def parsed_calls(rows: list[tuple], *, at: datetime = AT) -> pa.Table:
    """Connector output: rows of (call_id, pbx, calling, called, trunk, duration_s[, start])."""
    starts = [r[6] if len(r) > 6 else at for r in rows]
    return pa.Table.from_pydict({
        "call_id": [r[0] for r in rows], "pbx": [r[1] for r in rows], "source_format": ["test"] * len(rows),
        "start_utc": starts, "answer_utc": [s if r[5] > 0 else None for r, s in zip(rows, starts)],
        "duration_s": pa.array([r[5] for r in rows], pa.int32()),
        "calling_number": [r[2] for r in rows], "called_number": [r[3] for r in rows],
        "trunk": [r[4] for r in rows],
    })
