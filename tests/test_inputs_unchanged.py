"""No function writes to its inputs (bottleneck's input_modification_test)."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

BINARY = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_inputs_not_modified(name, reduction):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(37, 19)).astype(np.float32)
    y = rng.normal(size=(37, 19)).astype(np.float32)
    x0, y0 = x.copy(), y.copy()
    getattr(fastloss, name)(x, y, reduction=reduction)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
