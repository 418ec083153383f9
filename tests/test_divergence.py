"""kl_div and entropy: the 0·log 0 and -inf rules, subnormal targets, batchmean, views and
dtypes, and torch where installed. Against the reference over sizes, axes, layouts and
threads: tests/test_equivalence.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss
from conftest import assert_matches, float_tolerance
from fastloss import reference
from harness import against_reference

KL_REDUCTIONS = ["mean", "batchmean", "sum", "none"]
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_zero_and_infinite_terms(dtype, backend):
    # torch: y = 0 gives 0 for finite x and NaN for x = -inf (0·-inf); y > 0 with x = -inf is +inf
    x = np.array(
        [-1.0, -np.inf, -np.inf, 0.0, -2.0, np.nan, -1.0, -3.0, -np.inf] + [-0.5] * 9, dtype
    )
    y = np.array([0.0, 0.0, 0.5, 0.0, np.nan, 0.5, -0.5, 1e-30, 1.0] + [0.25] * 9, dtype)
    got = against_reference("kl_div", x, y, reduction="none", log_target=False)
    assert got[0] == 0 and got[3] == 0
    assert np.isnan(got[1]) and np.isnan(got[4]) and np.isnan(got[5]) and np.isnan(got[6])
    assert got[2] == np.inf and got[8] == np.inf
    # log_target: exp(y)·(y - x); y = -inf is a zero probability, which meets x = -inf as NaN
    yl = np.array(
        [-np.inf, -np.inf, 0.0, -1.0, np.nan, np.inf, -80.0, -1e-8, 0.5] + [-1.0] * 9, dtype
    )
    got = against_reference("kl_div", x, yl, reduction="none", log_target=True)
    assert np.isnan(got[1])
    for reduction in ("mean", "sum", "batchmean"):
        assert np.isnan(fastloss.kl_div(x, y, reduction=reduction))


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_subnormal_targets(dtype, backend):
    # y·log y takes the log of max(y, smallest normal): a subnormal y is off by less than
    # 2^-126·23·ln2 (float32; 2^-1022·52·ln2 float64) absolute, the bound divergence.hpp states.
    info = np.finfo(dtype)
    tiny = info.smallest_normal
    y = np.array([tiny / 3, tiny / 2**20, info.smallest_subnormal, tiny, tiny * 1.5] * 4, dtype)
    x = np.full_like(y, -3.0)
    got = fastloss.kl_div(x, y, reduction="none")
    ref = fastloss.reference.kl_div(x, y, reduction="none")
    bound = float(tiny) * (info.nmant + 1) * np.log(2.0)
    assert np.all(np.abs(got.astype(np.float64) - ref) <= bound)
    np.testing.assert_allclose(got[3::5], ref[3::5], rtol=1e-5, atol=0)  # normal y: as before


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_identical_distributions_and_batchmean(dtype):
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(50), size=8).astype(dtype)
    tol = float_tolerance(dtype)["atol"] * 50
    assert abs(fastloss.kl_div(np.log(p), p, reduction="sum")) <= tol * 8
    assert abs(fastloss.kl_div(np.log(p), np.log(p), reduction="sum", log_target=True)) <= tol * 8
    q = rng.dirichlet(np.ones(50), size=8).astype(dtype)
    total = fastloss.kl_div(np.log(q), p, reduction="sum")
    np.testing.assert_allclose(
        fastloss.kl_div(np.log(q), p, reduction="batchmean"), total / 8, rtol=1e-6
    )
    np.testing.assert_allclose(fastloss.kl_div(np.log(q), p), total / 400, rtol=1e-6)
    # 0-d input: "batchmean" does not divide; empty: NaN ("mean", "batchmean" over 0 rows),
    # 0 ("sum")
    assert fastloss.kl_div(dtype(-1.0), dtype(0.5), reduction="batchmean") == fastloss.kl_div(
        dtype(-1.0), dtype(0.5), reduction="sum"
    )
    empty = np.zeros((0, 4), dtype)
    assert np.isnan(fastloss.kl_div(empty, empty)) and np.isnan(
        fastloss.kl_div(empty, empty, reduction="batchmean")
    )
    assert fastloss.kl_div(empty, empty, reduction="sum") == 0
    assert (
        fastloss.kl_div(np.zeros((3, 0), dtype), np.zeros((3, 0), dtype), reduction="batchmean")
        == 0
    )


def test_kl_views_and_dtypes():
    rng = np.random.default_rng(4)
    x = np.log(rng.dirichlet(np.ones(31), size=(5, 40))).astype(np.float32)
    y = rng.dirichlet(np.ones(31), size=(5, 40)).astype(np.float32)
    for a, b in [
        (x[:, ::3], y[:, ::3]),
        (x.transpose(2, 0, 1), y.transpose(2, 0, 1)),
        (x, y.astype(np.float64)),
    ]:
        for reduction in KL_REDUCTIONS:
            against_reference("kl_div", a, b, reduction=reduction, log_target=False)
    assert type(fastloss.kl_div(x, y)) is np.float32
    assert type(fastloss.kl_div(x, y.astype(np.float64))) is np.float64
    assert type(fastloss.kl_div(x.astype(np.float16), y.astype(np.float16))) is np.float32


# ---------------------------------------------------------------------------
# entropy


def test_entropy_worked_example_and_special_values(backend):
    got = fastloss.entropy([0.7, 0.2, 0.1])
    assert abs(got - 0.80181855) <= 5e-9
    assert abs(got - reference.entropy([0.7, 0.2, 0.1])) <= 1e-12
    got32 = fastloss.entropy(np.float32([0.7, 0.2, 0.1]))
    assert type(got32) is np.float32 and abs(got32 - 0.80181855) <= 1e-5 * 0.81 + 1e-6
    rows = np.array(
        [
            [1.0, 0.0, 0.0, 0.0],  # one-hot: 0, not -0
            [0.25, 0.25, 0.25, 0.25],  # uniform: log 4
            [0.5, np.nan, 0.5, 0.0],  # NaN stays in its row
            [0.5, -0.1, 0.6, 0.0],  # negative p: NaN
            [0.0, 0.0, 0.0, 0.0],
            [2.0, 0.0, 0.0, 0.0],  # not renormalized: -2 log 2
            [np.inf, 0.0, 0.5, 0.5],
        ]
    )
    for dtype in DTYPES:
        for p, axis in (
            (rows.astype(dtype), 1),
            (rows.T.astype(dtype), 0),
            (np.ascontiguousarray(rows.T, dtype), 0),
        ):
            got = fastloss.entropy(p, axis=axis)
            assert_matches(got, reference.entropy(p, axis=axis), dtype)
            assert got[0] == 0 and not np.signbit(got[0]) and got[4] == 0
            assert np.isnan(got[2]) and np.isnan(got[3]) and got[6] == -np.inf
            np.testing.assert_allclose(got[1], np.log(4), rtol=1e-6)
            np.testing.assert_allclose(got[5], -2 * np.log(2), rtol=1e-6)


def test_entropy_axis_and_dtypes():
    rng = np.random.default_rng(8)
    p = rng.random((6, 5, 4)).astype(np.float32)
    for axis in (0, 1, 2, -1, -2, -3):
        got = fastloss.entropy(p, axis=axis)
        assert got.shape == tuple(np.delete(np.array(p.shape), axis))
        assert_matches(
            got, reference.entropy(p, axis=axis), np.float32, terms=p.shape[axis], reduction="sum"
        )
        # non-contiguous views are copied once; same values as the contiguous array
        view = p[:, ::2, :]
        assert_matches(
            fastloss.entropy(view, axis=axis),
            reference.entropy(view, axis=axis),
            np.float32,
            terms=view.shape[axis],
            reduction="sum",
        )
    half = np.float16
    assert fastloss.entropy(p.astype(np.float16)).dtype == half
    assert fastloss.entropy(p.astype(np.float64)).dtype == np.float64
    assert fastloss.entropy([[1, 0], [0, 1]]).dtype == np.float64  # integers read as float64
    assert type(fastloss.entropy(np.float32(0.5))) is np.float32  # 0-d: one class


@settings(max_examples=30, deadline=None)
@given(
    p=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=20),
        elements=st.floats(0, 1),
    ),
    data=st.data(),
)
def test_property_entropy_bounds_and_kl_self(p, data):
    axis = data.draw(st.integers(-p.ndim, p.ndim - 1))
    total = p.sum(axis=axis, keepdims=True)
    q = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[axis]), where=total > 0)
    h = fastloss.entropy(q, axis=axis)
    assert np.all(h >= -1e-12) and np.all(h <= np.log(p.shape[axis]) + 1e-12)
    assert_matches(
        h, reference.entropy(q, axis=axis), np.float64, terms=p.shape[axis], reduction="sum"
    )
    positive = q[q > 0]  # where q = 0, log q = -inf meets 0: NaN, as torch
    assert abs(fastloss.kl_div(np.log(positive), positive, reduction="sum")) <= 1e-12 * q.size


# ---------------------------------------------------------------------------
# torch


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch(dtype):
    torch = pytest.importorskip(
        "torch", reason="torch is the semantic model; compared where installed"
    )
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    x = np.log(rng.dirichlet(np.ones(40), size=32)).astype(dtype)
    y = rng.dirichlet(np.ones(40), size=32).astype(dtype)
    y[0, :4] = 0.0
    x[1, 0], y[1, 0] = -np.inf, 0.0  # NaN, as torch
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that "mean" is not the true divergence
        for reduction in KL_REDUCTIONS:
            for log_target, target, ttarget in (
                (False, y, ty),
                (True, np.log(y + 1e-3), torch.log(ty + 1e-3)),
            ):
                got = fastloss.kl_div(
                    x, target.astype(dtype), reduction=reduction, log_target=log_target
                )
                want = F.kl_div(tx, ttarget, reduction=reduction, log_target=log_target).numpy()
                assert_matches(
                    got,
                    want.astype(np.float64),
                    dtype,
                    terms=x.size,
                    reduction="none" if reduction == "none" else "sum",
                )
    p = rng.dirichlet(np.ones(10), size=(5, 7)).astype(dtype)
    p[0, 0, :3] = 0.0
    for axis in (0, 1, 2):
        want = torch.special.entr(torch.from_numpy(p)).sum(dim=axis).numpy()
        assert_matches(
            fastloss.entropy(p, axis=axis),
            want.astype(np.float64),
            dtype,
            terms=p.shape[axis],
            reduction="sum",
        )
