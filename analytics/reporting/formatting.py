"""Number formatting, once: the text of money, minutes, percentages and counts from exact values.

Shared by every renderer of a report (HTML, text, the HTML statement's call list) and by the
dashboards, so a figure reads the same wherever it is shown.  Values are ``Decimal`` or ``int``
(never float: the text is exact); ``None`` is an unknown value (an unrated call's cost) and shows as
``—``, never as 0.

    >>> format_value(Decimal("1234.5"), "money")
    '1,234.50'
    >>> money_text(Decimal("-3.456"), "USD", scale=2)
    '-3.46 USD'
    >>> format_value(None, "money"), format_value(Decimal("12.5"), "percent")
    ('—', '12.5 %')
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from analytics.reporting.i18n import N_

if TYPE_CHECKING:  # annotations only
    from analytics.reporting.i18n import Translator

__all__ = ["UNKNOWN", "UNPRICED", "count_text", "format_series", "format_value", "minutes_text", "money_text",
           "percent_text", "plain"]

#: How an unknown value reads in text.
UNKNOWN = "—"
#: How an unknown money value reads in a call list or a cell: the call could not be priced (a msgid).
UNPRICED = N_("not priced")


def _quantized(value: object, places: int) -> Decimal:
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def count_text(value: int | None) -> str:
    """``12,345``."""
    return UNKNOWN if value is None else f"{int(value):,}"


def minutes_text(value: Decimal | int | None) -> str:
    """Minutes to 0.01 with thousands separators: ``1,234.50``."""
    return UNKNOWN if value is None else f"{Decimal(value):,.2f}"


def percent_text(value: Decimal | int | None) -> str:
    """A percentage to 0.1: ``12.5 %``."""
    return UNKNOWN if value is None else f"{_quantized(value, 1):.1f} %"  # half up, like money


def money_text(value: Decimal | int | None, currency: str | None = None, scale: int = 2) -> str:
    """Money at *scale* decimals with thousands separators, the currency after it when given:
    ``1,234.50 USD``; an amount with more decimals is rounded half up (exactly, in Decimal)."""
    if value is None:
        return UNKNOWN
    text = f"{_quantized(value, scale):,.{scale}f}"
    return f"{text} {currency}" if currency else text


def format_value(value: Any, kind: str, scale: int = 2, tr: Translator | None = None) -> str:
    """Text of a figure of *kind* (count, minutes, money, percent, rate — money per minute, 4 decimals —
    or text); money at *scale* decimals.  A text placeholder in a number column shows as is (translated).

    With a :class:`~analytics.reporting.i18n.Translator` the numbers follow its locale (CLDR grouping and
    decimal marks) and text is translated; without one, the English forms below."""
    if value is None:
        return UNKNOWN
    if isinstance(value, str) and kind != "text":
        return (tr.text(value) if tr else value) or UNKNOWN
    if tr is not None:
        return _localized(value, kind, scale, tr)
    if kind == "count":
        return count_text(value)
    if kind == "minutes":
        return minutes_text(value)
    if kind == "money":
        return f"{Decimal(value):,.{scale}f}"
    if kind == "percent":
        return percent_text(value)
    if kind == "rate":
        return f"{Decimal(value):,.4f}"
    return str(value)


def _localized(value: Any, kind: str, scale: int, tr: Translator) -> str:
    if kind == "count":
        return tr.count(value)
    if kind == "minutes":
        return tr.number(value, 2)
    if kind == "money":
        return tr.number(value, scale)
    if kind == "percent":
        return tr.percent(value)
    if kind == "rate":
        return tr.number(value, 4)
    return tr.text(value) if isinstance(value, str) else str(value)


def format_series(values: pd.Series, kind: str, scale: int = 2, unpriced: str = UNPRICED) -> pd.Series:
    """A whole column as display text at once (a call list of 100,000 rows): timestamps as
    ``YYYY-MM-DD HH:MM:SS``, counts with separators, money at *scale* or *unpriced* ("not priced" in the
    reader's language), text as is."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d %H:%M:%S")
    if kind == "count":
        return values.map("{:,}".format)
    if kind == "money":
        return values.map(lambda v: unpriced if v is None else f"{v:,.{scale}f}")
    return values.fillna("").astype(str)


def plain(value: object) -> object:
    """A JSON/CSV-safe value: exact text for Decimals and timestamps, the rest as is."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
