"""``callcost check-config``: every file the config names, validated, every problem reported once.

The same check guards the verbs that run unattended: ``collect``, ``import`` and ``schedule run`` /
``check-alerts`` refuse to start on a config that fails it (:func:`checked_enterprise`), so a typo is
found at deploy time with file, line and field, not as data stored in the wrong place.

Order: the declared schema first (:mod:`warehouse.config_schema`: unknown tables and keys with the
nearest valid name, wrong TOML types), then what each area checks about the values.  An error on a
field the schema already reported is the same mistake and is not repeated, nor is an identical error
found for several PBXs.  Some problems block only one verb: ``[alerts]`` without ``[smtp]`` stops
``callcost schedule`` (alerts could not be mailed) but not a fraud-watch report; ``check-config`` shows
them as warnings naming the verb.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analytics.chargeback_rules import rules_for_enterprise
from analytics.rating.chains import ChainPolicy
from analytics.rating.directory import load_directory
from analytics.rating.index import band_coverage_gaps
from analytics.rating.tariffs import load_tariff
from collector.connectors.base import connector_for, registered_connectors
from collector.importer import pbx_context
from collector.remote.settings import remote_settings
from collector.settings import settings_for
from collector.transports.base import registered_transports
from collector.transports.https import https_settings
from analytics.reporting import registered_reports
from reports.settings import alert_settings, schedule_settings, smtp_settings
from warehouse.config import Enterprise, load_config
from warehouse.config_schema import TomlLines, registered_schema, suggest, validate_toml
from warehouse.errors import ConfigError, ConfigErrors

#: The verbs that refuse to start on a config with errors (and on the problems that block them).
GUARDED_VERBS = ("collect", "import", "schedule")


@dataclass
class CheckResult:
    """What :func:`check` found about one config and the files it names."""

    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)
    #: verb → problems that stop only that verb (``schedule``: alerts that cannot be mailed)
    blocking: dict[str, list[ConfigError]] = field(default_factory=dict)
    ent: Enterprise | None = None

    def errors_for(self, verb: str | None) -> list[ConfigError]:
        """The errors that stop *verb* (every verb: ``errors``; plus the ones that block it alone)."""
        return self.errors + (self.blocking.get(verb, []) if verb else [])


def check(path: Path, *, warnings: bool = True) -> CheckResult:
    """Validate the config at *path*, its tariffs, directory, chargeback rules and every area's tables.

    ``warnings=False`` skips what can only warn (gaps in the tariffs' bands, which builds each tariff's
    lookup index: ~1 s on the sample): the verbs that only need to know whether to start.
    """
    path = Path(path).resolve()  # every error names the file alike, so the same mistake is said once
    result = CheckResult()
    schema_errors, misspelt = _schema_problems(path)
    try:
        ent = load_config(path)
    except ConfigErrors as exc:
        result.errors = _once(schema_errors, list(exc.errors), misspelt)
        return result
    result.ent = ent
    errors, found = _area_problems(ent, warnings=warnings)
    result.errors = _once(schema_errors, errors, misspelt)
    result.warnings = found
    if alert_settings_or_none(ent) and ent.raw.get("smtp") is None:
        result.blocking["schedule"] = [ent.config_error(
            "alerts", None, None, "the alerts table is set but the smtp table is not: alerts cannot be mailed, "
            "so `callcost schedule run` and `schedule check-alerts` refuse to start",
            "an smtp table (see docs/reports.md), or no alerts table")]
    return result


def check_enterprise(path: Path) -> tuple[list[ConfigError], list[ConfigError]]:
    """(errors, warnings) for the config at *path*; a problem that blocks one verb only is a warning here."""
    result = check(path)
    return result.errors, [*result.warnings, *(e for errs in result.blocking.values() for e in errs)]


def checked_enterprise(path: Path, verb: str) -> Enterprise:
    """The config at *path* for *verb*, or ``ConfigErrors`` with every problem that stops it."""
    result = check(path, warnings=False)
    problems = result.errors_for(verb)
    if problems or result.ent is None:
        raise ConfigErrors(problems)
    return result.ent


def alert_settings_or_none(ent: Enterprise) -> object | None:
    """The ``[alerts]`` settings, None when absent or invalid (invalid ones are reported as errors)."""
    try:
        return alert_settings(ent)
    except (ConfigError, ConfigErrors):
        return None


def _schema_problems(path: Path) -> tuple[list[ConfigError], set[str]]:
    """The declared schema's errors for the TOML at *path* (none if it cannot be read: load_config says why)."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return [], set()
    report = validate_toml(raw, text, path, registered_schema())
    return report.errors + _pbx_types(raw, text, path), report.misspelt


def _pbx_types(raw: dict, text: str, path: Path) -> list[ConfigError]:
    """An unknown ``[[pbx]] type`` with its line and the nearest installed connector (``cucmm`` → ``cucm``)."""
    known = registered_connectors()
    lines = TomlLines(text)
    errors = []
    items = raw.get("pbx", [])
    for i, pbx in enumerate(items if isinstance(items, list) else []):
        ptype = pbx.get("type") if isinstance(pbx, dict) else None
        if isinstance(ptype, str) and ptype and ptype not in known:
            near = suggest(ptype, known)
            errors.append(ConfigError(f"unknown PBX type '{ptype}'" + (f": did you mean '{near}'?" if near else ""),
                                      file=str(path), line=lines.line("pbx", i, "type"), field=f"pbx[{i}].type",
                                      expected="one of " + ", ".join(sorted(known))))
    return errors


def _once(first: list[ConfigError], then: list[ConfigError], misspelt: set[str]) -> list[ConfigError]:
    """*first*, then each error of *then* not already said: not on a field *first* reports, not about a key
    that a reported misspelling stands for (it is missing because it is misspelt), not identical to one before."""
    seen_fields = {(e.file, e.field) for e in first}
    out, seen = list(first), {str(e) for e in first}
    for e in then:
        if (e.file, e.field) in seen_fields or str(e) in seen:
            continue
        if e.field in misspelt:  # "timezone is missing" after "timzone: did you mean 'timezone'?"
            continue
        out.append(e)
        seen.add(str(e))
    return out


def _area_problems(ent: Enterprise, *, warnings: bool) -> tuple[list[ConfigError], list[ConfigError]]:
    errors: list[ConfigError] = []
    found: list[ConfigError] = []
    known = registered_connectors()
    schemes = registered_transports()
    for i, pbx in enumerate(ent.pbxs.values()):
        if pbx.source_kind != "import" and pbx.source_kind not in schemes:
            errors.append(ent.config_error("pbx", i, "source", f"unknown source '{pbx.source}'",
                                           " | ".join([f"{k}:…" for k in sorted(schemes)] + ["import"])))
            continue
        if pbx.type not in known:
            continue  # reported by _schema_problems, with its line, before the config is loaded
        errors.extend(_located(ent, i, _problems(lambda: connector_for(pbx.type, pbx_context(ent, pbx.id)))))
        settings_errors = _located(ent, i, _problems(lambda: settings_for(ent, pbx)))
        errors.extend(settings_errors)
        if pbx.source_kind == "https" and not settings_errors:  # a centre taking remote units: cert, key, token
            errors.extend(_problems(lambda: https_settings(ent, pbx)))
    if "remote" in ent.raw:  # a remote unit (`callcost collect --remote-unit`): centre URL, CA file, token
        errors.extend(_problems(lambda: remote_settings(ent).token()))
    tariffs = [ent.reference_tariff] + [c.tariff for c in ent.carriers.values()]
    for tpath in tariffs:
        try:
            tariff = load_tariff(tpath, scale=ent.scale)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        if warnings:
            found.extend(band_coverage_gaps(tariff))
    if ent.directory_file:
        try:
            load_directory(ent.directory_file)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
    # side files and tables read by other areas: validated now, not at the first scheduled run
    errors.extend(_problems(lambda: rules_for_enterprise(ent)))
    errors.extend(_problems(lambda: ChainPolicy.from_config(ent)))  # [chains]
    errors.extend(_problems(lambda: smtp_settings(ent)))
    errors.extend(_problems(lambda: alert_settings(ent)))
    errors.extend(_problems(lambda: schedule_settings(ent, set(registered_reports()))))
    return errors, found


def _located(ent: Enterprise, index: int, errors: list[ConfigError]) -> list[ConfigError]:
    """*errors* about the *index*-th ``[[pbx]]`` (or ``[collector]``) given the config's file, line and field."""
    out = []
    for e in errors:
        fld = e.field or ""
        if e.file is not None and e.line is not None:
            out.append(e)
        elif fld.startswith("collector."):
            out.append(ent.config_error("collector", None, fld.split(".", 1)[1], e.message, e.expected))
        else:  # a connector option ("layout") or a per-PBX setting ("pbx 'nyc-cucm'.poll_s")
            key = fld.rsplit(".", 1)[-1] if fld.startswith("pbx") else fld
            out.append(ent.config_error("pbx", index, key or None, e.message, e.expected))
    return out


def _problems(load: Callable[[], object]) -> list[ConfigError]:
    """The located errors *load* raises (none when it succeeds)."""
    try:
        load()
    except ConfigErrors as exc:
        return list(exc.errors)
    except ConfigError as exc:
        return [exc]
    return []
