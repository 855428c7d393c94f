"""Dashboard pages, one module each.

Every page module exposes ``PATH``, ``NAME``, ``layout(ctx)`` and ``register_callbacks(app, ctx)``;
``dashboards.app`` lists the modules in ``PAGES`` and routes by ``PATH`` — adding a page is a new
module and one line there.  Callback bodies are plain functions of (lake, inputs) so tests call them
without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PageContext:
    """What every page needs to know about the app it is part of."""

    lake: Path
    currency: str
