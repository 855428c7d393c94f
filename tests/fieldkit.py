"""An enterprise that imports the field files of ``tests/data`` (issue 15): one PBX per format, real trunks.

``rating_enterprise``'s two sites (New York 1000-1999, London 2000-2999, access code 9) with a PBX for
each file set: CUCM at New York, Asterisk (trunks and inbound contexts named, and bare), FreeSWITCH and
IP Office at London, each with the ``[[trunk]]`` its files use.
"""

from __future__ import annotations

from pathlib import Path

from rating_enterprise import write_enterprise
from warehouse.config import Enterprise, load_config

DATA = Path(__file__).parent / "data"

PBXS = """
[[pbx]]
id = "nyc-cucm"
type = "cucm"
site = "NYC"

[[pbx]]
id = "lon-ast"
type = "asterisk"
site = "LON"
usegmtime = true
trunk_channels = ["SIP/carrier"]
inbound_contexts = ["from-pstn"]

[[pbx]]
id = "lon-ast-bare"
type = "asterisk"
site = "LON"
usegmtime = true

[[pbx]]
id = "lon-fs"
type = "freeswitch"
site = "LON"

[[pbx]]
id = "lon-ipo"
type = "smdr"
site = "LON"
layout = "ipo"

[[trunk]]
pbx = "nyc-cucm"
match = "NYC-PSTN-GW"
carrier = "acme"

[[trunk]]
pbx = "lon-ast"
match = "SIP/carrier"
carrier = "brit"

[[trunk]]
pbx = "lon-ipo"
match = "T9*"
carrier = "brit"
"""


def field_enterprise(root: Path, *, site_extra: dict[str, str] | None = None) -> Enterprise:
    """The enterprise, written under *root*; *site_extra* adds TOML lines to a site's table (by site id)."""
    path = write_enterprise(root)
    text = path.read_text()
    for site, lines in (site_extra or {}).items():
        anchor = f'id = "{site}"\n'
        text = text.replace(anchor, anchor + lines.strip() + "\n", 1)
    path.write_text(text + PBXS)
    return load_config(path)
