"""The stages every CDR goes through after its connector, whatever the source (file import, live link, replay):

    parsed calls ──classify──▶ ──attribute (directory)──▶ ──price──▶ rated calls ──store──▶ SQL DB + lake

``RatingStage`` holds what is loaded once (tariffs, directory); ``rate_batch`` is a pure function of
a batch, so the collector can run it on its own worker and ``callcost rerate`` can run it again on
stored calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.classify import classify
from warehouse.config import Enterprise
from warehouse.directory import attribute, load_directory
from warehouse.pricing import Pricer
from warehouse.schema import PARSED_SCHEMA, calls_schema, conform

MONEY = {"actual_cost": "_actual_minor", "reference_cost": "_reference_minor", "savings": "_savings_minor"}


def minor_to_decimal(values: pd.Series, scale: int) -> pa.Array:
    """Integer minor units (nullable) → exact ``decimal128(18, scale)``: the unscaled value *is* the integer."""
    mask = values.isna().to_numpy()
    ints = values.fillna(0).to_numpy(dtype="int64")
    words = np.empty((len(ints), 2), dtype="<i8")
    words[:, 0] = ints
    words[:, 1] = ints >> 63  # sign extension into the high 64 bits
    validity = pa.array(~mask).buffers()[1] if mask.any() else None
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(ints), [validity, pa.py_buffer(words.tobytes())],
                                 null_count=int(mask.sum()))


@dataclass
class RatingStage:
    """Classify, attribute and price parsed calls for one enterprise."""

    ent: Enterprise
    pricer: Pricer = field(init=False)

    def __post_init__(self) -> None:
        self.pricer = Pricer(self.ent)

    @cached_property
    def directory(self) -> pd.DataFrame | None:
        return load_directory(self.ent.directory_file) if self.ent.directory_file else None

    def rate_batch(self, parsed: pa.Table) -> pa.Table:
        """PARSED_SCHEMA rows in, ``calls_schema(scale)`` rows out (one per input row, same order)."""
        schema = calls_schema(self.ent.scale)
        if parsed.num_rows == 0:
            return schema.empty_table()
        df = conform(parsed.select([c for c in parsed.column_names if c in PARSED_SCHEMA.names]), PARSED_SCHEMA)
        frame = df.to_pandas(types_mapper=_types_mapper)
        frame = classify(frame, self.ent)
        frame = attribute(frame, self.directory)
        frame = self.pricer.price(frame)
        return to_arrow(frame, schema)


def _types_mapper(t: pa.DataType):
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype("pyarrow", na_value=np.nan)
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    return None


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A rated frame → the stored schema, money converted exactly from integer minor units."""
    scale = schema.field("actual_cost").type.scale
    arrays = []
    for f in schema:
        if f.name in MONEY:
            arrays.append(minor_to_decimal(frame[MONEY[f.name]], scale))
        elif f.name in frame.columns:
            arrays.append(pa.array(frame[f.name], type=f.type, from_pandas=True))
        else:
            arrays.append(pa.nulls(len(frame), f.type))
    return pa.Table.from_arrays(arrays, schema=schema)
