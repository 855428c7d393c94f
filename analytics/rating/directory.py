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
import pyarrow.compute as pc

from warehouse.config_schema import check_csv_header, core_schema
from warehouse.errors import ConfigError, ConfigErrors

#: The columns, as declared in the config schema (warehouse.config_schema).
COLUMNS = [c.name for c in core_schema().columns("directory")]
OPEN_END = pd.Timestamp("2262-04-11")


def load_directory(path: Path) -> pd.DataFrame:
    """Read and validate the directory CSV; every bad row is reported with its line and field."""
    try:
        raw = pd.read_csv(path, dtype="str", keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise ConfigErrors([ConfigError(f"cannot read directory: {exc}", file=str(path))]) from exc
    errors: list[ConfigError] = []
    header = check_csv_header([str(c).strip() for c in raw.columns], path, core_schema(), "directory")
    if header:  # a misspelt column would leave every row unattributed: say which, with the nearest name
        raise ConfigErrors(header)
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
    if directory is None or directory.empty:
        for col in ("user", "department", "cost_center"):
            calls[col] = pd.Series(pd.NA, index=calls.index, dtype="str")
        return calls
    index = DirectoryIndex(directory)
    day = calls["start_utc"].dt.tz_convert(None).to_numpy(dtype="datetime64[D]").astype(np.int64)
    rows = index.rows_for(pa.array(calls["extension"], pa.string(), from_pandas=True),
                          pa.array(calls["site"], pa.string(), from_pandas=True), day)
    for col, arr in index.columns(rows).items():
        calls[col] = pd.Series(arr.to_pandas(types_mapper={pa.string(): _STR}.get).array, index=calls.index)
    return calls


class DirectoryIndex:
    """The directory arranged for vectorised lookups: each (extension, site) key's rows by ``valid_from``.

    Why not a merge: a merge of every call (or every distinct extension/site/day) with the directory
    costs milliseconds per batch in pandas; here a call's key is found by one Arrow hash lookup
    (``index_in``) and its rows are tried in ``valid_from`` order, one vectorised pass per row a key
    has (one or two for nearly every extension) — the last row in force wins, as in the directory's
    own rule (a later ``valid_from`` takes over).
    """

    def __init__(self, directory: pd.DataFrame) -> None:
        order = np.lexsort((directory["valid_from"].to_numpy(), directory["site"].to_numpy(dtype=object),
                            directory["extension"].to_numpy(dtype=object)))
        keys = pc.binary_join_element_wise(
            pa.array(directory["extension"], pa.string(), from_pandas=True),
            pa.array(directory["site"], pa.string(), from_pandas=True), _SEP).take(pa.array(order))
        codes, uniq = pd.factorize(np.asarray(keys.to_numpy(zero_copy_only=False), dtype=object))
        self._keys = pa.array(uniq, pa.string())
        self.rows = order.astype(np.int64)  # directory rows, grouped by key, by valid_from within a key
        counts = np.bincount(codes, minlength=len(uniq))
        self.first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.count = counts.astype(np.int64)
        self.valid_from = directory["valid_from"].to_numpy(dtype="datetime64[D]").astype(np.int64)
        self.valid_to = directory["valid_to"].to_numpy(dtype="datetime64[D]").astype(np.int64)
        self._columns = {c: pa.array(directory[c], pa.string(), from_pandas=True)
                         for c in ("user", "department", "cost_center")}

    def rows_for(self, extension: pa.Array | pa.ChunkedArray, site: pa.Array | pa.ChunkedArray,
                 day: np.ndarray) -> np.ndarray:
        """The directory row in force for each call (UTC day number *day*), -1 where none is."""
        key = pc.binary_join_element_wise(extension, site, _SEP)
        code = pc.index_in(key, value_set=self._keys)
        code = np.asarray(pc.fill_null(code, -1).to_numpy(zero_copy_only=False), np.int64)
        out = np.full(len(code), -1, np.int64)
        known = np.flatnonzero(code >= 0)
        if not len(known):
            return out
        k, d = code[known], day[known]
        for j in range(int(self.count[k].max())):
            has = self.count[k] > j
            row = self.rows[np.where(has, self.first[k] + j, 0)]
            hit = has & (self.valid_from[row] <= d) & (d <= self.valid_to[row])
            out[known[hit]] = row[hit]
        return out

    def columns(self, rows: np.ndarray) -> dict[str, pa.Array]:
        """``user``, ``department``, ``cost_center`` of directory rows *rows* (null where -1)."""
        take = pa.array(rows, mask=rows < 0)
        return {c: arr.take(take) for c, arr in self._columns.items()}


_SEP = "\x1f"  # cannot occur in an extension or site id
_STR = pd.StringDtype("pyarrow", na_value=np.nan)
