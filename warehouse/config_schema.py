"""The one declared schema of every file a user writes: ``callcost.toml``, the tariff CSVs, the chargeback rules.

Why one schema: a misspelt key (``timzone``, ``[storag]``, ``splitt = false``) must be an error, not a
silent default that moves the lake or prices calls differently.  Each table and key is declared once,
here or by the area that owns it, with its type, default and meaning; the same declarations validate
the files (:func:`validate_toml`, :func:`check_csv_header`) and generate ``docs/config-reference.md``
(``python -m callcost.config_reference``), so the reference cannot drift from what is checked.

The SPEC §3 core (``[enterprise]`` … ``[directory]``) and the tariff and directory CSV columns are
declared in this module (:data:`CORE`).  Tables owned by a plugin area — the collector's tuning and
``[remote]``, each connector's ``[[pbx]]`` options, reporting's ``[smtp]``/``[alerts]``/``[[schedule]]``,
the chargeback rules — are contributed through the entry-point group ``callcost.config_schema``: each
entry point is a callable returning :class:`Table` declarations, merged by table name
(:func:`registered_schema`).  A ``Table`` with ``when = ("type", "cucm")`` adds keys only to the
``[[pbx]]`` tables whose ``type`` is ``cucm``.

What this checks is structure: every table and key is known, each value has the declared TOML type.
What a value *means* (a known time zone, an existing file, a cron expression) stays with the code that
uses it; ``callcost check-config`` shows each problem once (an error on a field the schema already
reported is not repeated).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from warehouse.errors import ConfigError

ENTRY_POINT_GROUP = "callcost.config_schema"

#: The documents a table can belong to (``Table.document``), with how docs name them.
DOCUMENTS: dict[str, str] = {
    "config": "the enterprise config (callcost.toml)",
    "tariff": "a tariff CSV (one per carrier, and the reference PSTN)",
    "directory": "the directory CSV",
    "chargeback": "the chargeback rules file ([chargeback] rules = …)",
}

#: Value types a key may declare, and the TOML values each accepts.
TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "decimal string": lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)),
    "list of strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "string or list of strings": lambda v: isinstance(v, str) or (isinstance(v, list)
                                                                  and all(isinstance(x, str) for x in v)),
    "table": lambda v: isinstance(v, dict),
    # addresses, each a string or a table `{ address = "...", lang = "zh_CN" }` (a reader of another language)
    "addresses": lambda v: isinstance(v, str) or (isinstance(v, list) and all(
        isinstance(x, str) or (isinstance(x, dict) and isinstance(x.get("address"), str)) for x in v)),
    "any": lambda v: True,
    "column": lambda v: True,  # a CSV column: its cells are checked by the file's loader
}


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a table (or one column of a CSV document)."""

    name: str
    type: str
    meaning: str
    default: Any = None  # the value used when the key is absent (None: no default)
    required: bool = False
    default_doc: str | None = None  # how the docs state a default that is not a plain value

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"key {self.name}: unknown type {self.type!r} (one of {', '.join(TYPES)})")

    def default_text(self) -> str:
        """The default as the docs show it: TOML syntax, or a phrase; "required" or "—" when there is none."""
        if self.default_doc is not None:
            return self.default_doc
        if self.required:
            return "required"
        if self.default is None:
            return "—"
        return toml_value(self.default)


@dataclass(frozen=True, slots=True)
class Table:
    """A table (``[name]``), an array of tables (``[[name]]``) or a CSV document's header (``document``).

    Several ``Table`` declarations with one name are one table: their keys are merged.  ``when`` limits a
    declaration to instances whose key ``when[0]`` has the value ``when[1]`` (connector options).
    A dotted name (``alerts.premium``) is a sub-table.  ``open``: any key is allowed (free-form values).
    """

    name: str
    meaning: str
    keys: tuple[Key, ...] = ()
    array: bool = False
    document: str = "config"
    when: tuple[str, str] | None = None
    open: bool = False
    owner: str = ""  # the module whose code reads the table (for the reference's readers)


def toml_value(value: Any) -> str:
    """*value* written as TOML (for defaults in docs and messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The nearest valid name to a misspelt *word* (``timzone`` → ``timezone``), or None if none is close."""
    found = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return found[0] if found else None


class Schema:
    """Every declared table, merged by (document, name)."""

    def __init__(self, tables: Iterable[Table]) -> None:
        self.parts: dict[tuple[str, str], list[Table]] = {}
        for t in tables:
            parts = self.parts.setdefault((t.document, t.name), [])
            if parts and parts[0].array != t.array:
                raise ValueError(f"table {t.name} is declared both as [{t.name}] and [[{t.name}]]")
            parts.append(t)

    def tables(self, document: str) -> dict[str, list[Table]]:
        """Name → its declarations, for one document, in declaration order."""
        return {name: parts for (doc, name), parts in self.parts.items() if doc == document}

    def keys(self, document: str, name: str, instance: Mapping[str, Any] | None = None) -> dict[str, Key]:
        """The keys allowed in one instance of table *name* (all variants when *instance* is None)."""
        parts = self.parts.get((document, name), [])
        chosen = [p for p in parts if p.when is None]
        variants = [p for p in parts if p.when is not None]
        if instance is not None and variants:
            matching = [p for p in variants if instance.get(p.when[0]) == p.when[1]]
            # an instance no variant matches (an unknown PBX type, reported on its own) may use any variant's keys
            chosen += matching or variants
        else:
            chosen += variants
        out: dict[str, Key] = {}
        for p in chosen:
            for k in p.keys:
                out.setdefault(k.name, k)
        return out

    def columns(self, document: str) -> list[Key]:
        """The columns of a CSV document, in order."""
        return [k for parts in self.tables(document).values() for p in parts for k in p.keys]


class TomlLines:
    """Line numbers of TOML tables and keys (``tomllib`` gives none), found by scanning the text once.

    ``line(table, index, key)``: the key's line in the *index*-th ``[[table]]`` (``None`` for ``[table]``),
    else the line of the sub-table ``[table.key]``, else the table's header line; ``table = ""`` is the
    top of the file, before any header.
    """

    _HEADER = re.compile(r'^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?')
    _KEY = re.compile(r'^\s*"?([A-Za-z0-9_.-]+)"?\s*=')

    def __init__(self, text: str) -> None:
        self.headers: dict[tuple[str, int | None], int] = {}
        self.keys: dict[tuple[str, int | None, str], int] = {}
        counts: dict[str, int] = {}
        current: tuple[str, int | None] = ("", None)
        for no, line in enumerate(text.splitlines(), start=1):
            h = self._HEADER.match(line)
            if h:
                name = re.sub(r"\s*\.\s*", ".", h.group(2)).replace('"', "")
                index = None
                if h.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                current = (name, index)
                self.headers.setdefault(current, no)
                continue
            k = self._KEY.match(line)
            if k:
                self.keys.setdefault((*current, k.group(1).split(".")[0]), no)

    def line(self, table: str, index: int | None, key: str | None = None) -> int | None:
        if key is not None:
            found = self.keys.get((table, index, key)) or self.headers.get((f"{table}.{key}" if table else key, None))
            if found is None and not table:
                found = self.headers.get((key, 0))
            if found is not None:
                return found
        return self.headers.get((table, index))


@dataclass
class SchemaReport:
    """What :func:`validate_toml` found: the errors, and the fields a misspelling stands for.

    ``misspelt`` holds ``site[1].timezone`` when ``site[1].timzone`` was reported with that suggestion:
    a later "timezone is missing" about the same table is the same mistake and is not repeated.
    """

    errors: list[ConfigError] = field(default_factory=list)
    misspelt: set[str] = field(default_factory=set)


def _table_label(name: str, array: bool) -> str:
    return f"[[{name}]]" if array else f"[{name}]"


def validate_toml(raw: Mapping[str, Any], text: str, path: str | Path, schema: Schema,
                  document: str = "config") -> SchemaReport:
    """Every unknown table or key and every value of the wrong type in the parsed TOML *raw* of *path*.

    Each error names the file, the line, the field (``site[1].timzone``) and, for an unknown name, the
    nearest valid one ("did you mean 'timezone'?").
    """
    report = SchemaReport()
    lines = TomlLines(text)
    tables = schema.tables(document)
    top_names = [n for n in tables if "." not in n]

    def error(table: str, index: int | None, key: str | None, message: str, expected: str | None) -> None:
        where = f"{table}[{index}]" if index is not None else table
        fld = f"{where}.{key}" if where and key else (key or where)
        report.errors.append(ConfigError(message, file=str(path), line=lines.line(table, index, key), field=fld,
                                         expected=expected))

    def check_table(name: str, index: int | None, values: Mapping[str, Any]) -> None:
        parts = tables[name]
        allowed = schema.keys(document, name, values)
        subtables = {n.rsplit(".", 1)[1] for n in tables if n.startswith(name + ".") and n.count(".") == name.count(".") + 1}
        label = _table_label(name, parts[0].array)
        where = f"{name}[{index}]" if index is not None else name
        for key, value in values.items():
            if key in allowed:
                k = allowed[key]
                if not TYPES[k.type](value):
                    error(name, index, key, f"{value!r} is not a {k.type}" if not isinstance(value, dict)
                          else f"a table is not a {k.type}", f"a {k.type}" + (f" like {k.default_text()}"
                                                                                  if k.default is not None else ""))
            elif key in subtables:
                sub = f"{name}.{key}"
                if isinstance(value, dict):
                    check_table(sub, None, value)
                else:
                    error(name, index, key, "is not a table", f"a table [{sub}]")
            elif any(p.open for p in parts):
                continue
            else:
                candidates = [*allowed, *subtables]
                near = suggest(key, candidates)
                other = _variant_owners(schema, document, name, key)
                hint = f": did you mean '{near}'?" if near else ""
                if other:  # spelt right, but another variant's key (an Avaya option on a CUCM PBX)
                    near = None
                    hint = f": it is an option of {other}, not of this {other.split(' = ')[0]}"
                error(name, index, key, f"unknown key '{key}'{hint}",
                      f"a key of {label}: " + ", ".join(sorted(candidates)))
                if near:
                    report.misspelt.add(f"{where}.{near}")

    for top, value in raw.items():
        if top not in tables:
            near = suggest(top, top_names)
            hint = f": did you mean [{near}]?" if near else ""
            error("", None, top, f"unknown table or key '{top}'{hint}",
                  "one of " + ", ".join(_table_label(n, tables[n][0].array) for n in top_names))
            if near:
                report.misspelt.add(near)
            continue
        array = tables[top][0].array
        if array:
            if not (isinstance(value, list) and all(isinstance(t, dict) for t in value)):
                error("", None, top, f"'{top}' is not an array of tables", f"[[{top}]] tables")
                continue
            for i, item in enumerate(value):
                check_table(top, i, item)
        elif not isinstance(value, dict):
            error("", None, top, f"'{top}' is not a table", f"a [{top}] table")
        else:
            check_table(top, None, value)
    return report


def _variant_owners(schema: Schema, document: str, name: str, key: str) -> str:
    """``"type = avaya, smdr"`` when *key* is a key of other variants of table *name* (another PBX type's option)."""
    owners = [p.when[1] for p in schema.parts.get((document, name), []) if p.when and any(k.name == key for k in p.keys)]
    if not owners:
        return ""
    return f"{schema.parts[(document, name)][-1].when[0]} = " + ", ".join(sorted(set(owners)))


def check_csv_header(header: list[str], path: str | Path, schema: Schema, document: str,
                     line: int = 1) -> list[ConfigError]:
    """Every unknown and every missing required column of a CSV *header* (the *document*'s columns).

    A misspelt column is one error, with the nearest valid name; the column it stands for is not
    reported again as missing.
    """
    columns = schema.columns(document)
    names = [c.name for c in columns]
    expected = "the header " + ",".join(names)
    errors: list[ConfigError] = []
    meant: set[str] = set()
    for col in header:
        if col in names or not col:
            continue
        near = suggest(col, [n for n in names if n not in header])
        if near:
            meant.add(near)
        errors.append(ConfigError(f"unknown column '{col}'" + (f": did you mean '{near}'?" if near else ""),
                                  file=str(path), line=line, field=col, expected=expected))
    for c in columns:
        if c.required and c.name not in header and c.name not in meant:
            errors.append(ConfigError(f"missing column '{c.name}'", file=str(path), line=line, field=c.name,
                                      expected=expected))
    return errors


# --- the SPEC §3 core and the CSV documents ------------------------------------------------------------

_S = "string"
CORE: tuple[Table, ...] = (
    Table("enterprise", "Who the configuration is for, and the currency every amount is in.", (
        Key("name", _S, "The enterprise's name, shown on reports and dashboards.", required=True),
        Key("currency", _S, "ISO 4217 code; money is kept at the currency's minor unit.", "USD"),
        Key("minor_unit", "integer", "Decimals of the currency, for a code callcost does not know.",
            default_doc="the currency's (2 for USD)"),
    ), owner="warehouse.config"),
    Table("storage", "Where calls are stored. Paths are relative to the config file.", (
        Key("lake", _S, "Root folder of the Parquet lake (hive partitions calls/date=YYYY-MM-DD).", "lake"),
        Key("database", _S, "SQLAlchemy URL of the SQL database (postgresql+psycopg://… in production).",
            "sqlite:///callcost.db"),
        Key("offline", _S, "Offline store used while the database is unreachable.", "spool"),
        Key("raw_dump", _S, "Raw bytes from volatile sources (TCP, serial), for audit and replay.", "raw"),
    ), owner="warehouse.config"),
    Table("cluster", "Bulk jobs on a Dask cluster (`callcost import` and `rerate`; docs/scale-out.md).", (
        Key("address", _S, "Where `import` and `rerate` run their tasks: local:N (N worker processes on this "
                           "machine) or tcp://HOST:8786 (a dask scheduler); `--cluster` overrides it.",
            default_doc="none: one process"),
        Key("standby", "boolean", "PostgreSQL: `callcost collect` holds each PBX link through an advisory lock, "
                                  "so a second collector of this config waits as standby (false: no locks).",
            True),
    ), owner="warehouse.cluster"),
    Table("site", "A location: its time zone, calendar, numbers and how its users dial out.", (
        Key("id", _S, "Short site id, e.g. NYC; referred to by [[pbx]], [[trunk]] and the directory.", required=True),
        Key("name", _S, "Display name.", default_doc="the id"),
        Key("timezone", _S, "IANA time zone: tariff bands and report days are in this local time.", required=True),
        Key("country", _S, "ISO 3166 alpha-2 code, for normalising dialled numbers to E.164.", required=True),
        Key("holidays", _S, "`holidays` package calendar, COUNTRY or COUNTRY-SUBDIVISION (US-NY): "
                            "holiday tariff rows apply on its days.", default_doc="the country"),
        Key("main_number", _S, "The site's public E.164 number: tariff `origin` matching and the on-net reference.",
            required=True),
        Key("dids", "list of strings", "Public number ranges owned by the site, \"+12125550000-+12125559999\".", []),
        Key("extensions", "list of strings", "Internal number ranges, \"1000-1999\".", []),
        Key("access_code", _S, "Digits dialled to reach the PSTN (\"9\"), stripped before normalising.", ""),
        Key("local_prefixes", "list of strings", "E.164 prefixes that are local calls from this site (the demo's "
                                                 "traffic generator uses them; a call's category is its tariff "
                                                 "row's).", []),
        Key("voicemail_devices", "list of strings", "Globs naming the site's voicemail / auto-attendant devices: "
                                                    "a leg to one is internal, never a carrier call.", []),
    ), array=True, owner="warehouse.config"),
    Table("pbx", "A PBX and where its CDRs come from. Connector options and collector settings per PBX "
                 "are listed below it.", (
        Key("id", _S, "PBX id, e.g. nyc-cucm (`callcost import --pbx ID`).", required=True),
        Key("type", _S, "The CDR format: an installed connector (cucm, avaya, asterisk, freeswitch, smdr, "
                        "canonical-csv).", required=True),
        Key("site", _S, "Default site of the calls from this PBX.", required=True),
        Key("source", _S, "Where records arrive: folder:PATH | ftp:HOST:PORT | tcp:HOST:PORT | rsp:HOST:PORT "
                          "| serial:DEVICE?baud=9600&framing=8N1 | https:HOST:PORT | import (files only).", "import"),
    ), array=True, owner="warehouse.config"),
    Table("trunk", "How a call left or entered: a trunk / gateway / device name glob, its carrier and kind.", (
        Key("pbx", _S, "The [[pbx]] whose CDRs name this trunk.", required=True),
        Key("match", _S, "Case-sensitive glob on the trunk, gateway or device name in the CDR (NYC-PSTN-*).",
            required=True),
        Key("carrier", _S, "The [[carrier]] that bills calls over it; required for pstn and sip trunks."),
        Key("kind", _S, "pstn | sip | onnet (to another site over the WAN: cost 0 or [onnet] rate).", "pstn"),
        Key("site", _S, "Where the trunk meets the PSTN (its main_number is the tariff origin).",
            default_doc="the PBX's site"),
    ), array=True, owner="warehouse.config"),
    Table("carrier", "A carrier and its tariff.", (
        Key("id", _S, "Carrier id, referred to by [[trunk]] carrier.", required=True),
        Key("tariff", _S, "Path of its tariff CSV (see the tariff columns below).", required=True),
        Key("split", "boolean", "true: price each increment at the band in force when it starts (SPEC §5).", False),
    ), array=True, owner="warehouse.config"),
    Table("reference", "The PSTN reference tariff: what the same calls would cost on plain PSTN lines.", (
        Key("tariff", _S, "Path of the reference tariff CSV.", required=True),
    ), owner="warehouse.config"),
    Table("onnet", "On-net minutes (internal and site-to-site calls).", (
        Key("rate", "decimal string", "Cost per on-net minute.", "0.00"),
    ), owner="warehouse.config"),
    Table("directory", "Who sat at an extension, in which department, when.", (
        Key("file", _S, "Path of the directory CSV (see its columns below)."),
    ), owner="warehouse.config"),
    Table("tariff", "One row per (prefix, band, validity); the longest matching prefix wins.", (
        Key("plan", "column", "Plan name recorded on every call priced by the row.", required=True),
        Key("origin", "column", "Optional E.164 prefix (no +) of the calling site's main_number; beats an "
                                "empty origin at the same prefix length.", required=True),
        Key("prefix", "column", "E.164 destination prefix, digits without +.", required=True),
        Key("destination", "column", "Destination name.", required=True),
        Key("category", "column", "internal | local | national | mobile | international | tollfree | premium "
                                  "| emergency.", required=True),
        Key("days", "column", "all | mon-fri | sat-sun | a list like mon;wed;fri | holiday.", required=True),
        Key("time_from", "column", "Band start, local time of the originating site, HH:MM (inclusive).",
            required=True),
        Key("time_to", "column", "Band end, HH:MM, 24:00 allowed (exclusive).", required=True),
        Key("connect_fee", "column", "Decimal amount charged once per answered call.", required=True),
        Key("rate", "column", "Decimal amount per minute.", required=True),
        Key("first_increment", "column", "Seconds billed at least.", required=True),
        Key("increment", "column", "Seconds of each further billing step.", required=True),
        Key("valid_from", "column", "First day the row is in force, YYYY-MM-DD (inclusive).", required=True),
        Key("valid_to", "column", "Last day, inclusive; empty = open.", required=True),
    ), document="tariff", owner="analytics.rating.tariffs"),
    Table("directory", "One row per extension and validity period.", (
        Key("extension", "column", "Extension number.", required=True),
        Key("site", "column", "Site id of the extension.", required=True),
        Key("user", "column", "Who sits there.", required=True),
        Key("department", "column", "Department; Parent/Child paths build the chargeback hierarchy.", required=True),
        Key("cost_center", "column", "Cost centre code.", required=True),
        Key("valid_from", "column", "First day in force, YYYY-MM-DD.", required=True),
        Key("valid_to", "column", "Last day, inclusive; empty = open.", required=True),
    ), document="directory", owner="analytics.rating.directory"),
)


def core_tables() -> tuple[Table, ...]:
    """The SPEC §3 tables and the CSV documents (an entry point of ``callcost.config_schema`` like any other)."""
    return CORE


@cache
def registered_schema() -> Schema:
    """The schema of every installed area: the core and each ``callcost.config_schema`` entry point's tables."""
    tables: list[Table] = []
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name != "core", ep.name))
    for ep in eps:
        tables.extend(ep.load()())
    if not any(ep.name == "core" for ep in eps):  # not installed as a distribution: the core still counts
        tables[:0] = CORE
    return Schema(tables)


def core_schema() -> Schema:
    """The core tables alone (what the warehouse itself reads: tariff and directory columns)."""
    return Schema(CORE)
