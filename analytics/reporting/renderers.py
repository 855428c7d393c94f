"""Which renderer writes which format: one table from format name to writer, shared by every report type.

A renderer takes a :class:`~analytics.reporting.model.ReportData` and a path and writes one file; it
knows nothing about any report type, so a new type renders to every format without a line of
rendering code.  One renderer per format: there is no second xlsx or HTML writer anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analytics.reporting.html import write_html
from analytics.reporting.model import ReportData, ReportError
from analytics.reporting.text import write_csv, write_json, write_txt
from analytics.reporting.xlsx import write_xlsx

__all__ = ["FORMATS", "RENDERERS", "render"]

RENDERERS: dict[str, Callable[[ReportData, Path], None]] = {
    "xlsx": write_xlsx, "html": write_html, "csv": write_csv, "json": write_json, "txt": write_txt,
}
FORMATS = tuple(RENDERERS)


def render(data: ReportData, fmt: str, path: Path) -> Path:
    """Write *data* as *fmt* to *path*."""
    if fmt not in RENDERERS:
        raise ReportError(f"cannot render {fmt} (supported: {', '.join(FORMATS)})")
    RENDERERS[fmt](data, path)
    return path
