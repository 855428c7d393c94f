"""Marking texts for translation, with no dependencies: ``N_`` for a constant, ``Msg`` for a text with fields.

Why a module of its own: the analytics layer's errors (a period or filter value nothing knows) are shown on
dashboard pages, so they are messages of the catalog too — and the modules raising them sit below
:mod:`analytics.reporting`, which imports them.  The translation itself is
:class:`analytics.reporting.i18n.Translator` (``text()`` formats a ``Msg``'s fields in the reader's locale).
"""

from __future__ import annotations

from datetime import date, datetime

__all__ = ["Msg", "N_"]


def N_(message: str) -> str:
    """Mark *message* for the catalog without translating it here (it is translated where it is shown)."""
    return message


class Msg(str):
    """A message with fields: the English text as a ``str``, plus its template and values for translation."""

    template: str
    fields: dict[str, object]

    def __new__(cls, template: str, **fields: object) -> Msg:
        self = super().__new__(cls, template.format(**{k: _english(v) for k, v in fields.items()}))
        self.template = template
        self.fields = fields
        return self


def _english(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return f"{value:%Y-%m-%d}"
    return str(value)
