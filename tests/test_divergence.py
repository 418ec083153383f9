"""kl_div and entropy against fastloss.reference (and torch where installed): sizes around the
SIMD widths, both dtypes, every reduction and axis, the 0·log 0 and -inf rules, layouts,
threads and determinism."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.exceptions import AxisError

import fastloss
from conftest import LAYOUTS, assert_matches, float_tolerance
from fastloss import reference

SIZES = [0, 1, 7, 15, 16, 17, 31, 33, 1000, 1_000_003]
# Every size at 1 and 2 threads, but the largest at 2 only (its one-thread run would add
# seconds and no path: the determinism test covers thread counts at a multi-chunk size).
SIZE_THREADS = [(n, t) for n in SIZES for t in (1, 2) if n < 10_000 or t == 2]
SIZE_THREAD_IDS = [f"{n}-t{t}" for n, t in SIZE_THREADS]
KL_REDUCTIONS = ["mean", "batchmean", "sum", "none"]
DTYPES = [np.float32, np.float64]

_REF_CACHE: dict = {}


def kl_inputs(n, dtype, log_target, seed=0):
    rng = np.random.default_rng(seed + n)
    x = np.log(rng.dirichlet(np.ones(max(n, 1)))[:n] + 1e-12)
    y = rng.random(n)
    y[::9] = 0.0  # 0·log 0 = 0
    if log_target:
        with np.errstate(divide="ignore"):
            y = np.log(y)  # -inf where y was 0
    return x.astype(dtype), y.astype(dtype)


def check_kl(x, y, reduction, log_target, key=None):
    got = fastloss.kl_div(x, y, reduction=reduction, log_target=log_target)
    if key is None or key not in _REF_CACHE:
        want = reference.kl_div(x, y, reduction=reduction, log_target=log_target)
        if key is not None:
            _REF_CACHE[key] = want
    else:
        want = _REF_CACHE[key]
    dtype = np.result_type(np.asarray(x).dtype, np.asarray(y).dtype)
    terms = np.size(x)
    if reduction == "batchmean":  # a sum divided by shape[0]: as exact as a sum
        rows = np.shape(x)[0] if np.ndim(x) else 1
        terms = terms / max(rows, 1)
    assert_matches(
        got, want, dtype, terms=terms, reduction="sum" if reduction == "batchmean" else reduction
    )
    if reduction == "none":
        assert got.shape == np.shape(x)
    else:
        assert np.ndim(got) == 0 and isinstance(got, np.generic)
    return got


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "threads"), SIZE_THREADS, ids=SIZE_THREAD_IDS)
@pytest.mark.parametrize("log_target", [False, True], ids=["prob", "logtarget"])
def test_kl_matches_reference(dtype, n, log_target, threads, backend):
    x, y = kl_inputs(n, dtype, log_target)
    with fastloss.threads(threads):
        for reduction in KL_REDUCTIONS:
            key = (np.dtype(dtype).name, n, log_target, reduction) if n > 10_000 else None
            check_kl(x, y, reduction, log_target, key)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_zero_and_infinite_terms(dtype, backend):
    # torch: y = 0 gives 0 for finite x and NaN for x = -inf (0·-inf); y > 0 with x = -inf is +inf
    x = np.array(
        [-1.0, -np.inf, -np.inf, 0.0, -2.0, np.nan, -1.0, -3.0, -np.inf] + [-0.5] * 9, dtype
    )
    y = np.array([0.0, 0.0, 0.5, 0.0, np.nan, 0.5, -0.5, 1e-30, 1.0] + [0.25] * 9, dtype)
    got = check_kl(x, y, "none", False)
    assert got[0] == 0 and got[3] == 0
    assert np.isnan(got[1]) and np.isnan(got[4]) and np.isnan(got[5]) and np.isnan(got[6])
    assert got[2] == np.inf and got[8] == np.inf
    # log_target: exp(y)·(y - x); y = -inf is a zero probability, which meets x = -inf as NaN
    yl = np.array(
        [-np.inf, -np.inf, 0.0, -1.0, np.nan, np.inf, -80.0, -1e-8, 0.5] + [-1.0] * 9, dtype
    )
    got = check_kl(x, yl, "none", True)
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


def test_kl_views_dtypes_errors():
    rng = np.random.default_rng(4)
    x = np.log(rng.dirichlet(np.ones(31), size=(5, 40))).astype(np.float32)
    y = rng.dirichlet(np.ones(31), size=(5, 40)).astype(np.float32)
    for a, b in [
        (x[:, ::3], y[:, ::3]),
        (x.transpose(2, 0, 1), y.transpose(2, 0, 1)),
        (x, y.astype(np.float64)),
    ]:
        for reduction in KL_REDUCTIONS:
            check_kl(a, b, reduction, False)
    assert type(fastloss.kl_div(x, y)) is np.float32
    assert type(fastloss.kl_div(x, y.astype(np.float64))) is np.float64
    assert type(fastloss.kl_div(x.astype(np.float16), y.astype(np.float16))) is np.float32
    with pytest.raises(
        ValueError, match=r"kl_div: input shape \(5, 40, 31\) and target shape \(5, 40\) must match"
    ):
        fastloss.kl_div(x, y[..., 0])
    with pytest.raises(
        ValueError,
        match=r"kl_div: reduction must be one of 'mean', 'sum', 'none', 'batchmean'; got 'avg'",
    ):
        fastloss.kl_div(x, y, reduction="avg")
    with pytest.raises(TypeError, match=r"kl_div: complex64 target is not supported"):
        fastloss.kl_div(x, y.astype(np.complex64))
    with pytest.raises(TypeError):
        fastloss.kl_div(x, y, "sum")
    x0, y0 = x.copy(), y.copy()
    fastloss.kl_div(x, y, reduction="none")
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts(layout, dtype, backend):
    """kl_div and entropy on every memory layout."""
    to = LAYOUTS[layout]
    rng = np.random.default_rng(4)
    x = np.log(rng.dirichlet(np.ones(31), size=(5, 40))).astype(dtype)
    y = rng.dirichlet(np.ones(31), size=(5, 40)).astype(dtype)
    for reduction in KL_REDUCTIONS:
        check_kl(to(x), to(y), reduction, False)
        check_kl(to(x), np.log(y), reduction, True)
    for axis in (-1, 1):
        assert_matches(
            fastloss.entropy(to(y), axis=axis),
            reference.entropy(y, axis=axis),
            dtype,
            terms=y.shape[axis],
            reduction="sum",
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_same_bits_for_any_thread_count(dtype, log_target, backend):
    x, y = kl_inputs(300_007, dtype, log_target, seed=3)
    results = {fastloss.kl_div(x, y, reduction="sum", log_target=log_target).tobytes()}
    for t in (1, 2, 3, 4):
        with fastloss.threads(t):
            results.add(fastloss.kl_div(x, y, reduction="sum", log_target=log_target).tobytes())
    assert len(results) == 1


# ---------------------------------------------------------------------------
# entropy

ENTROPY_SHAPES = [
    ((), -1),
    ((1,), -1),
    ((7,), 0),
    ((17,), -1),
    ((1000,), -1),
    ((1_000_003,), -1),  # one long row: fixed chunks of the row, parallel
    ((2, 140_000), 1),
    ((100, 3), -1),  # short rows: vectorized over the flat data
    ((100, 3), 0),
    ((33, 4), 1),
    ((333, 31), 1),  # short rows widened to float64 in the vector pass
    ((64, 63), 1),
    ((50, 64), -1),  # rows vectorized along the row
    ((20, 300), -1),
    ((40, 50), 0),  # class axis first: vectorized across the contiguous rest
    ((3, 50, 70), 1),
    ((3, 50, 70), 0),
    ((3, 50, 70), -1),
    ((2, 5, 3, 300), 2),
    ((4, 3, 1000), 1),  # (N, C, d) layout of torch, several column blocks
    ((0,), 0),
    ((0, 4), 1),
    ((0, 4), 0),
    ((4, 0), 1),
]


def entropy_input(shape, dtype, axis, seed=0):
    rng = np.random.default_rng(seed + int(np.prod(shape)))
    p = rng.random(shape)
    if p.ndim:
        p = p / np.sum(p, axis=axis, keepdims=True) if p.shape[axis] else p
        p.reshape(-1)[::7] = 0.0
    return np.asarray(p, dtype)


@pytest.mark.parametrize(
    ("shape", "axis"),
    ENTROPY_SHAPES,
    ids=[f"{'x'.join(map(str, s)) or 'scalar'}-ax{a}" for s, a in ENTROPY_SHAPES],
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2], ids=lambda t: f"t{t}")
def test_entropy_matches_reference(shape, axis, dtype, threads, backend):
    p = entropy_input(shape, dtype, axis)
    with fastloss.threads(threads):
        got = fastloss.entropy(p, axis=axis)
    want = reference.entropy(p, axis=axis)
    assert np.shape(got) == np.shape(want)
    if len(shape) <= 1:
        assert isinstance(got, np.generic) and type(got) is np.dtype(dtype).type
    else:
        assert isinstance(got, np.ndarray) and got.dtype == dtype
    # per-distribution values are sums over the class axis: the sum tolerance of docs/numerics.md
    classes = shape[axis] if shape else 1
    assert_matches(got, want, dtype, terms=classes, reduction="sum")


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
    assert fastloss.entropy(p.astype(np.float16)).dtype == np.float32
    assert fastloss.entropy(p.astype(np.float64)).dtype == np.float64
    assert fastloss.entropy([[1, 0], [0, 1]]).dtype == np.float64  # integers read as float64
    assert type(fastloss.entropy(np.float32(0.5))) is np.float32  # 0-d: one class
    with pytest.raises(
        np.exceptions.AxisError if hasattr(np, "exceptions") else AxisError,
        match="entropy: axis 3 is out of bounds for array of dimension 3",
    ):
        fastloss.entropy(p, axis=3)
    with pytest.raises(ValueError):  # AxisError is a ValueError (and an IndexError)
        fastloss.entropy(p, axis=-4)
    with pytest.raises(TypeError, match="entropy: axis must be an integer; got 1.5"):
        fastloss.entropy(p, axis=1.5)
    with pytest.raises(TypeError, match="entropy: complex128 p is not supported"):
        fastloss.entropy(np.ones(3, complex))
    with pytest.raises(TypeError):
        fastloss.entropy(p, 1)  # axis is keyword-only
    p0 = p.copy()
    fastloss.entropy(p, axis=1)
    np.testing.assert_array_equal(p, p0)


@pytest.mark.parametrize(
    ("shape", "axis"), [((300_007,), 0), ((300, 3001), 1), ((4001, 3), 1), ((50, 30, 70), 1)]
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_entropy_same_bits_for_any_thread_count(shape, axis, dtype, backend):
    p = entropy_input(shape, dtype, axis, seed=11)
    results = set()
    for t in (1, 2, 3, 4):
        with fastloss.threads(t):
            results.add(np.asarray(fastloss.entropy(p, axis=axis)).tobytes())
    assert len(results) == 1


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
