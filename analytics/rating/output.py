"""Where the rating engine's chunks write their answers, and the Arrow table made from them.

Output arrays are allocated once per batch and every chunk writes its own disjoint rows (chunks run
on several threads).  The string columns are dictionary-encoded with the tariff's distinct values;
each chunk looks its rows' codes up in per-tariff-row tables.  The final table wraps the numpy
buffers without copying (validity bitmaps are packed bits), so a 10-million-call batch does not
need a second copy of its result.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.rating.tariffs import Tariff

#: unrated reasons, by code (0 = priced)
REASONS = [None, "no prefix", "no tariff version in force", "no band", "unknown site", "no answer time",
           "implausible duration"]
DICT_COLUMNS = ("plan", "prefix", "category", "destination", "band", "tariff_version")


@dataclass(frozen=True)
class RateResult:
    """Rating output aligned with the input calls; string columns are dictionary-encoded.

    Columns: ``cost_minor`` (int64 minor units, null when unrated), ``status`` (rated/unrated),
    ``reason``, ``plan``, ``prefix``, ``category``, ``destination``, ``band`` (split: the bands used,
    joined with ``+``), ``tariff_version``, ``billable_s``, ``row`` (tariff row index, for explain).
    """

    table: pa.Table

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def column_names(self) -> list[str]:
        return self.table.column_names

    def __getitem__(self, name: str) -> pa.ChunkedArray:
        return self.table[name]

    def to_pandas(self) -> pd.DataFrame:
        """Plain string columns and nullable ``Int64`` integers (no float ever stands in for a cost)."""
        cols = {}
        for name in self.table.column_names:
            col = self.table[name]
            if pa.types.is_dictionary(col.type):
                col = col.cast(pa.string())
            cols[name] = col
        return pa.table(cols).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def row_dictionaries(tariff: Tariff) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Per output string column: a code for every tariff row and the distinct values (cached)."""
    cached = tariff._cache.get("dicts")
    if cached is None:
        source = {"plan": tariff.plan, "prefix": tariff.prefix, "category": tariff.rows["category"].to_numpy(),
                  "destination": tariff.rows["destination"].to_numpy(), "band": tariff.band,
                  "tariff_version": tariff.version}
        cached = {}
        for name, values in source.items():
            codes, uniq = pd.factorize(np.asarray(values, dtype=object))
            cached[name] = (codes.astype(np.int32), pa.array(list(uniq), pa.string()))
        tariff._cache["dicts"] = cached
    return cached


class RatingOutput:
    """The batch's result columns; ``store`` is called once per chunk, ``result`` once at the end."""

    def __init__(self, n: int, tariff: Tariff) -> None:
        self.n = n
        self.dicts = row_dictionaries(tariff)
        self.cost = np.empty(n, dtype=np.int64)
        self.reason = np.empty(n, dtype=np.int8)  # also the `reason` dictionary's indices
        self.row = np.empty(n, dtype=np.int64)  # -1: no tariff row (unrated or unanswered)
        self.billable = np.empty(n, dtype=np.int64)
        self.codes = {name: np.empty(n, dtype=np.int32) for name in DICT_COLUMNS}
        self.band_seqs: list[tuple[int, ...]] = []  # split: id n_bands + j → band codes used, in order
        self._seq_id: dict[tuple[int, ...], int] = {}
        self._lock = threading.Lock()

    def band_sequence(self, pair: tuple[int, int], n_bands: int) -> int:
        """Id of (name id so far, next band code): single bands are their own code, sequences follow."""
        base, band = pair
        with self._lock:  # chunks rated on several threads share the sequence table
            key = (self.band_seqs[base - n_bands] if base >= n_bands else (base,)) + (band,)
            if key not in self._seq_id:
                self._seq_id[key] = n_bands + len(self.band_seqs)
                self.band_seqs.append(key)
            return self._seq_id[key]

    def store(self, rows: slice | np.ndarray, reason: np.ndarray, cost: np.ndarray, billable: np.ndarray,
              row: np.ndarray, band_combo: np.ndarray | None) -> None:
        """Write one chunk's answers (*row* -1 = no tariff row; *band_combo* -1 = the row's own band)."""
        self.cost[rows] = cost
        self.reason[rows] = reason
        self.row[rows] = row
        self.billable[rows] = billable
        r = np.maximum(row, 0)
        for name in DICT_COLUMNS:
            table = self.dicts[name][0]
            idx = table[r] if len(table) else np.zeros(len(r), dtype=np.int32)
            if name == "band" and band_combo is not None:
                idx = np.where(band_combo >= 0, band_combo, idx)
            self.codes[name][rows] = idx

    def result(self) -> RateResult:
        rated = self.reason == 0
        has_row = self.row >= 0  # only priced calls carry a row
        cols: dict[str, pa.Array] = {
            "cost_minor": _wrap(pa.int64(), self.cost, rated),
            "status": pa.DictionaryArray.from_arrays(_wrap(pa.int8(), (~rated).view(np.int8), None),
                                                     pa.array(["rated", "unrated"]), safe=False),
            "reason": pa.DictionaryArray.from_arrays(_wrap(pa.int8(), self.reason, ~rated),
                                                     pa.array(REASONS, pa.string()), safe=False),
        }
        for name in DICT_COLUMNS:
            values = self.dicts[name][1]
            if name == "band" and self.band_seqs:
                names = values.to_pylist()
                extra = ["+".join(names[b] for b in seq) for seq in self.band_seqs]
                values = pa.array(names + extra, pa.string())
            cols[name] = pa.DictionaryArray.from_arrays(_wrap(pa.int32(), self.codes[name], has_row), values,
                                                        safe=False)
        cols["billable_s"] = _wrap(pa.int64(), self.billable, self.billable >= 0)
        cols["row"] = _wrap(pa.int64(), self.row, has_row)
        return RateResult(pa.table(cols))


def _wrap(typ: pa.DataType, values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """A numpy buffer as an Arrow array without copying; *valid* False → null."""
    if valid is None or valid.all():
        return pa.Array.from_buffers(typ, len(values), [None, pa.py_buffer(values)])
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(typ, len(values), [bitmap, pa.py_buffer(values)], null_count=-1)
