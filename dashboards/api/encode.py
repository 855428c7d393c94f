"""Figures to JSON: money as exact decimal strings, minutes to 0.01, times as ISO 8601 UTC.

Why strings for money: a JSON number is a binary float in most clients (JavaScript, ``json.loads``
without ``parse_float``), and 0.1 + 0.2 is not 0.3; ``"48210.37"`` is exactly what the lake holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa

from analytics.savings import BREAKDOWN_COLUMNS

__all__ = ["MONEY", "breakdown_rows", "figures", "jsonable", "table_rows"]

MONEY = ("actual_cost", "reference_cost", "savings")
_COUNTS = ("calls", "unrated_calls")


def jsonable(value: Any) -> Any:
    """One value as JSON carries it exactly: Decimal → str, datetime → ``…Z``, NaN/None → null."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return None if value.is_nan() else str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):  # pandas' missing value in an object column
        return None if value != value else value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def figures(values: Mapping[str, Any], scale: int) -> dict[str, Any]:
    """The six figures of a breakdown row or a total, exact: counts as integers, money at *scale* places."""
    quantum, hundredth = Decimal(1).scaleb(-scale), Decimal("0.01")
    out: dict[str, Any] = {}
    for name in BREAKDOWN_COLUMNS:
        value = values.get(name, 0)
        if name in _COUNTS:
            out[name] = int(value or 0)
        elif name == "minutes":
            out[name] = str(Decimal(value or 0).quantize(hundredth))
        else:
            out[name] = str(Decimal(value or 0).quantize(quantum))
    return out


def breakdown_rows(frame: pd.DataFrame, by: str, scale: int) -> list[dict[str, Any]]:
    """A breakdown (the group is the index, ``savings_by``'s shape) as a list of ``{by: …, figures…}``."""
    return [{by: str(key), **figures(row, scale)} for key, row in zip(frame.index, frame.to_dict("records"))]


def table_rows(table: pa.Table, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Arrow rows (calls) as JSON objects in column order."""
    names = list(columns) if columns is not None else table.column_names
    return [{k: jsonable(row[k]) for k in names} for row in table.select(names).to_pylist()]
