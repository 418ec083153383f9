"""binary_cross_entropy and binary_cross_entropy_with_logits: broadcast weights, extremes, the
in-kernel range check, dtypes, and torch.nn.functional where installed. Against the reference
over shapes, layouts and threads: tests/test_equivalence.py."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from conftest import assert_matches
from fastloss import reference
from harness import against_reference

BCE = "binary_cross_entropy"
LOGITS = "binary_cross_entropy_with_logits"
REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]


def test_mixed_hard_and_soft_vectors(backend):
    # Vectors of hard labels take one log, soft ones two; the bits of a hard label must not
    # depend on which branch its vector took.
    rng = np.random.default_rng(3)
    p = rng.random(4099).astype(np.float32)
    y = (rng.random(4099) < 0.5).astype(np.float32)
    y_mixed = y.copy()
    y_mixed[::37] = 0.25
    hard = fastloss.binary_cross_entropy(p, y, reduction="none")
    mixed = fastloss.binary_cross_entropy(p, y_mixed, reduction="none")
    same = y_mixed == y
    np.testing.assert_array_equal(hard[same], mixed[same])
    against_reference(BCE, p, y_mixed, reduction="none")


# ---------------------------------------------------------------------------
# weights

WEIGHT_CASES = [
    # (input shape, weight shape): scalar, per last axis, trailing dims, full, and the
    # broadcasts that are materialized (a column, a middle axis)
    ((37, 19), ()),
    ((37, 19), (1,)),
    ((37, 19), (19,)),
    ((37, 19), (1, 19)),
    ((37, 19), (37, 19)),
    ((37, 19), (37, 1)),
    ((5, 3), (3,)),
    ((3, 11, 200), (11, 200)),
    ((3, 11, 200), (1, 1, 200)),
    ((3, 11, 200), (3, 1, 200)),
    ((22_001, 3), (3,)),  # the second chunk starts at an offset that is not a multiple of 3
    ((9_000, 7), (9_000, 7)),
    ((1000,), (1000,)),
    ((), ()),
]


def weight_ids(case):
    shape, wshape = case
    return f"{'x'.join(map(str, shape)) or 'scalar'}-w{'x'.join(map(str, wshape)) or 'scalar'}"


@pytest.mark.parametrize("case", WEIGHT_CASES, ids=[weight_ids(c) for c in WEIGHT_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_broadcasts(case, dtype, backend):
    shape, wshape = case
    rng = np.random.default_rng(len(shape) + int(np.prod(wshape)))
    p = rng.random(shape).astype(dtype)
    y = (rng.random(shape) < 0.5).astype(dtype)
    x = rng.normal(0, 4, shape).astype(dtype)
    w = rng.uniform(0.1, 3.0, wshape).astype(dtype)
    pw = rng.uniform(0.1, 5.0, wshape).astype(dtype)
    with fastloss.threads(2):
        for reduction in REDUCTIONS:
            against_reference(BCE, p, y, reduction=reduction, weight=w)
            against_reference(LOGITS, x, y, reduction=reduction, weight=w)
            against_reference(LOGITS, x, y, reduction=reduction, pos_weight=pw)
            against_reference(LOGITS, x, y, reduction=reduction, weight=w, pos_weight=pw)


def test_weight_dtype_is_cast_to_the_inputs():
    p = np.array([0.2, 0.7, 0.9], np.float32)
    y = np.array([1.0, 0.0, 1.0], np.float32)
    got = fastloss.binary_cross_entropy(p, y, weight=np.array([1.0, 2.0, 3.0]), reduction="none")
    assert got.dtype == np.float32
    assert_matches(
        got,
        reference.binary_cross_entropy(p, y, weight=[1.0, 2.0, 3.0], reduction="none"),
        np.float32,
    )
    got = fastloss.binary_cross_entropy_with_logits(p, y, weight=[1, 2, 3], pos_weight=2)
    assert got.dtype == np.float32


def test_weight_errors():
    p = np.full((4, 5), 0.5)
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy: weight shape \(3,\) does not broadcast to input shape "
        r"\(4, 5\)",
    ):
        fastloss.binary_cross_entropy(p, p, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"weight shape \(2, 4, 5\) does not broadcast"):
        fastloss.binary_cross_entropy(p, p, weight=np.ones((2, 4, 5)))  # never enlarges the result
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy_with_logits: pos_weight shape \(4,\) does not"
    ):
        fastloss.binary_cross_entropy_with_logits(p, p, pos_weight=np.ones(4))
    with pytest.raises(
        TypeError, match=r"binary_cross_entropy: complex128 weight is not supported"
    ):
        fastloss.binary_cross_entropy(p, p, weight=np.ones(5, complex))


# ---------------------------------------------------------------------------
# extremes


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_extreme_probabilities(dtype, backend):
    tiny = np.finfo(dtype).smallest_subnormal
    p = np.array(
        [
            0,
            1,
            0,
            1,
            tiny,
            1e-30,
            1e-7,
            0.5,
            1 - 1e-7,
            np.nextafter(dtype(1), dtype(0)),
            -0.0,
            1e-40,
            0.3,
            0,
            1,
            0.999,
        ]
        * 3,
        dtype=dtype,
    )
    for y in (
        np.zeros_like(p),
        np.ones_like(p),
        np.full_like(p, 0.25),
        np.tile(np.array([0, 1], dtype), 24),
    ):
        got = against_reference(BCE, p, y, reduction="none")
        assert np.all(np.isfinite(got)) and np.all(got <= 100.0)
        against_reference(BCE, p, y, reduction="sum")
    # each log is clamped at -100, as torch
    assert fastloss.binary_cross_entropy(np.float32([0.0]), np.float32([1.0])) == np.float32(100)
    assert fastloss.binary_cross_entropy(np.float32([1.0]), np.float32([0.0])) == np.float32(100)
    assert fastloss.binary_cross_entropy(np.float32([1.0, 0.0]), np.float32([1.0, 0.0])) == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_extremes(dtype, backend):
    big = 1e4 if dtype == np.float32 else 1e300
    x = np.array(
        [big, -big, 100, -100, 88.8, -88.8, 50, -50, 20, -20, 1e-8, -1e-8, 0, 3, -3, 745, -745],
        dtype=dtype,
    )
    for y in (np.zeros_like(x), np.ones_like(x), np.full_like(x, 0.3)):
        got = against_reference(LOGITS, x, y, reduction="none")
        assert np.all(np.isfinite(got)) and np.all(got >= 0)
        against_reference(LOGITS, x, y, reduction="sum", pos_weight=np.full(x.shape, 3.0, dtype))
    # the exactly known values: log(2) at 0, |x| for a confident wrong guess
    got = fastloss.binary_cross_entropy_with_logits(
        np.array([0.0, -big, big], dtype), np.array([1.0, 1.0, 0.0], dtype), reduction="none"
    )
    np.testing.assert_allclose(got, [np.log(2.0), big, big], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_nonfinite(dtype, backend):
    x = np.array(
        [np.nan, np.inf, -np.inf, np.inf, -np.inf, 1.0, 2.0, 3.0, np.nan] + [0.5] * 8, dtype=dtype
    )
    y = np.array([1.0, 1.0, 0.0, 0.0, 1.0, np.nan, 0.0, 1.0, 0.0] + [1.0] * 8, dtype=dtype)
    got = fastloss.binary_cross_entropy_with_logits(x, y, reduction="none")
    want = reference.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert_matches(got, want, dtype)
    assert np.isnan(got[0]) and np.isnan(got[5]) and np.isnan(got[8])
    assert got[3] == np.inf and got[4] == np.inf
    assert np.isnan(fastloss.binary_cross_entropy_with_logits(x, y))


# ---------------------------------------------------------------------------
# the range check of binary_cross_entropy, inside the kernel pass


@pytest.mark.parametrize("bad", [1.5, -0.25, np.nan, -np.inf, 1.0000001])
@pytest.mark.parametrize("position", [0, 5, 17, 65_536, 79_999])
def test_out_of_range_raises(bad, position, backend):
    shape = (4, 20_000)
    index = ", ".join(map(str, np.unravel_index(position, shape)))
    value = str(np.float32(bad))
    for where in ("input", "target"):
        p = np.full(shape, 0.5, np.float32)
        y = np.zeros(shape, np.float32)
        target = p if where == "input" else y
        target.reshape(-1)[position] = bad
        target.reshape(-1)[-1] = bad  # a later one is not the one reported
        for reduction in REDUCTIONS:
            for threads in (1, 2):
                with fastloss.threads(threads), pytest.raises(ValueError) as info:
                    fastloss.binary_cross_entropy(p, y, reduction=reduction)
                assert (
                    str(info.value)
                    == f"binary_cross_entropy: {where}[{index}] = {value} is outside [0, 1]"
                )


def test_out_of_range_small_and_scalar():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input = 2.0 is outside \[0, 1\]"):
        fastloss.binary_cross_entropy(2.0, 1.0)
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: target\[2\] = nan is outside \[0, 1\]"
    ):
        fastloss.binary_cross_entropy([0.1, 0.2, 0.3], [0.0, 1.0, float("nan")])
    # -0.0 is inside [0, 1]; the logits version checks nothing, as torch
    assert fastloss.binary_cross_entropy([-0.0], [-0.0]) == 0
    assert np.isfinite(fastloss.binary_cross_entropy_with_logits([3.0], [7.0]))


# ---------------------------------------------------------------------------
# layouts, dtypes, empties, determinism


@pytest.mark.parametrize("name", [BCE, LOGITS])
def test_dtypes(name):
    p32 = np.linspace(0.05, 0.95, 20, dtype=np.float32)
    y32 = (np.arange(20) % 2).astype(np.float32)
    cases = [
        (p32, y32, np.float32),
        (p32, y32.astype(np.float64), np.float64),
        (p32.astype(np.float16), y32.astype(np.float16), np.float32),
        (p32.astype(np.float64), np.arange(20) % 2, np.float64),
        (p32.tolist(), (np.arange(20) % 2 == 1), np.float64),
    ]
    for x, y, dtype in cases:
        got = getattr(fastloss, name)(x, y)
        assert type(got) is np.dtype(dtype).type
        want = getattr(reference, name)(np.asarray(x, np.float64), np.asarray(y, np.float64))
        assert_matches(got, want, dtype)


def test_zero_d():
    for name in (BCE, LOGITS):
        got = getattr(fastloss, name)(np.float32(0.5), np.float32(1), reduction="none")
        assert got.shape == () and got.dtype == np.float32


# ---------------------------------------------------------------------------
# torch


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch(dtype):
    torch = pytest.importorskip(
        "torch", reason="torch is the semantic model; compared where installed"
    )
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    shape = (64, 33)
    p = rng.random(shape).astype(dtype)
    p[0, :5] = [0, 1, 0, 1, 1e-30]
    y = (rng.random(shape) < 0.5).astype(dtype)
    y[1] = 0.3
    x = rng.normal(0, 8, shape).astype(dtype)
    w = rng.uniform(0.5, 2, shape[1]).astype(dtype)
    pw = rng.uniform(0.5, 4, shape[1]).astype(dtype)
    tp, ty, tx, tw, tpw = (torch.from_numpy(a) for a in (p, y, x, w, pw))
    for reduction in REDUCTIONS:
        got = fastloss.binary_cross_entropy(p, y, weight=w, reduction=reduction)
        want = F.binary_cross_entropy(tp, ty, weight=tw.expand(shape), reduction=reduction).numpy()
        assert_matches(got, want.astype(np.float64), dtype, terms=p.size, reduction=reduction)
        got = fastloss.binary_cross_entropy_with_logits(
            x, y, weight=w, pos_weight=pw, reduction=reduction
        )
        want = F.binary_cross_entropy_with_logits(
            tx, ty, weight=tw, pos_weight=tpw, reduction=reduction
        ).numpy()
        assert_matches(got, want.astype(np.float64), dtype, terms=p.size, reduction=reduction)
    with pytest.raises(RuntimeError):
        F.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))  # torch raises too


def _targets_outside_unit(shape, rng):
    """Targets anywhere (torch accepts any): in [0, 1], moderately outside, and far outside."""
    y = rng.uniform(-2.0, 3.0, shape)
    y[:, :4] = rng.random((shape[0], 4))  # in range, in the same vectors as the others
    y[::5, 5] = 1e30
    y[1::5, 5] = -1e30
    y[2::5, 5] = 1e6
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_pos_weight", [False, True])
def test_logits_targets_outside_unit_interval(dtype, with_pos_weight, backend):
    """Outside [0, 1] the sum of the two softplus terms can cancel; the value is torch's."""
    torch = pytest.importorskip(
        "torch", reason="torch is the semantic model; compared where installed"
    )
    rng = np.random.default_rng(11)
    shape = (40, 37)
    x = rng.normal(0, 2, shape).astype(dtype)
    x[:, 6] = 0.0
    y = _targets_outside_unit(shape, rng).astype(dtype)
    pw = rng.uniform(-1.0, 4.0, shape[1]).astype(dtype) if with_pos_weight else None
    pw_t = None if pw is None else torch.from_numpy(pw.astype(np.float64))
    want = torch_logits(torch, x, y, pw_t)
    ref = reference.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(ref, want, rtol=1e-12, atol=1e-13)
    got = fastloss.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="none")
    assert_matches(got, want, dtype)


def torch_logits(torch, x, y, pw_t):
    """torch's binary_cross_entropy_with_logits in float64, per element."""
    t = (torch.from_numpy(np.asarray(a, np.float64)) for a in (x, y))
    return torch.nn.functional.binary_cross_entropy_with_logits(
        *t, pos_weight=pw_t, reduction="none"
    ).numpy()


@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_far_target_and_infinite_logit(dtype, backend):
    x, y = np.zeros(1, dtype), np.array([1e30], dtype)
    for pos_weight in (None, np.array([1.0], dtype), np.array([3.0], dtype)):
        want = np.log(2.0) * (1.0 if pos_weight is None else (1 + (pos_weight[0] - 1) * 1e30))
        got = fastloss.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight)
        assert_matches(got, np.float64(want), dtype, reduction="mean")
        ref = reference.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight)
        np.testing.assert_allclose(ref, want, rtol=1e-15)
    # x = -inf with pw·y > 0: +inf, the limit (torch's form gives NaN for some of these)
    x = np.full(5, -np.inf, dtype)
    y = np.array([0.5, 1.0, 2.0, 1e30, 3.0], dtype)
    pw = np.array([1.0, 2.0, 0.1, 0.5, 1.0], dtype)
    for f in (fastloss, reference):
        f = f.binary_cross_entropy_with_logits
        assert np.all(f(x, y, reduction="none") == np.inf)
        assert np.all(f(x, y, pos_weight=pw, reduction="none") == np.inf)
