"""mse_loss, l1_loss, huber_loss, smooth_l1_loss: extremes, dtypes, 0-d inputs, zero at the
target. Against the reference over shapes, layouts and threads: tests/test_equivalence.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss
from conftest import assert_matches
from fastloss import reference

LOSSES = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("huber_loss", {"delta": 1.0}),
    ("huber_loss", {"delta": 0.3}),
    ("smooth_l1_loss", {"beta": 1.0}),
    ("smooth_l1_loss", {"beta": 0.25}),
    ("smooth_l1_loss", {"beta": 0.0}),
]
LOSS_IDS = [name + "".join(f"-{k}{v}" for k, v in opts.items()) for name, opts in LOSSES]


@pytest.mark.parametrize(("name", "opts"), LOSSES, ids=LOSS_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extremes_and_nonfinite(name, opts, dtype, backend):
    big = np.finfo(dtype).max / 4
    x = np.array(
        [0, -0.0, 1e-30, big, -big, np.inf, -np.inf, np.nan, 1, 2, 3, np.inf, 0, 5, 7, 9, 11],
        dtype=dtype,
    )
    y = np.array(
        [0, 0.0, -1e-30, big, big, np.inf, 1, 0, np.nan, 2, 3, -np.inf, 0, 5, 7, 9, 11], dtype=dtype
    )
    with np.errstate(over="ignore", invalid="ignore"):
        got = getattr(fastloss, name)(x, y, reduction="none", **opts)
        # Where the float64 reference exceeds the dtype's range, the dtype's answer is inf.
        want = getattr(reference, name)(x, y, reduction="none", **opts).astype(dtype)
        assert_matches(got, want, dtype)
        for reduction in ("mean", "sum"):
            got = getattr(fastloss, name)(x, y, reduction=reduction, **opts)
            assert np.isnan(got), "NaN in the input propagates into the reduction"


@pytest.mark.parametrize(("name", "opts"), LOSSES, ids=LOSS_IDS)
def test_mixed_and_integer_dtypes(name, opts):
    x32 = np.arange(20, dtype=np.float32) / 3
    cases = [
        (x32, x32[::-1].astype(np.float64), np.float64),  # promotes like NumPy
        (np.arange(20), np.arange(20)[::-1], np.float64),  # integers read as float64
        (np.arange(20) % 2 == 0, np.zeros(20, bool), np.float64),
        (x32.astype(np.float16), x32[::-1].astype(np.float16), np.float32),  # half via float32
        (list(range(5)), [0.5] * 5, np.float64),  # any array-like
    ]
    for x, y, dtype in cases:
        got = getattr(fastloss, name)(x, y, **opts)
        assert got.dtype == dtype
        want = getattr(reference, name)(
            np.asarray(x, np.float64), np.asarray(y, np.float64), **opts
        )
        assert_matches(got, want, dtype)


def test_scalar_inputs():
    got = fastloss.mse_loss(np.float32(3), np.float32(1), reduction="none")
    assert got.shape == () and got == 4


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(0, 200), elements=st.floats(-100, 100)))
def test_property_zero_at_target_and_nonnegative(x):
    for name, opts in LOSSES:
        fn = getattr(fastloss, name)
        assert fn(x, x, reduction="sum", **opts) == 0
        assert np.all(fn(x, -x, reduction="none", **opts) >= 0)
