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
from analytics.reporting.i18n import display_width as _width
from analytics.reporting.i18n import translator

if TYPE_CHECKING:  # annotations only
    from analytics.reporting.model import Listing, ReportData, ReportTable


__all__ = ["listing_records", "table_text", "write_csv", "write_json", "write_txt"]


def write_csv(data: ReportData, path: Path) -> None:
    """The primary table, one line per row then the Total; currency in its own column."""
    table = data.primary_table()
    keys = [k for k, _, _ in table.value_columns()]
    kinds = {k: kind for k, _, kind in table.columns}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([table.columns[0][0], *keys, "row_kind", "currency"])
        for r in table.rows:
            w.writerow([r.label, *("" if r.values.get(k) is None else plain(shown(r.values[k], kinds[k]))
                                   for k in keys), r.kind, data.currency])


def shown(value: object, kind: str) -> object:
    """Minutes to 0.01, rounded once from the exact seconds / 60 the tables carry; the rest as it is."""
    if kind == "minutes" and isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    return value


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
        "headline": {f.label: plain(shown(f.value, f.kind)) for f in data.headline},
        "tables": {key: [{"label": r.label, "kind": r.kind,
                          **{k: plain(shown(v, kinds.get(k, ""))) for k, v in r.values.items()}}
                         for r in t.rows] for key, t in data.tables.items()
                   for kinds in [{k: kind for k, _, kind in t.columns}]},
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


def _pad(text: str, width: int, left: bool) -> str:
    fill = " " * max(width - _width(text), 0)
    return text + fill if left else fill + text


def table_text(table: ReportTable, data: ReportData) -> list[str]:
    """*table* as aligned columns (text left, numbers right), a rule under the header and above the total;
    in the report's language (a CJK character counts two columns)."""
    tr = translator(data.lang)
    cells = [[tr.text(h) if kind != "money" else f"{tr.text(h)} ({data.currency})" for _, h, kind in table.columns]]
    cells += [[tr.text(r.label), *(format_value(r.values.get(k), kind, data.scale, tr)
                                   for k, _, kind in table.value_columns())]
              for r in table.rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(cells[0]))]
    left = [i == 0 or kind == "text" for i, (_, _, kind) in enumerate(table.columns)]
    lines = [tr.text(table.title), ""]
    for n, row in enumerate(cells):
        lines.append("  ".join(_pad(c, w, lj) for c, w, lj in zip(row, widths, left)))
        if n == 0 or (n == len(cells) - 2 and table.rows and table.rows[-1].kind == "total"):
            lines.append("  ".join("-" * w for w in widths))
    return lines


def write_txt(data: ReportData, path: Path) -> None:
    """Headline figures and the primary table as fixed-width text, for an email body or a terminal."""
    tr = translator(data.lang)
    label = max([32, *(_width(tr.text(f.label)) + 4 for f in data.headline)])
    lines = [f"{tr.text(data.title)} — {tr.period(data.period) if data.lang != 'en' else data.period} "
             f"({data.currency})", ""]
    lines += [f"  {_pad(tr.text(f.label), label, True)}{_pad(format_value(f.value, f.kind, data.scale, tr), 18, False)}"
              for f in data.headline]
    lines += ["", *table_text(data.primary_table(), data), "", *(tr.text(n) for n in data.notes)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
