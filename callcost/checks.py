"""``callcost check-config``: every file the config names, validated, every problem reported at once."""

from __future__ import annotations

from pathlib import Path

from collector.connectors.base import registered_connectors
from warehouse.config import load_config
from warehouse.directory import load_directory
from warehouse.errors import ConfigError, ConfigErrors
from warehouse.tariffs import band_coverage_gaps, load_tariff


def check_enterprise(path: Path) -> tuple[list[ConfigError], list[ConfigError]]:
    """(errors, warnings) for the config at *path*, its tariffs and its directory."""
    try:
        ent = load_config(path)
    except ConfigErrors as exc:
        return list(exc.errors), []
    errors: list[ConfigError] = []
    warnings: list[ConfigError] = []
    known = registered_connectors()
    for i, pbx in enumerate(ent.pbxs.values()):
        if pbx.type not in known:
            errors.append(ConfigError(f"unknown PBX type '{pbx.type}'", file=str(ent.path), field=f"pbx[{i}].type",
                                      expected="one of " + ", ".join(sorted(known))))
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
    return errors, warnings
