"""Reductions give bitwise the same result for every thread count and every call."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

SIZES = [1, 65_537, 1_000_003, 3 * (1 << 16) + 5]


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
def test_same_bits_for_any_thread_count(name, dtype, n, backend):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n).astype(dtype)
    y = rng.normal(size=n).astype(dtype)
    fn = getattr(fastloss, name)
    results = set()
    for t in (1, 2, 3, 4):
        with fastloss.threads(t):
            for _ in range(2):
                results.add(fn(x, y, reduction="sum").tobytes())
    assert len(results) == 1
