"""Exact money: decimal strings ⇄ scaled integers ⇄ Arrow ``decimal128``.

Money never touches a float.  A tariff's decimal strings become integers at ``INTERNAL_SCALE``
(millionths of the currency, enough for rate decks quoted with 4–6 decimals); a call's cost is an
integer number of the currency's *minor units* (cents), which is also the unscaled value of the
stored ``decimal128(18, scale)`` — so the conversion to Arrow is a reinterpretation of bits, not a
computation.
"""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pyarrow as pa

from warehouse.errors import CallcostError

#: Decimals the rating engine keeps for tariff amounts (10⁻⁶ of the currency).
INTERNAL_SCALE = 6

#: ISO 4217 minor units; a small table rather than a dependency.
CURRENCY_SCALE: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "CHF": 2, "CAD": 2, "AUD": 2, "INR": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "BRL": 2, "MXN": 2, "SGD": 2, "HKD": 2, "ZAR": 2, "NZD": 2, "CZK": 2, "HUF": 2,
    "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3, "JOD": 3, "IQD": 3, "LYD": 3,
}

_DECIMAL = re.compile(r"^(?P<sign>[-+]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?$")
_DECIMAL128_MAX = 10**18  # decimal128(18, s) holds |unscaled| < 10**18


class MoneyFormatError(CallcostError, ValueError):
    """A money string is not a plain decimal, or has more decimals than allowed."""

    def __init__(self, message: str, expected: str) -> None:
        super().__init__(message)
        self.expected = expected


def minor_unit(currency: str) -> int:
    """Decimals of *currency*'s minor unit (``USD`` → 2, ``JPY`` → 0, ``KWD`` → 3)."""
    try:
        return CURRENCY_SCALE[currency.upper()]
    except KeyError:
        raise KeyError(f"unknown currency '{currency}' (known: {', '.join(sorted(CURRENCY_SCALE))})") from None


def parse_scaled(text: str, scale: int) -> int:
    """``"0.0125"`` at scale 6 → ``12500``, exactly; more than *scale* decimals is an error, not a rounding."""
    m = _DECIMAL.match(text.strip())
    if not m or not (m["int"] or m["frac"]):
        raise MoneyFormatError(f"'{text}' is not a decimal number", "a decimal like 0.0125")
    frac = (m["frac"] or "").rstrip("0")
    if len(frac) > scale:
        raise MoneyFormatError(f"'{text}' has {len(frac)} decimals", f"at most {scale} decimals")
    value = int(m["int"] or "0") * 10**scale + int(frac.ljust(scale, "0") or "0")
    return -value if m["sign"] == "-" else value


def scaled_to_decimal(value: int, scale: int) -> Decimal:
    """The integer *value* at *scale* as an exact ``Decimal`` (``12500``, 6 → ``0.012500``)."""
    return Decimal(value).scaleb(-scale)


def div_round_half_up(num: np.ndarray, den: int) -> np.ndarray:
    """``num / den`` rounded half away from zero, in int64 (``den`` > 0); no float on the way."""
    num = np.asarray(num, dtype=np.int64)
    half = den // 2  # for an odd den, (den-1)/2 works too: an integer num never sits exactly on the half
    pos = (num + half) // den
    if num.size == 0 or num.min() >= 0:  # costs are never negative: skip the second pass
        return pos
    neg = -((-num + half) // den)
    return np.where(num >= 0, pos, neg)


def minor_to_decimal128(values: np.ndarray, scale: int, valid: np.ndarray | None = None) -> pa.Array:
    """int64 minor units → ``decimal128(18, scale)`` with the same unscaled values (16-byte LE two's complement)."""
    ints = np.ascontiguousarray(values, dtype="<i8")
    n = len(ints)
    check = ints if valid is None else ints[valid]
    if check.size and (check.max() >= _DECIMAL128_MAX or check.min() <= -_DECIMAL128_MAX):
        raise OverflowError("amount does not fit decimal128(18)")
    words = np.empty((n, 2), dtype="<i8")
    words[:, 0] = ints
    words[:, 1] = ints >> 63
    if valid is None or valid.all():
        bitmap, nulls = None, 0
    else:
        bitmap = pa.py_buffer(np.packbits(np.asarray(valid, dtype=bool), bitorder="little").tobytes())
        nulls = int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.decimal128(18, scale), n, [bitmap, pa.py_buffer(words.tobytes())],
                                 null_count=nulls)


def decimal128_to_minor(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """``decimal128(p, s)`` with p ≤ 18 → (int64 unscaled values, validity mask); nulls read as 0."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if not pa.types.is_decimal128(arr.type) or arr.type.precision > 18:
        raise TypeError(f"expected decimal128 with precision ≤ 18, got {arr.type}")
    n = len(arr)
    data = arr.buffers()[1]
    words = np.frombuffer(data, dtype="<i8", count=2 * (arr.offset + n))[2 * arr.offset:].reshape(n, 2)
    values = words[:, 0].copy()
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    values[~valid] = 0
    return values, valid
