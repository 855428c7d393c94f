"""``callcost check-config``: every file the config names, validated, every problem reported at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analytics.chargeback_rules import rules_for_enterprise
from collector.connectors.base import connector_for, registered_connectors
from collector.importer import pbx_context
from collector.remote.settings import remote_settings
from collector.settings import settings_for
from collector.transports.base import registered_transports
from collector.transports.https import https_settings
from analytics.reporting import registered_reports
from reports.settings import alert_settings, schedule_settings, smtp_settings
from warehouse.config import load_config
from analytics.rating.directory import load_directory
from warehouse.errors import ConfigError, ConfigErrors
from analytics.rating.index import band_coverage_gaps
from analytics.rating.tariffs import load_tariff


def check_enterprise(path: Path) -> tuple[list[ConfigError], list[ConfigError]]:
    """(errors, warnings) for the config at *path*, its tariffs and its directory."""
    try:
        ent = load_config(path)
    except ConfigErrors as exc:
        return list(exc.errors), []
    errors: list[ConfigError] = []
    warnings: list[ConfigError] = []
    known = registered_connectors()
    schemes = registered_transports()
    for i, pbx in enumerate(ent.pbxs.values()):
        if pbx.source_kind != "import" and pbx.source_kind not in schemes:
            errors.append(ent.config_error("pbx", i, "source", f"unknown source '{pbx.source}'",
                                           " | ".join([f"{k}:…" for k in sorted(schemes)] + ["import"])))
            continue
        if pbx.type not in known:
            errors.append(ConfigError(f"unknown PBX type '{pbx.type}'", file=str(ent.path), field=f"pbx[{i}].type",
                                      expected="one of " + ", ".join(sorted(known))))
            continue
        errors.extend(_problems(lambda: connector_for(pbx.type, pbx_context(ent, pbx.id))))
        settings_errors = _problems(lambda: settings_for(ent, pbx))
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
        warnings.extend(band_coverage_gaps(tariff))
    if ent.directory_file:
        try:
            load_directory(ent.directory_file)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
    # side files and tables read by other areas: validated now, not at the first scheduled run
    errors.extend(_problems(lambda: rules_for_enterprise(ent)))
    errors.extend(_problems(lambda: smtp_settings(ent)))
    errors.extend(_problems(lambda: alert_settings(ent)))
    errors.extend(_problems(lambda: schedule_settings(ent, set(registered_reports()))))
    return errors, warnings


def _problems(load: Callable[[], object]) -> list[ConfigError]:
    """The located errors *load* raises (none when it succeeds)."""
    try:
        load()
    except ConfigErrors as exc:
        return list(exc.errors)
    except ConfigError as exc:
        return [exc]
    return []
