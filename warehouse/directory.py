"""The dated extension directory: who sat at an extension, in which department, when.

A call is attributed with the row in force on the day it started (site local date is not needed:
directory changes are administrative and take effect from a date; we use the UTC date of
``start_utc`` and say so).  Rows: ``extension,site,user,department,cost_center,valid_from,valid_to``
with ``valid_to`` inclusive and empty = open, like tariffs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from warehouse.errors import ConfigError, ConfigErrors

COLUMNS = ["extension", "site", "user", "department", "cost_center", "valid_from", "valid_to"]
OPEN_END = pd.Timestamp("2262-04-11")


def load_directory(path: Path) -> pd.DataFrame:
    """Read and validate the directory CSV; every bad row is reported with its line and field."""
    try:
        raw = pd.read_csv(path, dtype="str", keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise ConfigErrors([ConfigError(f"cannot read directory: {exc}", file=str(path))]) from exc
    errors: list[ConfigError] = []
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ConfigErrors(
            [ConfigError(f"missing column(s) {', '.join(missing)}", file=str(path), line=1, expected=",".join(COLUMNS))]
        )
    frm = pd.to_datetime(raw["valid_from"], format="%Y-%m-%d", errors="coerce")
    to = pd.to_datetime(raw["valid_to"].replace("", None), format="%Y-%m-%d", errors="coerce")
    for idx in raw.index[frm.isna()]:
        errors.append(ConfigError(f"'{raw.at[idx, 'valid_from']}' is not a date", file=str(path), line=idx + 2,
                                  field="valid_from", expected="YYYY-MM-DD"))
    bad_to = to.isna() & (raw["valid_to"] != "")
    for idx in raw.index[bad_to]:
        errors.append(ConfigError(f"'{raw.at[idx, 'valid_to']}' is not a date", file=str(path), line=idx + 2,
                                  field="valid_to", expected="YYYY-MM-DD or empty"))
    for idx in raw.index[(raw["extension"] == "")]:
        errors.append(ConfigError("is empty", file=str(path), line=idx + 2, field="extension", expected="an extension number"))
    if errors:
        raise ConfigErrors(errors)
    out = raw[COLUMNS[:5]].copy()
    out["valid_from"] = frm
    out["valid_to"] = to.fillna(OPEN_END)
    return out


def attribute(calls: pd.DataFrame, directory: pd.DataFrame | None) -> pd.DataFrame:
    """Fill ``user``, ``department``, ``cost_center`` from the row in force when each call started."""
    calls = calls.copy()
    for col in ("user", "department", "cost_center"):
        calls[col] = pd.Series(pd.NA, index=calls.index, dtype="str")
    if directory is None or directory.empty:
        return calls
    day = calls["start_utc"].dt.tz_convert(None).dt.normalize()
    probe = pd.DataFrame({"_row": calls.index, "extension": calls["extension"], "site": calls["site"], "_day": day})
    probe = probe.dropna(subset=["extension"])
    m = probe.merge(directory, on=["extension", "site"], how="inner")
    m = m[(m["valid_from"] <= m["_day"]) & (m["_day"] <= m["valid_to"])]
    m = m.sort_values("valid_from").drop_duplicates("_row", keep="last").set_index("_row")
    for col in ("user", "department", "cost_center"):
        calls.loc[m.index, col] = m[col]
    return calls
