"""Exact money arithmetic for billing: half-up rounding of rates and largest-remainder splits, in integers.

Why integers: a billing split must add up *to the cent* at every level (calls → extensions →
departments → the invoice).  Amounts here are int64 *minor units* (cents); percentages and per-unit
rates are integers at a fixed scale (see :mod:`analytics.chargeback_rules`).  Every product is
formed exactly and divided once with half-up rounding, and every pro-rata step is a
largest-remainder (Hamilton) allocation, whose parts always sum to the amount split.

    >>> import numpy as np
    >>> largest_remainder(np.array([100]), np.array([0, 0, 0]), np.array([1, 1, 1])).tolist()
    [34, 33, 33]
    >>> half_up_product(np.array([1005]), 100_000, 1_000_000).tolist()   # 10 % (scale 4) markup on 10.05
    [101]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from warehouse.money import div_round_half_up

__all__ = ["half_up_product", "largest_remainder"]

_SAFE = 2**62  # products stay below this in int64; above it we compute with Python ints (exact, slower)


def half_up_product(values: np.ndarray, factor: np.ndarray | int, divisor: int) -> np.ndarray:
    """``values * factor / divisor`` rounded half away from zero, elementwise, exactly (int64 result).

    *values* and *factor* are integers (minor units, seconds, counts; a rate at a fixed scale);
    *divisor* brings the product back to minor units.
    """
    values = np.asarray(values, dtype=np.int64)
    factor = np.broadcast_to(np.asarray(factor, dtype=np.int64), values.shape)
    if values.size == 0:
        return values.copy()
    if int(np.abs(values).max()) * int(np.abs(factor).max()) < _SAFE:
        return div_round_half_up(values * factor, divisor)
    big = values.astype(object) * factor.astype(object)  # Python ints: no overflow
    half = divisor // 2
    out = [(v + half) // divisor if v >= 0 else -((-v + half) // divisor) for v in big]  # rare: huge amounts
    return np.asarray(out, dtype=np.int64)


def _pool_sums(pools: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Integer sums per pool (``np.bincount`` would go through float64 and lose cents past 2**53)."""
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, pools, values)
    return out


def largest_remainder(amounts: np.ndarray, pools: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split ``amounts[p]`` over the members of each pool *p* in proportion to *weights*; parts sum exactly.

    *pools* gives each member's pool index (into *amounts*), *weights* its non-negative weight.  Each
    member gets ``floor(amount * w / W)``; the units left over go one each to the members with the
    largest remainders, ties to the earlier member (so the result is deterministic for a sorted input).
    A pool whose weights are all 0 is split equally.  A negative amount (a credit) is split like its
    absolute value and negated.  Pools without members are the caller's business (nothing to return).
    """
    amounts = np.asarray(amounts, dtype=np.int64)
    pools = np.asarray(pools, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.int64)
    if pools.size == 0:
        return np.zeros(0, dtype=np.int64)
    if (weights < 0).any():
        raise ValueError("allocation weights must not be negative")
    totals = _pool_sums(pools, weights, len(amounts))
    equal = totals[pools] == 0  # nobody used it: equal shares
    weights = np.where(equal, 1, weights)
    totals = _pool_sums(pools, weights, len(amounts))
    sign = np.sign(amounts)[pools]
    amount = np.abs(amounts)[pools]
    total = totals[pools]
    if int(amount.max(initial=0)) * int(weights.max(initial=0)) < _SAFE:
        product = amount * weights
        base, rem_key = product // total, product % total
    else:  # exact with Python ints for very large amounts × weights; the remainder only orders members
        product = amount.astype(object) * weights.astype(object)
        base = np.asarray([p // int(t) for p, t in zip(product, total)], dtype=np.int64)
        rem_key = np.asarray([float(p % int(t)) for p, t in zip(product, total)], dtype=np.float64)
    leftover = np.abs(amounts) - _pool_sums(pools, base, len(amounts))
    # Rank members within their pool by remainder (largest first), ties by position: vectorised lexsort.
    order = np.lexsort((np.arange(len(pools)), -rem_key, pools))
    ranked_pools = pools[order]
    starts = np.searchsorted(ranked_pools, ranked_pools, side="left")
    rank = np.empty(len(pools), dtype=np.int64)
    rank[order] = np.arange(len(pools)) - starts
    extra = (rank < leftover[pools]).astype(np.int64)
    return sign * (base + extra)


def allocate_frame(frame: pd.DataFrame, pool: str, weight: str, amounts: pd.Series) -> pd.Series:
    """:func:`largest_remainder` for a frame: *amounts* indexed by the values of column *pool*."""
    codes = pd.Index(amounts.index).get_indexer(frame[pool])
    if (codes < 0).any():
        raise KeyError(f"pool(s) without an amount: {sorted(set(frame.loc[codes < 0, pool]))}")
    parts = largest_remainder(amounts.to_numpy(dtype=np.int64), codes, frame[weight].to_numpy(dtype=np.int64))
    return pd.Series(parts, index=frame.index)
