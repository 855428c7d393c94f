"""Every TOML block of docs/connect-your-enterprise.md, joined in order, is a config check-config accepts.

The guide's examples are meant to be copied: each ``[[pbx]]`` (one per PBX type, with its trunks) must
load its connector and options, and the sites, carriers and directory around them must be valid.  The
tariffs, directory and chargeback files are the sample enterprise's.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

from callcost.checks import check
from callcost.demo import SAMPLE
from collector.connectors.base import registered_connectors

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "connect-your-enterprise.md"
BLOCK = re.compile(r"^```toml\n(.*?)^```", re.S | re.M)


def blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_has_a_complete_pbx_example_for_every_connector():
    pbx_blocks = [tomllib.loads(b) for b in blocks() if "[[pbx]]" in b]
    types = {p["type"] for b in pbx_blocks for p in b["pbx"]}
    assert types == set(registered_connectors())
    for b in pbx_blocks:
        for p in b["pbx"]:
            assert {"id", "type", "site", "source"} <= set(p), p


def test_every_toml_block_of_the_guide_passes_check_config(tmp_path):
    folder = tmp_path / "ent"
    shutil.copytree(SAMPLE, folder)
    config = folder / "callcost.toml"
    config.write_text("\n".join(blocks()), encoding="utf-8")
    result = check(config)
    assert [str(e) for e in result.errors] == []
    assert result.ent is not None and len(result.ent.pbxs) == sum(b.count("[[pbx]]") for b in blocks())


def test_a_broken_example_would_fail(tmp_path):
    """The check above can fail: the same blocks with one option misspelt do not pass."""
    folder = tmp_path / "ent"
    shutil.copytree(SAMPLE, folder)
    config = folder / "callcost.toml"
    config.write_text("\n".join(blocks()).replace("date_format = \"mmdd\"", "date_fromat = \"mmdd\""))
    assert any("did you mean 'date_format'?" in str(e) for e in check(config).errors)
