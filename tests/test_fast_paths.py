"""The one-call fast paths (the 2 µs per-call budget) against the general path.

mse_loss & co., cross_entropy, nll_loss, softmax and log_softmax first offer their arguments to a
binding that reads ready arrays in place and finishes the result in C++; anything else (lists,
other dtypes, non-contiguous views, subclasses, odd option types) goes through the Python
checks. Both routes must give the same bits, types and errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

REGRESSION = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]


def _general(a: np.ndarray) -> np.ndarray:
    """The same values through a route the fast path refuses: a non-contiguous view."""
    wide = np.empty(a.shape + (2,), dtype=a.dtype)
    wide[..., 0] = a
    view = wide[..., 0]
    assert not view.flags.c_contiguous or view.size <= 1
    return view


def _same(fast, general) -> None:
    assert type(fast) is type(general)
    assert np.asarray(fast).dtype == np.asarray(general).dtype
    np.testing.assert_array_equal(fast, general)


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (3, 5)])
def test_regression(name, dtype, reduction, shape):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    f = getattr(fastloss, name)
    fast = f(x, y, reduction=reduction)
    _same(fast, f(_general(x), _general(y), reduction=reduction))
    if dtype == np.float64:  # a list is read as float64
        _same(fast, f(x.tolist(), y, reduction=reduction))
    if reduction != "none":
        assert type(fast) is np.dtype(dtype).type


def test_regression_subclass_and_mixed_dtypes():
    x = np.arange(6, dtype=np.float32)
    y = np.ones(6, dtype=np.float32)
    _same(fastloss.mse_loss(x.view(np.memmap), y), fastloss.mse_loss(_general(x), y))
    # Mixed float32/float64 promotes to float64 (general path), never reads float64 as float32.
    assert type(fastloss.mse_loss(x, y.astype(np.float64))) is np.float64
    with pytest.raises(ValueError, match=r"shape \(6,\).*shape \(2, 3\)"):
        fastloss.mse_loss(x, y.reshape(2, 3))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tdtype", [np.int32, np.int64, np.int16])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(0, 4), (1, 1), (5, 3), (9, 100)])
def test_class_losses(fn, dtype, tdtype, reduction, shape):
    rng = np.random.default_rng(2)
    x = rng.normal(size=shape).astype(dtype)
    t = rng.integers(0, shape[1], size=shape[0]).astype(tdtype)
    if shape[0] > 2:
        t[1] = -100
    f = getattr(fastloss, fn)
    fast = f(x, t, reduction=reduction)
    general = f(_general(x), _general(t).astype(np.int64), reduction=reduction)
    _same(fast, general)


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_class_losses_bad_target_and_options(fn):
    x = np.zeros((4, 3), np.float32)
    f = getattr(fastloss, fn)
    with pytest.raises(IndexError, match=r"target\[2\] = 3"):
        f(x, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match="reduction"):
        f(x, np.array([0, 1, 2, 2]), reduction="avg")
    # Options of other types than the fast path's take the general path, same result.
    x = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    t = np.array([0, 1, 2, -5])
    plain = f(x, t, ignore_index=-5)
    _same(plain, f(x, t, ignore_index=np.int64(-5)))
    _same(plain, f(x, t, ignore_index=-5, reduction=np.str_("mean")))
    _same(plain, f(x, t, ignore_index=-5, axis=np.int64(1)))
    _same(plain, f(x, t, ignore_index=-5, axis=-1))
    t_valid = np.array([0, 1, 2, 0])
    _same(f(x, t_valid, ignore_index=2**70), f(x, t_valid, ignore_index=-100))
    with pytest.raises(TypeError):
        f(x, t, ignore_index=-5.0)
    if fn == "cross_entropy":
        _same(plain, f(x, t, ignore_index=-5, label_smoothing=0))
        _same(
            f(x, t, ignore_index=-5, label_smoothing=0.25),
            f(x, t, ignore_index=-5, label_smoothing=np.float32(0.25)),
        )
        for bad in (-0.5, 1.5, float("nan")):
            with pytest.raises(ValueError, match="label_smoothing"):
                f(x, t, ignore_index=-5, label_smoothing=bad)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape,axis", [((5,), 0), ((3, 7), -1), ((3, 7), 0), ((2, 3, 4), 1), ((0, 3), 1)]
)
def test_softmax_family(fn, dtype, shape, axis):
    x = np.random.default_rng(3).normal(size=shape).astype(dtype)
    f = getattr(fastloss, fn)
    fast = f(x, axis=axis)
    _same(fast, f(_general(x), axis=axis))
    out = np.full_like(x, np.nan)
    assert f(x, axis=axis, out=out) is out
    _same(out, fast)
    in_place = x.copy()  # out is the input itself: the general path's copy, same values
    assert f(in_place, axis=axis, out=in_place) is in_place
    _same(in_place, fast)
    with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else Exception):
        f(x, axis=len(shape))


def test_arrays_the_fast_paths_refuse():
    """Non-native byte order and unaligned arrays are C-contiguous float arrays of the right type
    number: the fast paths must refuse them (they would read raw bytes) and the result be the
    value, never an error."""
    x = np.array([1.0, 2.0, 3.0, 4.0], ">f8")
    assert fastloss.mse_loss(x, np.zeros(4, ">f8")) == 7.5
    assert fastloss.l1_loss(x, np.zeros(4, ">f8"), reduction="sum") == 10.0
    want = fastloss.softmax(np.array([1.0, 2.0, 3.0], np.float32))
    np.testing.assert_array_equal(fastloss.softmax(np.array([1.0, 2.0, 3.0], ">f4")), want)
    logits = np.array([[1, 2, 3], [3, 1, 0.5]], ">f4")
    want = fastloss.cross_entropy(logits.astype(np.float32), np.array([2, 0]))
    assert fastloss.cross_entropy(logits, np.array([2, 0])) == want
    np.testing.assert_allclose(want, 0.30215, rtol=1e-4)
    zeros = np.zeros((2, 3), np.float32)
    for t in (np.array([2, 0], ">i8"), np.array([2, 0], ">i4")):
        assert fastloss.cross_entropy(zeros, t) == np.float32(np.log(3.0))
        assert fastloss.nll_loss(zeros, t) == 0.0
    buf = np.zeros(4 * 8 + 1, np.uint8)
    u = buf[1:].view(np.float64)
    u[:] = [1.0, 2.0, 3.0, 4.0]
    assert not u.flags.aligned
    assert fastloss.mse_loss(u, np.zeros(4)) == 7.5
