"""Chargeback rules as data: a TOML side file of the enterprise config, read and validated here.

Why data: what an outsourced call-centre client or an internal cost centre is charged (a markup, a
surcharge per call or per minute, fixed monthly fees, a share of the trunk rental) changes with each
contract; finance edits a file, nobody edits code.  The config points at the file with
``[chargeback] rules = "chargeback.toml"`` (relative to the config); the format, the order in which
the rules apply and the rounding are documented in ``docs/billing.md``.

Every problem is reported at once (:class:`~warehouse.errors.ConfigErrors`), each naming the file,
the line and the field.  Rates are kept as integers at a fixed scale so the billing arithmetic never
touches a float: percentages at :data:`PCT_SCALE` decimals, per-call/per-minute surcharges at
:data:`RATE_SCALE` (millionths), fixed charges at the currency's minor unit.

    >>> rules = load_rules("examples/sample-enterprise/chargeback.toml", scale=2)   # doctest: +SKIP
    >>> rules.resolve("Support call centre").markup_pct                             # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from analytics.config_schema import chargeback_tables
from warehouse.config import Enterprise, find_config, load_config
from warehouse.config_schema import Schema, validate_toml
from warehouse.errors import ConfigError, ConfigErrors
from warehouse.money import MoneyFormatError, parse_scaled, scaled_to_decimal

__all__ = ["PCT_SCALE", "RATE_SCALE", "ChargebackRules", "DepartmentRule", "ExtensionCharge", "ResolvedRule",
           "TrunkCharge", "enterprise_for_lake", "load_rules", "rules_for_enterprise"]

#: Decimals kept for ``markup_pct`` ("12.5" → 125000).
PCT_SCALE = 4
#: Decimals kept for ``surcharge_per_call`` and ``surcharge_per_minute`` (millionths of the currency).
RATE_SCALE = 6

#: Rule keys a department inherits from its nearest ancestor that sets them.
INHERITED = ("markup_pct", "surcharge_per_call", "surcharge_per_minute", "fixed_per_extension", "client")


@dataclass(frozen=True)
class DepartmentRule:
    """One ``[[department]]`` (or the ``[defaults]``) as written: ``None`` means "not set here"."""

    name: str
    parent: str | None = None
    markup_pct: int | None = None  # at PCT_SCALE
    surcharge_per_call: int | None = None  # at RATE_SCALE
    surcharge_per_minute: int | None = None  # at RATE_SCALE
    fixed_per_extension: int | None = None  # minor units, once per extension per month
    fixed_monthly: int | None = None  # minor units, once per month, spread over the subtree (not inherited)
    client: str | None = None


@dataclass(frozen=True)
class ResolvedRule:
    """The rule in force for one department after inheritance; unset keys are 0 / no client."""

    markup_pct: int = 0
    surcharge_per_call: int = 0
    surcharge_per_minute: int = 0
    fixed_per_extension: int = 0
    client: str | None = None

    @property
    def markup_percent(self) -> Decimal:
        return scaled_to_decimal(self.markup_pct, PCT_SCALE).normalize()


@dataclass(frozen=True)
class ExtensionCharge:
    """A fixed monthly charge on one extension (handset rental, a licence)."""

    extension: str
    site: str | None
    amount: int  # minor units
    description: str = ""


@dataclass(frozen=True)
class TrunkCharge:
    """A fixed monthly trunk charge, spread over the calls that used the trunk, pro rata by talk time."""

    name: str
    match: str  # glob on the calls' ``trunk`` column
    pbx: str | None
    amount: int  # minor units


@dataclass(frozen=True)
class ChargebackRules:
    """All rules of one file, with the department hierarchy they describe."""

    source: Path | None = None
    defaults: DepartmentRule = field(default_factory=lambda: DepartmentRule("(defaults)"))
    departments: dict[str, DepartmentRule] = field(default_factory=dict)
    extensions: tuple[ExtensionCharge, ...] = ()
    trunk_charges: tuple[TrunkCharge, ...] = ()

    def parent_of(self, department: str) -> str | None:
        """The declared ``parent``, else the path prefix (``Sales/EMEA`` → ``Sales``), else none (a root)."""
        rule = self.departments.get(department)
        if rule is not None and rule.parent:
            return rule.parent
        head, sep, _ = department.rpartition("/")
        return head if sep and head else None

    def chain(self, department: str) -> list[str]:
        """*department* and its ancestors, nearest first."""
        seen: list[str] = []
        node: str | None = department
        while node is not None and node not in seen:
            seen.append(node)
            node = self.parent_of(node)
        return seen

    def resolve(self, department: str) -> ResolvedRule:
        """Each inherited key from the nearest of *department*, its ancestors, then ``[defaults]``."""
        rules = [self.departments[d] for d in self.chain(department) if d in self.departments] + [self.defaults]
        values: dict[str, Any] = {}
        for key in INHERITED:
            values[key] = next((getattr(r, key) for r in rules if getattr(r, key) is not None), None)
        return ResolvedRule(**{k: (v if v is not None or k == "client" else 0) for k, v in values.items()})


class _Lines:
    """Line numbers of ``[[table]]`` headers and their keys, so errors can point into the file."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")

    def __init__(self, text: str) -> None:
        self._where: dict[tuple[str, int, str | None], int] = {}
        counts: dict[str, int] = {}
        current: tuple[str, int] = ("", 0)
        for no, line in enumerate(text.splitlines(), start=1):
            h = self._HEADER.match(line)
            if h:
                name = h.group(1)
                index = counts.get(name, 0)
                counts[name] = index + 1
                current = (name, index)
                self._where[(name, index, None)] = no
                continue
            k = self._KEY.match(line)
            if k:
                self._where.setdefault((*current, k.group(1)), no)

    def line(self, table: str, index: int, key: str | None) -> int | None:
        return self._where.get((table, index, key)) or self._where.get((table, index, None))


class _Reader:
    """Collects every error of one file with its line and field."""

    def __init__(self, path: Path, text: str, scale: int) -> None:
        self.path, self.scale, self.lines = path, scale, _Lines(text)
        self.errors: list[ConfigError] = []

    def error(self, table: str, index: int, key: str | None, message: str, expected: str | None = None) -> None:
        where = f"{table}[{index}]" if table in ("department", "extension", "trunk_charge") else table
        self.errors.append(ConfigError(message, file=str(self.path), line=self.lines.line(table, index, key),
                                       field=f"{where}.{key}" if key else where, expected=expected))

    def text(self, tbl: dict, table: str, index: int, key: str, *, required: bool = False) -> str | None:
        value = tbl.get(key)
        if value is None:
            if required:
                self.error(table, index, key, "is missing", "a non-empty string")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(table, index, key, f"{value!r} is not a non-empty string", "a non-empty string")
            return None
        return value.strip()

    def number(self, tbl: dict, table: str, index: int, key: str, scale: int, *, required: bool = False,
               expected: str) -> int | None:
        value = tbl.get(key)
        if value is None:
            if required:
                self.error(table, index, key, "is missing", expected)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.error(table, index, key, f"{value!r} is not a decimal string", expected)
            return None
        try:
            scaled = parse_scaled(str(value), scale)
        except MoneyFormatError as exc:
            self.error(table, index, key, str(exc), f"{expected} ({exc.expected})")
            return None
        if scaled < 0:
            self.error(table, index, key, f"'{value}' is negative", expected)
            return None
        return scaled


def _department(r: _Reader, tbl: dict, table: str, index: int, *, named: bool) -> DepartmentRule:
    name = r.text(tbl, table, index, "name", required=True) if named else "(defaults)"
    return DepartmentRule(
        name=name or "",
        parent=r.text(tbl, table, index, "parent") if named else None,
        markup_pct=r.number(tbl, table, index, "markup_pct", PCT_SCALE, expected='a percentage like "12.5"'),
        surcharge_per_call=r.number(tbl, table, index, "surcharge_per_call", RATE_SCALE,
                                    expected='an amount per answered call like "0.05"'),
        surcharge_per_minute=r.number(tbl, table, index, "surcharge_per_minute", RATE_SCALE,
                                      expected='an amount per talk minute like "0.004"'),
        fixed_per_extension=r.number(tbl, table, index, "fixed_per_extension", r.scale,
                                     expected=f"an amount with at most {r.scale} decimals"),
        fixed_monthly=r.number(tbl, table, index, "fixed_monthly", r.scale,
                               expected=f"an amount with at most {r.scale} decimals") if named else None,
        client=r.text(tbl, table, index, "client"),
    )


def _tables(r: _Reader, raw: dict, key: str) -> list[dict]:
    items = raw.get(key, [])
    if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
        r.error(key, 0, None, f"'{key}' must be an array of tables", f"[[{key}]] blocks")
        return []
    return items


def parse_rules(text: str, path: Path, scale: int) -> ChargebackRules:
    """Validate the rules in *text* (read from *path*) for a currency of *scale* decimals."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        raise ConfigErrors([ConfigError(f"not valid TOML: {exc}", file=str(path),
                                        line=int(found.group(1)) if found else None)]) from exc
    r = _Reader(path, text, scale)
    # unknown tables and keys, with the nearest valid name: the declared schema (analytics.config_schema)
    declared = validate_toml(raw, text, path, Schema(chargeback_tables()), "chargeback").errors
    r.errors.extend(declared)
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        r.error("defaults", 0, None, "'defaults' must be a table", "[defaults]")
        defaults = {}
    default_rule = _department(r, defaults, "defaults", 0, named=False)

    departments: dict[str, DepartmentRule] = {}
    for i, tbl in enumerate(_tables(r, raw, "department")):
        rule = _department(r, tbl, "department", i, named=True)
        if rule.name in departments:
            r.error("department", i, "name", f"department '{rule.name}' has rules twice", "one [[department]] per name")
        elif rule.name:
            departments[rule.name] = rule

    extensions = []
    for i, tbl in enumerate(_tables(r, raw, "extension")):
        ext = tbl.get("extension")
        ext = str(ext).strip() if isinstance(ext, (str, int)) and not isinstance(ext, bool) else None
        if not ext:
            r.error("extension", i, "extension", "is missing", "an extension number")
        amount = r.number(tbl, "extension", i, "fixed_monthly", scale, required=True,
                          expected=f"an amount with at most {scale} decimals")
        if ext and amount is not None:
            extensions.append(ExtensionCharge(ext, r.text(tbl, "extension", i, "site"), amount,
                                              r.text(tbl, "extension", i, "description") or ""))

    trunks = []
    for i, tbl in enumerate(_tables(r, raw, "trunk_charge")):
        name = r.text(tbl, "trunk_charge", i, "name", required=True)
        match = r.text(tbl, "trunk_charge", i, "match", required=True)
        amount = r.number(tbl, "trunk_charge", i, "amount", scale, required=True,
                          expected=f"an amount with at most {scale} decimals")
        if name and match and amount is not None:
            trunks.append(TrunkCharge(name, match, r.text(tbl, "trunk_charge", i, "pbx"), amount))

    rules = ChargebackRules(path, default_rule, departments, tuple(extensions), tuple(trunks))
    for i, (name, _) in enumerate(departments.items()):
        node: str | None = name
        seen: set[str] = set()
        while node is not None:
            if node in seen:
                index = list(departments).index(name)
                r.error("department", index, "parent", f"department '{name}' is its own ancestor (a parent cycle)",
                        "a hierarchy without cycles")
                break
            seen.add(node)
            node = rules.parent_of(node)
    if r.errors:  # each mistake once: a field the schema reported (a wrong type) is not reported again
        said = {e.field for e in declared}
        raise ConfigErrors(declared + [e for e in r.errors[len(declared):] if e.field not in said])
    return rules


def load_rules(path: str | os.PathLike[str], scale: int) -> ChargebackRules:
    """Read and validate the rules file at *path* for a currency of *scale* decimals."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigErrors([ConfigError(f"cannot read chargeback rules: {exc.strerror}", file=str(path))]) from exc
    return parse_rules(text, path, scale)


def rules_for_enterprise(ent: Enterprise) -> ChargebackRules | None:
    """The rules named by the config's ``[chargeback] rules`` key (relative to the config), or ``None``."""
    section = ent.raw.get("chargeback", {})
    name = section.get("rules") if isinstance(section, dict) else None
    if not name:
        return None
    if not isinstance(name, str):
        raise ConfigErrors([ConfigError(f"{name!r} is not a path", file=str(ent.path), field="chargeback.rules",
                                        expected='a file name like "chargeback.toml"')])
    path = ent.root / name
    if not path.is_file():
        raise ConfigErrors([ConfigError(f"file not found: {path}", file=str(ent.path), field="chargeback.rules",
                                        expected="an existing chargeback rules file")])
    return load_rules(path, ent.scale)


def enterprise_for_lake(lake: str | os.PathLike[str]) -> Enterprise | None:
    """The enterprise whose ``[storage] lake`` is *lake*: ``$CALLCOST_CONFIG``/``./callcost.toml``, else the
    ``callcost.toml`` beside the lake; ``None`` when neither describes this lake.

    Reports are built from a lake path alone (:meth:`analytics.reporting.Report.build`); this is how they find
    the rules and trunk charges that belong to that lake without a second argument.
    """
    target = Path(lake).resolve()
    candidates: list[Path] = []
    try:
        candidates.append(find_config(None))
    except ConfigError:
        pass
    candidates.append(target.parent / "callcost.toml")
    for n, candidate in enumerate(candidates):
        if not candidate.is_file():
            continue
        try:
            ent = load_config(candidate)
        except ConfigErrors:
            if n == len(candidates) - 1:  # the config beside this very lake is broken: say so
                raise
            continue  # $CALLCOST_CONFIG describes some other enterprise; its problems are not this report's
        if Path(ent.storage.lake).resolve() == target:
            return ent
    return None
