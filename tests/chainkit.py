"""A one-site enterprise with a CUCM cluster, an Asterisk box and an IP Office, for the call-chain tests.

Numbers are worked out by hand in ``test_chains.py``: acme charges a 0.05 connect fee and 0.01/min
(60/60) for NYC local numbers (+1212 666…, outside the site's own DIDs), 0.02/min nationally; the
reference PSTN 0.02/min local, 0.05/min national, no connect fee.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

DATA = Path(__file__).parent / "data" / "chains"

CONFIG = """
[enterprise]
name = "Chains"
currency = "USD"

[storage]
lake = "lake"
database = "sqlite:///callcost.db"

[[site]]
id = "NYC"
timezone = "America/New_York"
country = "US"
holidays = "US-NY"
main_number = "+12125550000"
dids = ["+12125550000-+12125559999"]
extensions = ["1000-1999", "7000-7099"]
access_code = "9"

[[pbx]]
id = "cucm"
type = "cucm"
site = "NYC"

[[pbx]]
id = "ast"
type = "asterisk"
site = "NYC"
loguniqueid = true
loguserfield = true
newcdrcolumns = true
trunk_channels = ["SIP/NYC-PSTN*"]

[[pbx]]
id = "ipo"
type = "smdr"
site = "NYC"
layout = "ipo"

[[trunk]]
pbx = "cucm"
match = "NYC-PSTN-*"
carrier = "acme"

[[trunk]]
pbx = "ast"
match = "SIP/NYC-PSTN*"
carrier = "acme"

[[trunk]]
pbx = "ipo"
match = "T9*"
carrier = "acme"

[[carrier]]
id = "acme"
tariff = "acme.csv"

[reference]
tariff = "pstn.csv"
{extra}
"""
HEADER = ("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,rate,first_increment,"
          "increment,valid_from,valid_to")
TARIFFS = {
    "acme.csv": [
        "acme,,1,US,national,all,00:00,24:00,0.05,0.0200,60,60,2026-01-01,",
        "acme,,1212,NYC local,local,all,00:00,24:00,0.05,0.0100,60,60,2026-01-01,",
    ],
    "pstn.csv": [
        "pstn,,1,US,national,all,00:00,24:00,0.00,0.0500,60,60,2026-01-01,",
        "pstn,,1212,NYC local,local,all,00:00,24:00,0.00,0.0200,60,60,2026-01-01,",
    ],
}
CUCM_FILES = sorted(DATA.glob("cdr_NYC-CL_*"))


def write_enterprise(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in TARIFFS.items():
        (root / name).write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    (root / "callcost.toml").write_text(CONFIG.format(extra=extra))
    return root / "callcost.toml"


def parse(ent, pbx_id: str, files: list[Path]) -> pa.Table:
    """The files through the PBX's real connector, file by file, as one table."""
    from collector.connectors.base import connector_for
    from collector.importer import pbx_context

    connector = connector_for(ent.pbxs[pbx_id].type, pbx_context(ent, pbx_id))
    tables = []
    for path in files:
        result = connector.parse(path.read_bytes(), str(path))
        assert not result.quarantined, result.quarantined
        tables.append(result.calls)
    return pa.concat_tables(tables)
