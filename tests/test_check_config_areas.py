"""``callcost check-config`` validates what every area reads from the config, not only sites and tariffs.

Chargeback rules, ``[smtp]``, ``[[schedule]]``, ``[alerts]``, the collector's settings and each PBX's
connector options are checked up front, so a typo surfaces at deploy time with file, line and field,
not at the first scheduled run or the first record from the PBX.
"""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from callcost.cli import app
from callcost.demo import SAMPLE

runner = CliRunner()


def _sample(tmp_path):
    ent = tmp_path / "ent"
    shutil.copytree(SAMPLE, ent)
    return ent / "callcost.toml"


def test_sample_config_is_clean(tmp_path):
    result = runner.invoke(app, ["check-config", "--config", str(_sample(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_errors_of_every_area_are_reported_together(tmp_path):
    config = _sample(tmp_path)
    text = config.read_text()
    assert 'rules = "chargeback.toml"' in text
    text = text.replace('rules = "chargeback.toml"', 'rules = "missing-rules.toml"')
    text += '\n[smtp]\nhost = "mail.example.com"\nport = "x"\n'
    text += '\n[[pbx]]\nid = "bos-nec"\ntype = "smdr"\nsite = "NYC"\nsource = "import"\nlayout = "no-such-layout"\n'
    config.write_text(text)
    result = runner.invoke(app, ["check-config", "--config", str(config)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "chargeback.rules" in out and "missing-rules.toml" in out
    assert "smtp.port" in out and "'x'" in out
    assert "no-such-layout" in out
    assert "3 error(s)" in out


def test_an_unknown_source_scheme_is_named_by_the_transport_registry_with_its_line(tmp_path):
    """The config knows no transport names; check-config asks the installed transports (entry points)."""
    config = _sample(tmp_path)
    text = config.read_text() + '\n[[pbx]]\nid = "bos-nec"\ntype = "smdr"\nsite = "NYC"\nsource = "tpc:0.0.0.0:9000"\n'
    config.write_text(text)
    line = text.splitlines().index('source = "tpc:0.0.0.0:9000"') + 1
    result = runner.invoke(app, ["check-config", "--config", str(config)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert f"callcost.toml:{line}: field 'pbx[" in out and "unknown source 'tpc:0.0.0.0:9000'" in out
    assert "tcp:…" in out and "serial:…" in out and "import" in out
