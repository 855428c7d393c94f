"""The dated extension directory: who sat at an extension, in which department, when.

A call is attributed with the row in force on the day it started (site local date is not needed:
directory changes are administrative and take effect from a date; we use the UTC date of
``start_utc`` and say so).  Rows: ``extension,site,user,department,cost_center,valid_from,valid_to``
with ``valid_to`` inclusive and empty = open, like tariffs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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
    n = len(calls)
    if directory is None or directory.empty:
        for col in ("user", "department", "cost_center"):
            calls[col] = pd.Series(pd.NA, index=calls.index, dtype="str")
        return calls
    day = calls["start_utc"].dt.tz_convert(None).dt.normalize()
    probe = pd.DataFrame({"_row": np.arange(n), "extension": calls["extension"].array, "site": calls["site"].array,
                          "_day": day.array})
    probe = probe.dropna(subset=["extension"])
    keys = directory[["extension", "site", "valid_from", "valid_to"]].assign(_dir_row=np.arange(len(directory)))
    m = probe.merge(keys, on=["extension", "site"], how="inner")
    m = m[(m["valid_from"] <= m["_day"]) & (m["_day"] <= m["valid_to"])]
    m = m.sort_values("valid_from").drop_duplicates("_row", keep="last")
    # each call's directory row (-1: none), then one Arrow take per filled column
    dir_row = np.full(n, -1, dtype=np.int64)
    dir_row[m["_row"].to_numpy()] = m["_dir_row"].to_numpy()
    take = pa.array(dir_row, mask=dir_row < 0)
    for col in ("user", "department", "cost_center"):
        arr = pa.array(directory[col], type=pa.string(), from_pandas=True).take(take)
        calls[col] = pd.Series(arr.to_pandas(types_mapper={pa.string(): _STR}.get).array, index=calls.index)
    return calls


_STR = pd.StringDtype("pyarrow", na_value=np.nan)
