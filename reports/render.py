"""Which renderer writes which format: one table from format name to writer, shared by every report type.

A renderer takes a :class:`~reports.base.ReportData` and a path and writes one file; it knows nothing
about any report type, so a new type renders to every format without a line of rendering code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Callable
from pathlib import Path

from reports.render_html import write_html
from reports.render_text import write_csv, write_json, write_txt
from reports.render_xlsx import write_xlsx

if TYPE_CHECKING:  # annotations only: the model imports the renderers, not the other way
    from reports.base import ReportData

__all__ = ["RENDERERS"]

RENDERERS: dict[str, Callable[[ReportData, Path], None]] = {
    "xlsx": write_xlsx, "html": write_html, "csv": write_csv, "json": write_json, "txt": write_txt,
}
