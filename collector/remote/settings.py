"""The ``[remote]`` table of a remote unit's config: who it is, where the centre is, how it proves it.

A separate table (not ``[collector]``) because these keys mean nothing to a central collector, and
``[collector]`` rejects unknown keys.  The token is never in the file: ``token_env`` names the
environment variable holding it (as ``[smtp] password_env`` does).  Paths are relative to the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collector.settings import token_from_env
from warehouse.config import Enterprise
from warehouse.errors import ConfigError

#: Every ``[remote]`` key with its default (``None`` = required).
DEFAULTS: dict[str, Any] = {
    "unit": None,                       # this unit's id, e.g. "lon-unit-1" (letters, digits, . _ -)
    "centre": None,                     # the central collector: https://HOST:PORT
    "token_env": "CALLCOST_REMOTE_TOKEN",  # environment variable holding the shared bearer token
    "ca": "",                           # PEM file of the CA (or self-signed cert) to trust; "" = system CAs
    "outbox": "outbox",                 # folder of batches not yet acknowledged by the centre
    "retry_initial_s": 0.5,             # backoff after a failed delivery, doubling …
    "retry_max_s": 30.0,                # … up to this; retries never stop
    "timeout_s": 30.0,                  # per HTTP request
    "final_drain_s": 5.0,               # on shutdown, keep delivering this long before leaving a backlog on disk
}


@dataclass(frozen=True, slots=True)
class RemoteSettings:
    unit: str
    centre: str
    config_file: str
    host: str
    port: int
    token_env: str
    ca: Path | None
    outbox: Path
    retry_initial_s: float
    retry_max_s: float
    timeout_s: float
    final_drain_s: float

    def token(self) -> str:
        return token_from_env(self.token_env, file=self.config_file, field="remote.token_env",
                              expected="the bearer token shared with the centre in that variable")


def remote_settings(ent: Enterprise) -> RemoteSettings:
    """Validated ``[remote]`` settings; every problem names the config file and the ``remote.KEY`` field."""
    table = ent.raw.get("remote")
    file = str(ent.path)
    if not isinstance(table, dict):
        raise ConfigError("no [remote] table", file=file, field="remote",
                          expected="[remote] with unit and centre for `callcost collect --remote-unit`")
    for key in table:
        if key not in DEFAULTS:
            raise ConfigError(f"unknown key '{key}'", file=file, field=f"remote.{key}",
                              expected="one of " + ", ".join(DEFAULTS))
    v = {**DEFAULTS, **table}
    for key, default in DEFAULTS.items():
        if v[key] is None:
            raise ConfigError("missing", file=file, field=f"remote.{key}", expected=_EXPECTED[key])
        want = str if default is None else type(default)
        ok = isinstance(v[key], want) or (want is float and isinstance(v[key], int) and not isinstance(v[key], bool))
        if not ok:
            raise ConfigError(f"'{v[key]!r}' has the wrong type", file=file, field=f"remote.{key}",
                              expected=_EXPECTED.get(key, f"a {want.__name__} like {default!r}"))
    unit = v["unit"]
    if not unit or not all(c.isalnum() or c in "._-" for c in unit):
        raise ConfigError(f"'{unit}' is not a unit id", file=file, field="remote.unit", expected=_EXPECTED["unit"])
    url = urlsplit(v["centre"])
    try:
        port = url.port
    except ValueError:
        port = None
    if url.scheme != "https" or not url.hostname or port is None or url.path not in ("", "/"):
        raise ConfigError(f"'{v['centre']}' is not https://HOST:PORT", file=file, field="remote.centre",
                          expected=_EXPECTED["centre"])
    ca = ent.path.parent / v["ca"] if v["ca"] else None
    if ca is not None and not ca.is_file():
        raise ConfigError(f"CA file {ca} does not exist", file=file, field="remote.ca",
                          expected="a PEM file with the certificate(s) the centre's certificate chains to")
    if not v["token_env"]:
        raise ConfigError("empty", file=file, field="remote.token_env", expected=_EXPECTED["token_env"])
    if v["retry_initial_s"] <= 0 or v["retry_max_s"] < v["retry_initial_s"] or v["timeout_s"] <= 0:
        raise ConfigError("retry/timeout values out of range", file=file, field="remote.retry_max_s",
                          expected="0 < retry_initial_s <= retry_max_s, timeout_s > 0")
    return RemoteSettings(unit=unit, centre=v["centre"].rstrip("/"), config_file=file, host=url.hostname, port=port,
                          token_env=v["token_env"], ca=ca, outbox=ent.path.parent / v["outbox"],
                          retry_initial_s=float(v["retry_initial_s"]), retry_max_s=float(v["retry_max_s"]),
                          timeout_s=float(v["timeout_s"]), final_drain_s=float(v["final_drain_s"]))


_EXPECTED = {
    "unit": "an id of letters, digits, '.', '_' or '-', e.g. \"lon-unit-1\"",
    "centre": "the central collector's URL, e.g. \"https://collector.example.com:8443\"",
    "token_env": "the name of an environment variable, e.g. \"CALLCOST_REMOTE_TOKEN\"",
}
