"""Display text of figures: money, counts, minutes, percentages — exact, from ``Decimal``, never float.

One small module on purpose: the reporting layer is growing its own formatting helpers
(``analytics/reporting/formatting.py``); when it lands, these functions become thin wrappers and no
page changes.  Every function takes ``None`` (a figure that does not exist, e.g. the cost of an
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

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["MISSING", "amount_text", "count_text", "minutes_text", "money_text", "pct_text", "text_of"]

#: What a missing figure shows as.
MISSING = "—"


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # pragma: no cover - a float reaching money formatting is a bug upstream
        raise TypeError(f"money must be Decimal or int, not float ({value!r})")
    return Decimal(str(value))


def amount_text(value: object, scale: int = 2) -> str:
    """``1,234.50``: an amount at *scale* decimals (the currency's minor unit), thousands separated."""
    if value is None:
        return MISSING
    quantum = Decimal(1).scaleb(-scale)
    return f"{_decimal(value).quantize(quantum, ROUND_HALF_UP):,.{scale}f}"


def money_text(value: object, currency: str | None, scale: int = 2) -> str:
    """``USD 1,234.50``: an amount with its currency code (the code alone says which money it is)."""
    text = amount_text(value, scale)
    return f"{currency} {text}" if currency and value is not None else text


def count_text(value: object) -> str:
    """``12,345``"""
    return MISSING if value is None else f"{int(value):,}"


def minutes_text(value: object) -> str:
    """Talk minutes, whole (``1,235``); the exact hundredths stay in the downloads."""
    return MISSING if value is None else f"{_decimal(value).quantize(Decimal(1), ROUND_HALF_UP):,.0f}"


def pct_text(value: object, digits: int = 1) -> str:
    """``12.3 %``"""
    if value is None:
        return MISSING
    return f"{_decimal(value).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP):,.{digits}f} %"


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
