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
from pathlib import Path

if TYPE_CHECKING:  # annotations only: the model imports the renderers, not the other way
    from reports.base import ReportData, ReportTable


__all__ = ["format_value", "plain", "table_text", "write_csv", "write_json", "write_txt"]


def format_value(value: object, kind: str, scale: int = 2) -> str:
    """Text of a figure for HTML and txt: thousands separators, money at *scale* decimals, exact."""
    if value is None:
        return "—"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "minutes":
        return f"{Decimal(value):,.2f}"
    if kind == "money":
        return f"{Decimal(value):,.{scale}f}"
    if kind == "percent":
        return f"{Decimal(value):.1f} %"
    if kind == "rate":
        return f"{Decimal(value):,.4f}"
    return str(value)


def plain(value: object) -> object:
    """A JSON/CSV-safe value: exact text for Decimals and timestamps, the rest as is."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


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


def write_json(data: ReportData, path: Path) -> None:
    """Every table and figure; money as exact decimal strings."""
    doc = {
        "report": data.name, "title": data.title, "period": data.period, "currency": data.currency,
        "generated_at": data.generated_at.isoformat(), "notes": list(data.notes),
        "headline": {f.label: plain(f.value) for f in data.headline},
        "tables": {key: [{"label": r.label, "kind": r.kind, **{k: plain(v) for k, v in r.values.items()}}
                         for r in t.rows] for key, t in data.tables.items()},
        "extra": {k: plain(v) for k, v in data.extra.items() if isinstance(v, (str, int, Decimal, datetime))},
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def table_text(table: ReportTable, data: ReportData) -> list[str]:
    """*table* as aligned columns, a rule under the header and above the total."""
    cells = [[h if kind != "money" else f"{h} ({data.currency})" for _, h, kind in table.columns]]
    cells += [[r.label, *(format_value(r.values.get(k), kind, data.scale) for k, _, kind in table.value_columns())]
              for r in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [table.title, ""]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0 or (n == len(cells) - 2 and table.rows and table.rows[-1].kind == "total"):
            lines.append("  ".join("-" * w for w in widths))
    return lines


def write_txt(data: ReportData, path: Path) -> None:
    """Headline figures and the primary table as fixed-width text, for an email body or a terminal."""
    lines = [f"{data.title} — {data.period} ({data.currency})", ""]
    lines += [f"  {f.label:<32}{format_value(f.value, f.kind, data.scale):>18}" for f in data.headline]
    lines += ["", *table_text(data.primary_table(), data), "", *data.notes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
