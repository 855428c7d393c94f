"""Collector tuning read from the config: the ``[collector]`` table, overridable per ``[[pbx]]``.

Why one place: every transport, the raw dump and the pipeline read the same keys, and the lead
documents them from this module's ``DEFAULTS`` (name → default, with the unit in the name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from collector.rawdump import DumpPolicy
from warehouse.config import Enterprise, Pbx
from warehouse.errors import ConfigError

#: Every key the collector reads, with its default.  ``[collector]`` sets them for all PBXs; the same
#: key in a ``[[pbx]]`` table wins for that PBX (only the per-source ones marked below make sense there).
DEFAULTS: dict[str, Any] = {
    # pipeline (``[collector]`` only)
    "batch_records": 50_000,        # flush a rating/storage batch at this many records …
    "batch_ms": 1_000,              # … or when its oldest record waited this long
    "queue_mb": 64,                 # bytes received but not yet parsed, before receiving slows down
    "queue_batches": 4,             # rated batches waiting for storage, before rating slows down
    "parse_workers": 1,
    "health_port": 0,               # 0 = no health endpoint (``callcost collect --health-port`` also sets it)
    "health_host": "127.0.0.1",
    # raw dump (per PBX too)
    "raw_rotate_mb": 64,
    "raw_rotate_minutes": 60,
    "raw_retention_days": 90,
    # folder / ftp (per PBX)
    "settle_s": 2.0,                # a file is complete once its size and mtime held still this long
    "poll_s": 1.0,
    "ignore": [".*", "*.tmp", "*.part", "*.filepart"],   # names still being written (renamed when done)
    "after_import": "keep",         # keep | move (to <folder>/done/) | delete
    "ftp_user": "cdr",
    "ftp_password": "",             # required for ftp: sources
    "ftp_folder": "",               # where uploads land; default <config dir>/incoming/<pbx id>
    # rsp (per PBX)
    "rsp_idle_ms": 200,             # a data SPDU not ending in CR LF is complete after this much silence
    # status (per PBX)
    "expected_interval_s": 0,       # 0 = learn it: 3 × the median gap between the source's batches
    # https: sources — batches from remote units (per PBX; PBXs sharing a HOST:PORT share one listener)
    "https_cert": "",               # PEM certificate chain of the listener (path relative to the config)
    "https_key": "",                # its PEM private key
    "https_token_env": "CALLCOST_REMOTE_TOKEN",  # environment variable holding the units' bearer token
    "https_max_mb": 256,            # largest batch body accepted
}


@dataclass(frozen=True, slots=True)
class Settings:
    """The merged settings for one PBX (or the ``[collector]`` table alone when *pbx* is None)."""

    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def dump_policy(self) -> DumpPolicy:
        return DumpPolicy(rotate_bytes=int(float(self["raw_rotate_mb"]) * 1024 * 1024),
                          rotate_seconds=float(self["raw_rotate_minutes"]) * 60,
                          retention_days=float(self["raw_retention_days"]))


def settings_for(ent: Enterprise, pbx: Pbx | None = None) -> Settings:
    """Defaults ← ``[collector]`` ← the ``[[pbx]]`` table; unknown or mistyped values are config errors."""
    merged = dict(DEFAULTS)
    for where, table in (("collector", ent.raw.get("collector", {})),
                         (f"pbx '{pbx.id}'" if pbx else "", pbx.options if pbx else {})):
        for key, value in table.items():
            if key not in DEFAULTS:
                if where == "collector":
                    raise ConfigError(f"unknown key '{key}'", file=str(ent.path), field=f"collector.{key}",
                                      expected="one of " + ", ".join(DEFAULTS))
                continue  # [[pbx]] tables also carry connector options
            default = DEFAULTS[key]
            ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int))
            if not ok or isinstance(value, bool) != isinstance(default, bool):
                raise ConfigError(f"'{value!r}' has the wrong type", file=str(ent.path), field=f"{where}.{key}",
                                  expected=f"a {type(default).__name__} like {default!r}")
            merged[key] = value
    if merged["after_import"] not in ("keep", "move", "delete"):
        raise ConfigError(f"unknown value '{merged['after_import']}'", file=str(ent.path), field="after_import",
                          expected="keep | move | delete")
    return Settings(merged)


def token_from_env(variable: str, *, field: str, expected: str, file: str | None = None) -> str:
    """A bearer token read from the environment variable *variable* (never from the config file, never logged)."""
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(f"environment variable {variable} is not set", file=file, field=field, expected=expected)
    return value
