"""How a notebook finds its enterprise without a hard-coded path.

Notebooks in ``notebooks/`` start with ``ent = open_enterprise()``: the config comes from
``$CALLCOST_CONFIG`` (what the test suite and a scheduled run set), then ``./callcost.toml``, then the
``callcost-demo/callcost.toml`` that ``callcost demo`` builds, looked for in the working folder and its
parents (so a notebook opened from ``notebooks/`` after running the demo at the repository root works).
"""

from __future__ import annotations

import os
from pathlib import Path

from warehouse.config import Enterprise, find_config, load_config
from warehouse.errors import ConfigError


def open_enterprise(config: str | os.PathLike[str] | None = None) -> Enterprise:
    """The enterprise a notebook should analyse (see the module docstring for the search order).

    Example::

        from analytics.notebook import open_enterprise
        ent = open_enterprise()
        ent.storage.lake        # the Parquet lake to read
    """
    try:
        return load_config(find_config(config))
    except ConfigError:
        if config is not None or os.environ.get("CALLCOST_CONFIG"):
            raise
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder / "callcost-demo" / "callcost.toml"
        if candidate.is_file():
            return load_config(candidate)
    raise ConfigError(
        "no enterprise config found for this notebook",
        expected="$CALLCOST_CONFIG, ./callcost.toml, or run `callcost demo --no-serve` at the repository root first",
    )
