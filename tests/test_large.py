"""Arrays of more than 2^31 elements (64-bit indexing). Slow: run with ``-m slow``.

The inputs are memmaps of a sparse file, so they cost disk space only where written; the
values that decide the result sit past index 2^31, where a 32-bit index would wrap.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

N = (1 << 31) + 17


@pytest.fixture(scope="module")
def big_zeros(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "zeros.f32"
    with open(path, "wb") as f:
        f.truncate(N * 4)
    x = np.memmap(path, dtype=np.float32, mode="r+", shape=(N,))
    x[-3:] = [1.0, 2.0, 3.0]
    x.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=(N,))


@pytest.mark.slow
def test_regression_beyond_2_to_the_31(big_zeros):
    zeros_tail = np.zeros(N, np.float32)  # a second input: untouched pages cost no memory
    assert fastloss.mse_loss(big_zeros, zeros_tail, reduction="sum") == 14.0
    assert fastloss.l1_loss(big_zeros, zeros_tail, reduction="sum") == 6.0
