"""Largest-remainder allocation and half-up products: hand-worked cases and the sum-to-the-cent property."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.allocation import half_up_product, largest_remainder


def test_equal_split_gives_the_odd_cent_to_the_first():
    assert largest_remainder(np.array([100]), np.zeros(3, int), np.ones(3, int)).tolist() == [34, 33, 33]


def test_remainders_go_to_the_largest_fractions():
    # 1.00 by 180:75:90:60 of 405 → 44.44, 18.52, 22.22, 14.81 → 44, 19, 22, 15
    assert largest_remainder(np.array([100]), np.zeros(4, int), np.array([180, 75, 90, 60])).tolist() == [44, 19, 22, 15]


def test_several_pools_credits_and_zero_weights():
    parts = largest_remainder(np.array([100, -7, 5]), np.array([0, 0, 1, 1, 1, 2]), np.array([1, 2, 3, 0, 0, 0]))
    assert parts.tolist() == [33, 67, -7, 0, 0, 5]  # a credit splits like its size; all-zero weights: equal


def test_half_up_product_rounds_half_away_from_zero():
    # 10 % (PCT scale 4 → 100000) of 10.05 = 1.005 → 1.01; of -10.05 → -1.01; 0.005/min × 30 s = 0.0025 → 0.00
    assert half_up_product(np.array([1005, -1005]), 100_000, 1_000_000).tolist() == [101, -101]
    assert half_up_product(np.array([30]), 5_000, 60 * 10_000).tolist() == [0]
    assert half_up_product(np.array([60]), 5_000, 60 * 10_000).tolist() == [1]  # 0.005 → 0.01


def test_huge_amounts_stay_exact():
    amount = 10**15 + 7
    parts = largest_remainder(np.array([amount]), np.zeros(3, int), np.array([10**6, 10**6, 10**6]))
    assert int(parts.sum()) == amount and parts.max() - parts.min() <= 1


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**9, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=12)),
                min_size=1, max_size=6))
def test_parts_sum_to_the_whole_and_stay_within_a_cent_of_the_exact_share(pools):
    amounts = np.array([a for a, _ in pools], dtype=np.int64)
    pool_ids = np.concatenate([np.full(len(w), i) for i, (_, w) in enumerate(pools)])
    weights = np.concatenate([np.array(w, dtype=np.int64) for _, w in pools])
    parts = largest_remainder(amounts, pool_ids, weights)
    for i, (amount, w) in enumerate(pools):
        mine = parts[pool_ids == i]
        assert int(mine.sum()) == amount
        w = np.array(w) if sum(w) else np.ones(len(w), dtype=np.int64)
        exact = [abs(amount) * x / w.sum() for x in w]
        assert all(abs(abs(int(p)) - e) < 1 for p, e in zip(mine, exact))
