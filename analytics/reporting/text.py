"""The plain formats of a report: CSV (one table, machine-readable), JSON (everything) and fixed-width text.

Money stays exact here: CSV and JSON carry decimal *strings* (JSON has no decimal type, a float would
lose the cent), and the text form prints money at the currency's scale with thousands separators.
Unknown values (an unrated call's cost) are empty in CSV, ``null`` in JSON and ``—`` in text: never 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import csv
import json
from datetime import datetime
from decimal import Decimal
from json import encoder as _json
from pathlib import Path

import pandas as pd

from analytics.reporting.formatting import format_value, plain

if TYPE_CHECKING:  # annotations only
    from analytics.reporting.model import Listing, ReportData, ReportTable


__all__ = ["listing_records", "table_text", "write_csv", "write_json", "write_txt"]


def write_csv(data: ReportData, path: Path) -> None:
    """The primary table, one line per row then the Total; currency in its own column."""
    table = data.primary_table()
    keys = [k for k, _, _ in table.value_columns()]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([table.columns[0][0], *keys, "row_kind", "currency"])
        for r in table.rows:
            w.writerow([r.label, *("" if r.values.get(k) is None else plain(r.values[k]) for k in keys),
                        r.kind, data.currency])


def listing_records(listing: Listing) -> list[str]:
    """A listing as JSON objects, one text per row, built a column at a time (100,000 calls in well under a
    second; ``json.dumps(..., indent=2)`` of the records takes seconds in pure Python).

    Each row reads exactly as ``json.dumps(record, indent=2, ensure_ascii=False)`` nested two levels
    deep would write it: timestamps as ISO text, money as exact decimal strings or ``null``.
    """
    frame = listing.frame
    if not len(frame):  # an empty period: no rows (an empty column has no text type to add to)
        return []
    keys = [k for k, _, _ in listing.columns] + list(listing.carry)
    parts: list = []
    for n, key in enumerate(keys):
        values = frame[key]
        text = _json_column(values)
        parts.append(f'{"," if n else ""}\n      {_string(key)}: ' + text)
    if not parts:
        return ["{}"] * len(frame)
    rows = parts[0].radd("{")
    for part in parts[1:]:
        rows = rows + part
    return (rows + "\n    }").tolist()


def _json_column(values: pd.Series) -> pd.Series:
    """A column's values as JSON text; the common column types without a Python call per value's type."""
    if values.dtype.kind == "M":
        return values.map(lambda t: _string(t.isoformat()))
    if values.dtype.kind in "iu":
        return values.astype(str)
    if values.dtype.kind == "b":
        return values.map({True: "true", False: "false"})
    kinds = set(map(type, values))
    if kinds == {str}:
        return values.map(_string)
    return values.map(_json_value)


def _string(text: str) -> str:
    return _json.encode_basestring(text)


def _json_value(value: object) -> str:
    """One value as ``json.dumps(..., ensure_ascii=False, default=str)`` writes it."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _json.JSONEncoder().encode(value)
    if isinstance(value, Decimal):
        return _string(str(value))
    if hasattr(value, "item"):  # a numpy scalar
        return _json_value(value.item())
    return _string(str(value))


def write_json(data: ReportData, path: Path) -> None:
    """Every table and figure, then each listing; money as exact decimal strings."""
    doc = {
        "report": data.name, "title": data.title, "period": data.period, "currency": data.currency,
        "generated_at": data.generated_at.isoformat(), "notes": list(data.notes),
        "headline": {f.label: plain(f.value) for f in data.headline},
        "tables": {key: [{"label": r.label, "kind": r.kind, **{k: plain(v) for k, v in r.values.items()}}
                         for r in t.rows] for key, t in data.tables.items()},
        "extra": {k: plain(v) for k, v in data.extra.items() if isinstance(v, (str, int, Decimal, datetime))},
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if data.listings:
        listed = []
        for key, listing in data.listings.items():
            records = listing_records(listing)
            body = "[\n    " + ",\n    ".join(records) + "\n  ]" if records else "[]"
            listed.append(f"  {_string(key)}: {body}")
        text = text[:-2] + ",\n" + ",\n".join(listed) + "\n}"
    path.write_text(text + "\n", encoding="utf-8")


def table_text(table: ReportTable, data: ReportData) -> list[str]:
    """*table* as aligned columns (text left, numbers right), a rule under the header and above the total."""
    cells = [[h if kind != "money" else f"{h} ({data.currency})" for _, h, kind in table.columns]]
    cells += [[r.label, *(format_value(r.values.get(k), kind, data.scale) for k, _, kind in table.value_columns())]
              for r in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    left = [i == 0 or kind == "text" for i, (_, _, kind) in enumerate(table.columns)]
    lines = [table.title, ""]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if lj else c.rjust(w) for c, w, lj in zip(row, widths, left)))
        if n == 0 or (n == len(cells) - 2 and table.rows and table.rows[-1].kind == "total"):
            lines.append("  ".join("-" * w for w in widths))
    return lines


def write_txt(data: ReportData, path: Path) -> None:
    """Headline figures and the primary table as fixed-width text, for an email body or a terminal."""
    label = max([32, *(len(f.label) + 4 for f in data.headline)])
    lines = [f"{data.title} — {data.period} ({data.currency})", ""]
    lines += [f"  {f.label:<{label}}{format_value(f.value, f.kind, data.scale):>18}" for f in data.headline]
    lines += ["", *table_text(data.primary_table(), data), "", *data.notes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
