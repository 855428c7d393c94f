"""The enterprise configuration (SPEC §3): one TOML file plus CSV side files, loaded and validated in one place.

Every problem found is reported at once (``ConfigErrors``) and each names the file, the line (or TOML
key) and the field, and says what was expected — ``callcost check-config`` prints them as they are.

The config is found from ``--config``, then ``$CALLCOST_CONFIG``, then ``./callcost.toml``.

Which tables and keys exist, their types and defaults, is declared once in :mod:`warehouse.config_schema`
(the SPEC §3 tables there, the other areas' through entry points); ``callcost check-config`` checks a
file against that declaration before this module reads the values.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from warehouse.errors import ConfigError, ConfigErrors, StorageError
from warehouse.lakefs import is_uri, local_root
from warehouse.money import CURRENCY_SCALE

TRUNK_KINDS = ("pstn", "sip", "onnet")
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@dataclass(frozen=True, slots=True)
class NumberRange:
    """An inclusive range of numbers of equal length: extensions ("1000"-"1999") or DIDs ("+1212…")."""

    first: str
    last: str

    def contains(self, number: str) -> bool:
        return len(number) == len(self.first) and self.first <= number <= self.last

    @classmethod
    def parse(cls, text: str) -> "NumberRange":
        first, sep, last = text.partition("-") if not text.startswith("+") else _split_e164_range(text)
        last = last if sep else first
        if len(first) != len(last) or first > last:
            raise ValueError(f"'{text}' is not a range of equal-length numbers, low-high")
        digits = first.lstrip("+") + last.lstrip("+")
        if not digits.isdigit():
            raise ValueError(f"'{text}' has characters other than digits")
        return cls(first, last)


def _split_e164_range(text: str) -> tuple[str, str, str]:
    head, sep, tail = text[1:].partition("-")
    return "+" + head, sep, tail


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    timezone: str
    country: str
    holidays: str  # `holidays` package code: COUNTRY or COUNTRY-SUBDIVISION
    main_number: str
    dids: tuple[NumberRange, ...] = ()
    extensions: tuple[NumberRange, ...] = ()
    access_code: str = ""
    local_prefixes: tuple[str, ...] = ()
    #: Globs (case-insensitive) naming this site's own voicemail / auto-attendant devices, recognised by the
    #: connectors in addition to each vendor's defaults: a leg to one is internal, never a carrier call.
    voicemail_devices: tuple[str, ...] = ()

    @property
    def holiday_country(self) -> str:
        return self.holidays.split("-", 1)[0]

    @property
    def holiday_subdiv(self) -> str | None:
        parts = self.holidays.split("-", 1)
        return parts[1] if len(parts) == 2 else None


@dataclass(frozen=True, slots=True)
class Pbx:
    id: str
    type: str
    site: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def source_kind(self) -> str:
        """The ``source`` scheme (``tcp`` of ``tcp:0.0.0.0:9000``); ``import`` for a PBX fed by files only.

        The config knows no scheme names: the collector's transport registry (entry points) owns them
        and ``check-config`` validates them there.
        """
        return self.source.split(":", 1)[0]

    @property
    def source_target(self) -> str:
        return self.source.split(":", 1)[1] if ":" in self.source else ""


@dataclass(frozen=True, slots=True)
class Trunk:
    pbx: str
    match: str  # glob on the trunk / gateway / device name in the CDR
    carrier: str | None
    kind: str  # pstn | sip | onnet
    site: str  # where the trunk meets the PSTN

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.match)


@dataclass(frozen=True, slots=True)
class Carrier:
    id: str
    tariff: Path
    split: bool = False


@dataclass(frozen=True, slots=True)
class Storage:
    lake: Path
    database: str
    offline: Path
    raw_dump: Path


@dataclass(frozen=True, slots=True)
class Enterprise:
    """The whole validated configuration; paths are absolute (resolved against the config's folder)."""

    path: Path
    name: str
    currency: str
    scale: int
    storage: Storage
    sites: dict[str, Site]
    pbxs: dict[str, Pbx]
    trunks: tuple[Trunk, ...]
    carriers: dict[str, Carrier]
    reference_tariff: Path
    onnet_rate: Decimal
    directory_file: Path | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    text: str = field(default="", repr=False, compare=False)  # the TOML as read, to locate keys by line

    @property
    def root(self) -> Path:
        return self.path.parent

    def config_error(self, table: str, index: int | None, key: str | None, message: str,
                     expected: str | None = None) -> ConfigError:
        """A :class:`ConfigError` about ``[table]`` / ``[[table]]`` number *index* (0-based), key *key*,
        naming this config file and the key's line: what validators outside this module (connector
        options, transports, reports' tables) raise, so their errors read like the config's own."""
        name = f"{table}[{index}]" if index is not None else table
        return ConfigError(message, file=str(self.path), line=_Locator(self.text).line_of(table, index, key),
                           field=f"{name}.{key}" if key else name, expected=expected)

    def pbx(self, pbx_id: str) -> Pbx:
        """The ``[[pbx]]`` with id *pbx_id*; a ConfigError naming the configured ids when there is none
        (a PBX id typed on the command line: ``--pbx``, not a key of this file)."""
        if pbx_id not in self.pbxs:
            raise ConfigError(f"unknown PBX '{pbx_id}'",
                              expected=f"a [[pbx]] id of {self.path}: " + (", ".join(self.pbxs) or "none configured"))
        return self.pbxs[pbx_id]

    def trunks_of(self, pbx_id: str) -> tuple[Trunk, ...]:
        return tuple(t for t in self.trunks if t.pbx == pbx_id)


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config``, then ``$CALLCOST_CONFIG``, then ``./callcost.toml``."""
    for candidate in (explicit, os.environ.get("CALLCOST_CONFIG"), "callcost.toml"):
        if candidate:
            path = Path(candidate)
            if path.is_file():
                return path.resolve()
            if candidate is not None and candidate != "callcost.toml":
                raise ConfigError("config file not found", file=str(path), expected="a callcost.toml file")
    raise ConfigError(
        "no config given and ./callcost.toml does not exist",
        expected="--config PATH, $CALLCOST_CONFIG, or a callcost.toml here (try `callcost demo` for a sample)",
    )


class _Locator:
    """Best-effort line numbers for TOML keys (tomllib does not give them)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line_of(self, table: str, index: int | None, key: str | None) -> int | None:
        header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]" if index is not None else rf"^\s*\[\s*{re.escape(table)}\s*\]")
        seen = -1
        start = None
        for n, line in enumerate(self.lines, 1):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    start = n
                    break
        if start is None:
            return None
        if key is None:
            return start
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n in range(start, len(self.lines)):
            line = self.lines[n]
            if line.lstrip().startswith("["):
                break
            if key_re.match(line):
                return n + 1
        return start


class _Validator:
    """Collects every error of one config file instead of stopping at the first."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.loc = _Locator(text)
        self.errors: list[ConfigError] = []

    def error(self, table: str, index: int | None, key: str | None, message: str, expected: str | None = None) -> None:
        name = f"{table}[{index}]" if index is not None else table
        fld = f"{name}.{key}" if key else name
        self.errors.append(
            ConfigError(message, file=str(self.path), line=self.loc.line_of(table, index, key), field=fld, expected=expected)
        )

    def req(self, tbl: dict, table: str, index: int | None, key: str, expected: str) -> Any:
        if key not in tbl or tbl[key] in (None, ""):
            self.error(table, index, key, "is missing", expected)
            return None
        return tbl[key]


def load_config(path: str | os.PathLike[str]) -> Enterprise:
    """Load and validate ``callcost.toml``; raise ``ConfigErrors`` listing every problem found."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigErrors([ConfigError(f"cannot read: {exc.strerror}", file=str(path))]) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        raise ConfigErrors([ConfigError(f"not valid TOML: {exc}", file=str(path), line=line)]) from exc
    v = _Validator(path, text)
    root = path.parent

    ent_tbl = raw.get("enterprise", {})
    name = v.req(ent_tbl, "enterprise", None, "name", "the enterprise's name") or ""
    currency = str(ent_tbl.get("currency", "USD")).upper()
    scale = ent_tbl.get("minor_unit", CURRENCY_SCALE.get(currency))
    if scale is None:
        v.error("enterprise", None, "currency", f"unknown currency '{currency}'", "an ISO 4217 code, or set minor_unit")
        scale = 2

    st = raw.get("storage", {})
    storage = Storage(
        lake=_lake_root(str(st.get("lake", "lake")), root, v),
        database=_resolve_sqlite(st.get("database", "sqlite:///callcost.db"), root),
        offline=root / st.get("offline", "spool"),
        raw_dump=root / st.get("raw_dump", "raw"),
    )

    sites = _load_sites(raw.get("site", []), v)
    pbxs = _load_pbxs(raw.get("pbx", []), v, sites)
    carriers = _load_carriers(raw.get("carrier", []), v, root)
    trunks = _load_trunks(raw.get("trunk", []), v, pbxs, sites, carriers)

    ref = raw.get("reference", {})
    ref_path = v.req(ref, "reference", None, "tariff", "the path of the reference PSTN tariff CSV")
    reference_tariff = root / (ref_path or "")
    if ref_path and not reference_tariff.is_file():
        v.error("reference", None, "tariff", f"file not found: {reference_tariff}", "an existing tariff CSV")

    onnet_text = str(raw.get("onnet", {}).get("rate", "0"))
    try:
        onnet_rate = Decimal(onnet_text)
        if onnet_rate < 0 or not onnet_rate.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        v.error("onnet", None, "rate", f"'{onnet_text}' is not a non-negative decimal", 'a decimal string like "0.00"')
        onnet_rate = Decimal(0)

    dir_file = raw.get("directory", {}).get("file")
    directory_file = root / dir_file if dir_file else None
    if directory_file is not None and not directory_file.is_file():
        v.error("directory", None, "file", f"file not found: {directory_file}", "an existing directory CSV")

    if v.errors:
        raise ConfigErrors(v.errors)
    return Enterprise(
        path=path, name=name, currency=currency, scale=int(scale), storage=storage, sites=sites, pbxs=pbxs,
        trunks=trunks, carriers=carriers, reference_tariff=reference_tariff, onnet_rate=onnet_rate,
        directory_file=directory_file, raw=raw, text=text,
    )


def _lake_root(value: str, root: Path, v: _Validator) -> Path:
    """``[storage] lake``: a path (relative to the config) or a ``file://`` URI; an object store is refused here,
    where the message can name the key (the live lake needs a POSIX filesystem: warehouse.lakefs)."""
    if not is_uri(value):
        return root / value
    try:
        return local_root(value)
    except StorageError:
        v.error("storage", None, "lake", f"'{value}' is an object store: the live lake needs a POSIX filesystem "
                "(flock, atomic rename, fsync); see docs/scale-out.md", "a local path, an NFS mount or a file:// URI")
        return root / "lake"


def _resolve_sqlite(url: str, root: Path) -> str:
    """Relative SQLite paths are relative to the config file, like every other path in it."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str(root / url[len(prefix):])
    return url


def _load_sites(items: list[dict], v: _Validator) -> dict[str, Site]:
    sites: dict[str, Site] = {}
    if not items:
        v.error("site", None, None, "no [[site]] defined", "at least one [[site]] table")
    for i, s in enumerate(items):
        sid = v.req(s, "site", i, "id", "a short site id like NYC")
        tz = v.req(s, "site", i, "timezone", "an IANA zone like America/New_York")
        if tz:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                v.error("site", i, "timezone", f"unknown time zone '{tz}'", "an IANA zone like Europe/London")
        country = str(v.req(s, "site", i, "country", "an ISO 3166 alpha-2 code like US") or "").upper()
        hol = str(s.get("holidays", country))
        _check_holidays(hol, v, i)
        main = v.req(s, "site", i, "main_number", "an E.164 number like +12125550000") or ""
        if main and not E164.match(main):
            v.error("site", i, "main_number", f"'{main}' is not E.164", "'+' then up to 15 digits")
        dids = _ranges(s.get("dids", []), v, i, "dids", e164=True)
        exts = _ranges(s.get("extensions", []), v, i, "extensions", e164=False)
        local = tuple(s.get("local_prefixes", []))
        for p in local:
            if not re.fullmatch(r"\+\d+", p):
                v.error("site", i, "local_prefixes", f"'{p}' is not an E.164 prefix", "'+' then digits")
        voicemail = s.get("voicemail_devices", [])
        if not (isinstance(voicemail, list) and all(isinstance(g, str) and g.strip() for g in voicemail)):
            v.error("site", i, "voicemail_devices", f"{voicemail!r} is not a list of device-name globs",
                    'a list like ["CiscoUM*", "UNITY-SIP-TRUNK"]')
            voicemail = []
        if sid in sites:
            v.error("site", i, "id", f"duplicate site id '{sid}'", "unique site ids")
        if sid:
            sites[sid] = Site(
                id=sid, name=s.get("name", sid), timezone=tz or "UTC", country=country, holidays=hol,
                main_number=main, dids=dids, extensions=exts, access_code=str(s.get("access_code", "")),
                local_prefixes=local, voicemail_devices=tuple(g.strip() for g in voicemail),
            )
    return sites


def _check_holidays(code: str, v: _Validator, i: int) -> None:
    import holidays

    country, _, subdiv = code.partition("-")
    try:
        holidays.country_holidays(country, subdiv=subdiv or None)
    except (NotImplementedError, KeyError) as exc:
        v.error("site", i, "holidays", f"'{code}' is not a holidays calendar ({exc})", "COUNTRY or COUNTRY-SUBDIVISION, e.g. US-NY")


def _ranges(items: list[str], v: _Validator, i: int, key: str, *, e164: bool) -> tuple[NumberRange, ...]:
    out = []
    for text in items:
        try:
            r = NumberRange.parse(str(text))
            if e164 and not r.first.startswith("+"):
                raise ValueError(f"'{text}' is not E.164")
            out.append(r)
        except ValueError as exc:
            v.error("site", i, key, str(exc), "'+12125550000-+12125559999'" if e164 else "'1000-1999'")
    return tuple(out)


def _load_pbxs(items: list[dict], v: _Validator, sites: dict[str, Site]) -> dict[str, Pbx]:
    pbxs: dict[str, Pbx] = {}
    for i, p in enumerate(items):
        pid = v.req(p, "pbx", i, "id", "a PBX id like nyc-cucm")
        ptype = v.req(p, "pbx", i, "type", "cucm | avaya | asterisk | freeswitch | smdr | canonical-csv")
        site = v.req(p, "pbx", i, "site", "the id of a [[site]]")
        if site and site not in sites:
            v.error("pbx", i, "site", f"unknown site '{site}'", "one of " + ", ".join(sites))
        source = str(p.get("source", "import"))
        if pid in pbxs:
            v.error("pbx", i, "id", f"duplicate PBX id '{pid}'", "unique PBX ids")
        if pid:
            extra = {k: val for k, val in p.items() if k not in ("id", "type", "site", "source")}
            pbxs[pid] = Pbx(id=pid, type=ptype or "", site=site or "", source=source, options=extra)
    return pbxs


def _load_carriers(items: list[dict], v: _Validator, root: Path) -> dict[str, Carrier]:
    carriers: dict[str, Carrier] = {}
    for i, c in enumerate(items):
        cid = v.req(c, "carrier", i, "id", "a carrier id")
        tariff = v.req(c, "carrier", i, "tariff", "the path of the carrier's tariff CSV")
        path = root / (tariff or "")
        if tariff and not path.is_file():
            v.error("carrier", i, "tariff", f"file not found: {path}", "an existing tariff CSV")
        split = c.get("split", False)
        if not isinstance(split, bool):
            v.error("carrier", i, "split", f"'{split}' is not a boolean", "true or false")
        if cid:
            carriers[cid] = Carrier(id=cid, tariff=path, split=bool(split))
    return carriers


def _load_trunks(items, v: _Validator, pbxs, sites, carriers) -> tuple[Trunk, ...]:
    trunks = []
    for i, t in enumerate(items):
        pbx = v.req(t, "trunk", i, "pbx", "the id of a [[pbx]]")
        if pbx and pbx not in pbxs:
            v.error("trunk", i, "pbx", f"unknown PBX '{pbx}'", "one of " + ", ".join(pbxs))
        match = v.req(t, "trunk", i, "match", "a glob like NYC-PSTN-*")
        kind = t.get("kind", "pstn")
        if kind not in TRUNK_KINDS:
            v.error("trunk", i, "kind", f"unknown kind '{kind}'", " | ".join(TRUNK_KINDS))
        carrier = t.get("carrier")
        if kind in ("pstn", "sip") and not carrier:
            v.error("trunk", i, "carrier", "is missing", "a carrier id: required for pstn and sip trunks")
        elif carrier and carrier not in carriers:
            v.error("trunk", i, "carrier", f"unknown carrier '{carrier}'", "one of " + ", ".join(carriers))
        site = t.get("site") or (pbxs[pbx].site if pbx in pbxs else "")
        if site and site not in sites:
            v.error("trunk", i, "site", f"unknown site '{site}'", "one of " + ", ".join(sites))
        if pbx and match:
            trunks.append(Trunk(pbx=pbx, match=match, carrier=carrier, kind=kind, site=site))
    return tuple(trunks)
