"""Display text of figures: money, counts, minutes, percentages — exact, from ``Decimal``, never float.

Thin wrappers over the one number formatting, ``analytics.reporting.formatting`` (shared with every
report), adding only what a page does differently: the currency code goes before the amount, as on
the charts' money axes.  Every function takes ``None`` (a figure that does not exist, e.g. the cost of an
unpriced call) and shows it as an em dash — never as 0.

    >>> from decimal import Decimal
    >>> money_text(Decimal("1234.5"), "USD")
    'USD 1,234.50'
    >>> money_text(Decimal("-3"), "JPY", scale=0)
    'JPY -3'
    >>> amount_text(None)
    '—'
"""

from __future__ import annotations

from decimal import Decimal

from analytics.reporting import formatting

__all__ = ["MISSING", "amount_text", "count_text", "minutes_text", "money_text", "pct_text", "text_of"]

#: What a missing figure shows as (the reports' own mark).
MISSING = formatting.UNKNOWN


def _decimal(value: object) -> Decimal | int:
    if isinstance(value, float):  # a float reaching money formatting is a bug upstream
        raise TypeError(f"money must be Decimal or int, not float ({value!r})")
    return value if isinstance(value, (Decimal, int)) else Decimal(str(value))


def amount_text(value: object, scale: int = 2) -> str:
    """``1,234.50``: an amount at *scale* decimals (the currency's minor unit), thousands separated."""
    return MISSING if value is None else formatting.money_text(_decimal(value), None, scale)


def money_text(value: object, currency: str | None, scale: int = 2) -> str:
    """``USD 1,234.50``: on a page the code goes first, as on the charts' money axes (``tickprefix``)."""
    text = amount_text(value, scale)
    return f"{currency} {text}" if currency and value is not None else text


def count_text(value: object) -> str:
    """``12,345``"""
    return MISSING if value is None else formatting.count_text(int(value))


def minutes_text(value: object) -> str:
    """Talk minutes to 0.01, as the reports show them."""
    return MISSING if value is None else formatting.minutes_text(_decimal(value))


def pct_text(value: object) -> str:
    """``12.3 %``"""
    return MISSING if value is None else formatting.percent_text(_decimal(value))


def text_of(value: object, kind: str, *, currency: str | None = None, scale: int = 2) -> str:
    """Text of *value* as *kind*: ``money``, ``amount``, ``count``, ``minutes``, ``pct`` or ``text``."""
    if kind == "money":
        return money_text(value, currency, scale)
    if kind == "amount":
        return amount_text(value, scale)
    if kind == "count":
        return count_text(value)
    if kind == "minutes":
        return minutes_text(value)
    if kind == "pct":
        return pct_text(value)
    return MISSING if value is None or (isinstance(value, float) and value != value) else str(value)
