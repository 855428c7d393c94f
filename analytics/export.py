"""Export the rated calls of a selection to a file, streaming: ``callcost export`` and notebooks share it.

Three steps, so a big export never sits in memory and never leaves half a file behind:

1. **Plan** — one aggregate query over the selection: row count, exact money totals and each
   column's widest value (for the fixed-width text and the xlsx column widths).  No calls → an
   :class:`ExportError` saying which period and filters, and what months the lake does have.
2. **Stream** — day partition after day partition, DuckDB runs the writer's projection, sorts that
   day and hands over Arrow record batches of ``batch_rows`` calls (``to_arrow_reader``); each goes to
   the writer, then ``on_rows`` (the progress bar).  A call's partition is the UTC date of its start,
   so the days in order are the calls in ``start_utc, call_id`` order, and memory holds one day's
   rows at most, however long the period (one sort over the whole period would hold all of it).
3. **Publish** — rows go to a hidden temporary file beside the target, renamed over it at the end;
   on any error the temporary file is removed and an older export of the same name stays intact.

    >>> from analytics.export import export_calls                       # doctest: +SKIP
    >>> export_calls(select(ent, "2026-10", site="NYC"), "xlsx", "nyc-october.xlsx").rows   # doctest: +SKIP
    9133
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from analytics.aggregates import rated_sum
from analytics.calls import available_months, partition_days
from analytics.export_formats import WRITERS, Column, ExportError, ExportInfo, text_sql
from analytics.selection import CallSelection
from warehouse.schema import calls_schema

__all__ = ["EXPORT_FORMATS", "ExportError", "ExportResult", "export_calls", "export_columns"]

EXPORT_FORMATS = tuple(WRITERS)
_MONEY = ("actual_cost", "reference_cost", "savings")


@dataclass(frozen=True)
class ExportResult:
    """What was written: the file, the number of calls and their exact money totals (rated calls)."""

    path: Path
    format: str
    rows: int
    actual_cost: Decimal
    reference_cost: Decimal
    savings: Decimal
    seconds: float


def _kind(field: pa.Field) -> str:
    if pa.types.is_decimal(field.type):
        return "money"
    if pa.types.is_integer(field.type):
        return "int"
    if pa.types.is_timestamp(field.type):
        return "timestamp"
    if pa.types.is_date(field.type):
        return "date"
    return "text"


def export_columns(scale: int = 2) -> list[str]:
    """The columns an export holds by default: every stored column of a call (SPEC §6), in the lake's order.

    Example::

        from analytics.export import export_columns
        assert export_columns()[:2] == ["call_id", "pbx"] and "savings" in export_columns()
    """
    return calls_schema(scale).names


def _columns(sel: CallSelection, wanted: Sequence[str] | None) -> list[Column]:
    schema = calls_schema(sel.scale)
    names = list(wanted) if wanted else schema.names
    unknown = [n for n in names if n not in schema.names]
    if unknown:
        raise ExportError(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                          f"(expected some of: {', '.join(schema.names)})")
    return [Column(n, _kind(schema.field(n))) for n in names]


def _plan(sel: CallSelection, columns: list[Column], title: str) -> tuple[list[Column], ExportInfo]:
    widths = ", ".join(f"max(length({text_sql(c)})) AS \"w_{i}\"" for i, c in enumerate(columns))
    money = ", ".join(f"{rated_sum(m)} AS {m}" for m in _MONEY)
    row = sel.query(f"SELECT count(*) AS n, {money}, {widths} FROM {{calls}}").to_pylist()[0]
    sized = [Column(c.name, c.kind, max(len(c.name), row[f"w_{i}"] or 0)) for i, c in enumerate(columns)]
    quantum = Decimal(1).scaleb(-sel.scale)
    totals = {m: Decimal(row[m]).quantize(quantum) for m in _MONEY}
    return sized, ExportInfo(title=title, rows=int(row["n"]), totals=totals, scale=sel.scale)


def _no_calls(sel: CallSelection) -> ExportError:
    months = available_months(sel.lake)
    held = f"the lake has calls in {', '.join(months)}" if months else f"the lake at {sel.lake} has no calls at all"
    return ExportError(f"nothing to export: no calls for {sel.describe()} ({held})")


def _batches(sel: CallSelection, projection: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The selection's rows, projected, in ``start_utc, call_id`` order, one day partition at a time."""
    for day in partition_days(sel.lake, sel.start, sel.end):
        with dataclasses.replace(sel, start=day, end=day).open() as (con, calls):
            yield from con.sql(f"SELECT {projection} FROM {calls} ORDER BY start_utc, call_id"
                               ).to_arrow_reader(batch_rows)


def export_calls(
    sel: CallSelection,
    fmt: str,
    out: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    batch_rows: int = 50_000,
    on_start: Callable[[int], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the selection's calls to *out* as *fmt* (``csv``, ``xlsx``, ``json``, ``txt``, ``html``, ``parquet``).

    Calls are in ``start_utc, call_id`` order.  *columns* picks and orders columns (default: all,
    :func:`export_columns`).  ``on_start(total_rows)`` is called once the plan is known and
    ``on_rows(n)`` after each batch — a progress bar's ``total`` and ``advance``.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.export import export_calls
        ent = open_enterprise()
        export_calls(select(ent, "2026-10", carrier="acme"), "csv", "acme-october.csv").savings
    """
    started = time.perf_counter()
    if fmt not in WRITERS:
        raise ExportError(f"unknown export format '{fmt}' (expected one of: {', '.join(EXPORT_FORMATS)})")
    if batch_rows < 1:
        raise ExportError(f"batch_rows must be at least 1, not {batch_rows}")
    writer_class = WRITERS[fmt]
    title = f"Calls {sel.describe()}" + (f" ({sel.currency})" if sel.currency else "")
    cols, info = _plan(sel, _columns(sel, columns), title)
    if info.rows == 0:
        raise _no_calls(sel)
    writer_class.check(info)
    if on_start is not None:
        on_start(info.rows)

    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.partial")
    try:
        with open(temp, "wb") as fh:
            writer = writer_class(fh, cols, info)
            for batch in _batches(sel, writer.projection(), batch_rows):
                writer.write(batch)
                if on_rows is not None:
                    on_rows(batch.num_rows)
            writer.close()
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return ExportResult(path=target, format=fmt, rows=info.rows, seconds=time.perf_counter() - started,
                        **info.totals)
