"""The stages every CDR goes through after its connector, whatever the source (file import, live link, replay):

    parsed calls ──classify──▶ ──attribute (directory)──▶ ──price──▶ rated calls ──store──▶ SQL DB + lake

``RatingStage`` holds what is loaded once (tariffs, directory); ``rate_batch`` is a pure function of
a batch, so the collector can run it on its own worker and ``callcost rerate`` can run it again on
stored calls.  The batch stays Arrow from end to end (no pandas frame): a CDR's CPU budget at
300k CDRs/s on two cores is a few microseconds for *everything*, parsing and Parquet included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.rating.chains import ChainPolicy, stitch
from analytics.rating.classify import Classified, classify_table
from warehouse.config import Enterprise
from analytics.rating.directory import DirectoryIndex, load_directory
from analytics.rating.pricing import Pricer
from warehouse.schema import PARSED_SCHEMA, calls_schema, conform


@dataclass
class RatingStage:
    """Classify, attribute and price parsed calls for one enterprise."""

    ent: Enterprise
    pricer: Pricer = field(init=False)

    chains: ChainPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.pricer = Pricer(self.ent)
        self.chains = ChainPolicy.from_config(self.ent)

    @cached_property
    def directory(self) -> pd.DataFrame | None:
        return load_directory(self.ent.directory_file) if self.ent.directory_file else None

    def rate_batch(self, parsed: pa.Table, *, marks_features: bool = False) -> pa.Table:
        """PARSED_SCHEMA rows in, ``calls_schema(scale)`` rows out (one per input row, same order).

        Arrow end to end: the parsed columns the stages do not change are passed through untouched,
        classification and pricing work on integer codes and return Arrow arrays.  The legs of one
        conversation are then stitched into chains and each carrier call is priced once
        (``analytics.rating.chains``), unless ``[chains] enabled = false``.  *marks_features*: the rows come
        from a connector that marks every leg of a multi-leg scenario (only those legs are linked).
        """
        rated = self.rate_legs(parsed)
        if not self.chains.enabled:
            return rated
        return stitch(rated, self.chains, self.rate_legs, marks_features=marks_features)

    def rate_legs(self, parsed: pa.Table) -> pa.Table:
        """``rate_batch`` without the chains: every row priced as a call of its own."""
        schema = calls_schema(self.ent.scale)
        if parsed.num_rows == 0:
            return schema.empty_table()
        parsed = conform(parsed.select([c for c in parsed.column_names if c in PARSED_SCHEMA.names]), PARSED_SCHEMA)
        classified = classify_table(parsed, self.ent)
        columns = self.pricer.price(classified, parsed)
        columns.update(self._attribute(parsed, classified))
        arrays = []
        for f in schema:
            if f.name in columns:
                col = columns[f.name]
            elif f.name in _CLASSIFIED:
                col = classified.column(f.name)
            elif f.name in PARSED_SCHEMA.names:
                col = parsed.column(f.name)
            else:
                col = pa.nulls(parsed.num_rows, f.type)
            arrays.append(col if col.type == f.type else col.cast(f.type))
        return pa.Table.from_arrays(arrays, schema=schema)

    @cached_property
    def directory_index(self) -> DirectoryIndex | None:
        directory = self.directory
        return None if directory is None or directory.empty else DirectoryIndex(directory)

    def _attribute(self, parsed: pa.Table, c: Classified) -> dict[str, pa.Array]:
        """``user``, ``department``, ``cost_center`` from the directory row in force on each call's UTC day."""
        index = self.directory_index
        if index is None:
            return {name: pa.nulls(parsed.num_rows, pa.string()) for name in ("user", "department", "cost_center")}
        day = pc.fill_null(pc.cast(parsed.column("start_utc"), pa.int64()), 0).to_numpy(zero_copy_only=False) // 86_400
        return index.columns(index.rows_for(c.extension, c.site, day))


#: Output columns the classification decides.
_CLASSIFIED = frozenset({"site", "direction", "call_type", "dest_site", "trunk_site", "carrier",
                         "connected_number_e164", "dest_country", "extension"})
