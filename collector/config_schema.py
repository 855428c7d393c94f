"""The collector's part of the declared config schema (:mod:`warehouse.config_schema`), an entry point.

Three contributions: the ``[collector]`` table (tuning for every PBX, each key overridable in a
``[[pbx]]`` table), the ``[remote]`` table of a remote unit, and each installed connector's ``[[pbx]]``
options — read from the connector classes (``Connector.options``), so a connector installed as a
plugin brings its keys with it and nothing here names a PBX type.
"""

from __future__ import annotations

from typing import Any

from collector.connectors.base import registered_connectors
from collector.remote.settings import DEFAULTS as REMOTE_DEFAULTS
from collector.settings import DEFAULTS
from warehouse.config_schema import Key, Table

#: What each ``collector.settings.DEFAULTS`` key means (the defaults themselves stay there).
MEANINGS: dict[str, str] = {
    "batch_records": "Flush a rating/storage batch at this many records …",
    "batch_ms": "… or when its oldest record waited this many milliseconds.",
    "queue_mb": "Megabytes received but not yet parsed before receiving slows down.",
    "queue_batches": "Rated batches waiting for storage before rating slows down.",
    "parse_workers": "Parser threads.",
    "health_port": "Port of /health and /metrics; 0 = none (`callcost collect --health-port` also sets it).",
    "health_host": "Address the health endpoint listens on.",
    "raw_rotate_mb": "Raw dump: start a new file after this many megabytes …",
    "raw_rotate_minutes": "… or after this many minutes.",
    "raw_retention_days": "Raw dump files older than this are deleted.",
    "settle_s": "folder:/ftp: a file is complete once its size and mtime held still this many seconds.",
    "poll_s": "folder:/ftp: seconds between looks at the folder.",
    "ignore": "folder:/ftp: globs of names still being written (renamed when done).",
    "after_import": "folder:/ftp: keep | move (to <folder>/done/) | delete an imported file.",
    "ftp_user": "ftp: the user the PBX logs in as.",
    "ftp_password": "ftp: its password (required for ftp: sources).",
    "ftp_folder": "ftp: where uploads land; default <config dir>/incoming/<pbx id>.",
    "rsp_idle_ms": "rsp: a data SPDU not ending in CR LF is complete after this much silence.",
    "expected_interval_s": "status: seconds of silence before a source is late; 0 = learn it (3 × the median gap).",
    "https_cert": "https: PEM certificate chain of the listener (relative to the config).",
    "https_key": "https: its PEM private key.",
    "https_token_env": "https: environment variable holding the remote units' bearer token.",
    "https_max_mb": "https: largest batch body accepted, in megabytes.",
}

REMOTE_MEANINGS: dict[str, str] = {
    "unit": "This remote unit's id, e.g. \"lon-unit-1\" (letters, digits, . _ -).",
    "centre": "The central collector: https://HOST:PORT.",
    "token_env": "Environment variable holding the bearer token shared with the centre.",
    "ca": "PEM file of the CA (or self-signed certificate) to trust; \"\" = the system CAs.",
    "outbox": "Folder of batches not yet acknowledged by the centre.",
    "retry_initial_s": "Seconds of backoff after a failed delivery, doubling …",
    "retry_max_s": "… up to this; retries never stop.",
    "timeout_s": "Seconds per HTTP request.",
    "final_drain_s": "On shutdown, keep delivering this long before leaving a backlog on disk.",
}


def _type_of(default: Any) -> str:
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    if isinstance(default, list):
        return "list of strings"
    return "string"


def collector_tables() -> list[Table]:
    """``[collector]``, the same keys per ``[[pbx]]``, and ``[remote]``."""
    keys = tuple(Key(name, _type_of(default), MEANINGS[name], default) for name, default in DEFAULTS.items())
    remote = tuple(Key(name, "string" if default is None else _type_of(default), REMOTE_MEANINGS[name], default,
                       required=default is None) for name, default in REMOTE_DEFAULTS.items())
    return [
        Table("collector", "Collector tuning for every PBX; the same key in a [[pbx]] table wins for that PBX.",
              keys, owner="collector.settings"),
        Table("pbx", "Collector settings for this PBX (override [collector]).", keys, array=True,
              owner="collector.settings"),
        Table("remote", "A remote unit (`callcost collect --remote-unit`): who it is and where the centre is. "
                        "The token is read from the environment, never from the file.", remote,
              owner="collector.remote.settings"),
    ]


def connector_tables() -> list[Table]:
    """Each installed connector's ``[[pbx]]`` options, for the PBXs of its type."""
    return [Table("pbx", f"Options of a type = \"{name}\" PBX.",
                  tuple(Key(key, "any", meaning) for key, meaning in cls.options.items()),
                  array=True, when=("type", name), owner=cls.__module__)
            for name, cls in sorted(registered_connectors().items())]
