"""mse_loss, l1_loss, huber_loss, smooth_l1_loss against fastloss.reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss
from conftest import LAYOUTS, assert_matches
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
SIZES = [0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 1000, 1_000_003]
REDUCTIONS = ["mean", "sum", "none"]


def pair(n, dtype, seed=0, scale=2.0):
    rng = np.random.default_rng(seed + n)
    return (rng.normal(0, scale, n).astype(dtype), rng.normal(0, scale, n).astype(dtype))


def check(name, opts, x, y, reduction):
    got = getattr(fastloss, name)(x, y, reduction=reduction, **opts)
    want = getattr(reference, name)(x, y, reduction=reduction, **opts)
    dtype = np.result_type(np.asarray(x).dtype, np.asarray(y).dtype)
    if dtype.kind != "f":
        dtype = np.float64
    assert_matches(got, want, dtype, terms=np.size(x), reduction=reduction)
    if reduction == "none":
        assert got.shape == np.shape(x)


@pytest.mark.parametrize(("name", "opts"), LOSSES, ids=LOSS_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_reference(name, opts, dtype, n, reduction, backend, n_threads):
    x, y = pair(n, dtype)
    check(name, opts, x, y, reduction)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "opts"), LOSSES, ids=LOSS_IDS)
def test_shapes_and_views(name, opts, dtype, layout, backend):
    rng = np.random.default_rng(1)
    base = rng.normal(size=(3, 141, 31)).astype(dtype)
    other = rng.normal(size=(3, 141, 31)).astype(dtype)
    to = LAYOUTS[layout]
    for x, y in [
        (base, other),
        (base[:, ::2, :], other[:, ::2, :]),  # strided view: copied once
        (base.transpose(2, 0, 1), other.transpose(2, 0, 1)),  # Fortran-like order
        (base[..., 0], other[..., 0]),
    ]:
        for reduction in REDUCTIONS:
            check(name, opts, to(x), to(y), reduction)
        check(name, opts, to(x), np.ascontiguousarray(y), "mean")  # one side in place


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


@pytest.mark.parametrize(("name", "opts"), LOSSES, ids=LOSS_IDS)
def test_empty_input(name, opts):
    empty = np.zeros((0, 3), np.float32)
    assert np.isnan(getattr(fastloss, name)(empty, empty, **opts))
    assert getattr(fastloss, name)(empty, empty, reduction="sum", **opts) == 0
    assert getattr(fastloss, name)(empty, empty, reduction="none", **opts).shape == (0, 3)


def test_scalar_inputs():
    got = fastloss.mse_loss(np.float32(3), np.float32(1), reduction="none")
    assert got.shape == () and got == 4


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    idx=st.integers(0, len(LOSSES) - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_property_matches_reference(data, idx, dtype, reduction):
    name, opts = LOSSES[idx]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=40))
    elems = st.floats(-1e6, 1e6, width=np.dtype(dtype).itemsize * 8)
    x = data.draw(hnp.arrays(dtype, shape, elements=elems))
    y = data.draw(hnp.arrays(dtype, shape, elements=elems))
    check(name, opts, x, y, reduction)


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(0, 200), elements=st.floats(-100, 100)))
def test_property_zero_at_target_and_nonnegative(x):
    for name, opts in LOSSES:
        fn = getattr(fastloss, name)
        assert fn(x, x, reduction="sum", **opts) == 0
        assert np.all(fn(x, -x, reduction="none", **opts) >= 0)
