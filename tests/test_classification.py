"""cross_entropy, nll_loss, softmax, log_softmax, logsumexp: what is the family's own.

Both kernel engines: rows (last axis, C > 48: one pass along each row with the folded shift)
and lanes (C <= 48 or a class axis that is not last: one row per lane), at whole and partial
tiles, views, 0-d and empty inputs, errors, extremes and torch. Every test that computes runs
on each SIMD backend the machine has. Against the reference over class counts, options,
layouts and threads: tests/test_equivalence.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.exceptions import AxisError

import fastloss
from conftest import assert_matches, float_tolerance
from fastloss import reference as ref
from harness import compare

DTYPES = [np.float32, np.float64]
SOFTMAX_FAMILY = ["softmax", "log_softmax", "logsumexp"]


def logits(shape, dtype, seed=0, scale=3.0):
    return np.random.default_rng(seed).normal(0, scale, shape).astype(dtype)


def targets(shape, n_classes, seed=1, ignore_some=True):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, max(n_classes, 1), shape)
    if ignore_some and t.size > 2:
        t.reshape(-1)[:: max(3, t.size // 4)] = -100
    return t


def resolve(opts: dict, n_classes: int, dtype) -> dict:
    out = dict(opts)
    if out.get("weight") == "w":
        out["weight"] = np.random.default_rng(7).uniform(0.2, 2.0, n_classes).astype(dtype)
    return out


# ---------------------------------------------------------------------------------------
# against the reference: what the harness's shapes do not reach


def test_llama_vocabulary_row(backend):
    """One 128256-class row each way (513 KB of float32: just beyond a 512 KB L2)."""
    x = logits((2, 128256), np.float32, scale=4.0)
    t = np.array([5, 128255])
    compare(
        fastloss.cross_entropy(x, t, reduction="none"),
        ref.cross_entropy(x, t, reduction="none"),
        np.float32,
    )
    compare(fastloss.softmax(x), ref.softmax(x), np.float32)
    compare(fastloss.logsumexp(x), ref.logsumexp(x), np.float32)


# ---------------------------------------------------------------------------------------
# layouts: class axis not last, views, 0-d, empty


@pytest.mark.parametrize("dtype", DTYPES)
def test_class_axis_one_whole_tiles(dtype, backend):
    """axis=1 with whole tiles of the inner axis (copied class-major, targets picked after the
    pass) and a partial last tile: ignored targets, weights, smoothing, probability targets,
    and extreme values that stay in their own position."""
    shape = (3, 21, 2, 40)  # inner 80 = whole tiles of 8 and 16 lanes; and 5 x 16
    x = logits(shape, dtype)
    x[0, :, 0, 5] = -np.inf  # a position of all -inf: NaN there only
    x[1, 4, 1, 17] = np.nan
    x[2, :7, 0, 33] = -np.inf  # masked classes
    x[2, 9, 1, 20] = 1e4 if dtype == np.float32 else 1e300
    t = targets(shape[:1] + shape[2:], shape[1])
    t[2, 0, 33] = 8  # not a masked class
    for red in ("mean", "sum", "none"):
        for kw in ({}, {"label_smoothing": 0.2, "weight": "w"}, {"ignore_index": 3}):
            kw = resolve(kw, shape[1], dtype)
            tt = np.where(t == -100, kw.get("ignore_index", -100), t)
            got = fastloss.cross_entropy(x, tt, axis=1, reduction=red, **kw)
            want = ref.cross_entropy(x, tt, axis=1, reduction=red, **kw)
            compare(got, want, dtype, terms=t.size, reduction=red)
    y = np.asarray(ref.softmax(logits(shape, np.float64, seed=3), axis=1), dtype=dtype)
    got = fastloss.cross_entropy(x, y, axis=1, reduction="none")
    compare(got, ref.cross_entropy(x, y, axis=1, reduction="none"), dtype)
    for name in SOFTMAX_FAMILY:
        compare(getattr(fastloss, name)(x, axis=1), getattr(ref, name)(x, axis=1), dtype)
    bad = t.copy()
    bad[1, 1, 30] = 21
    with pytest.raises(IndexError, match=r"target\[1, 1, 30\] = 21 is outside \[0, 21\)"):
        fastloss.cross_entropy(x, bad, axis=1)


def test_axis_one_makes_no_transposed_copy(monkeypatch):
    """The kernels get the caller's own buffer: no copy of the logits at all."""
    from fastloss import _core

    x = logits((2, 7, 33), np.float32)
    t = targets((2, 33), 7)
    seen = []
    real = _core.cross_entropy

    def spy(a, *args):
        seen.append(a)
        return real(a, *args)

    monkeypatch.setattr(_core, "cross_entropy", spy)
    fastloss.cross_entropy(x, t, axis=1)
    assert seen and np.shares_memory(seen[0], x)


@pytest.mark.parametrize("name", ["cross_entropy", *SOFTMAX_FAMILY])
def test_non_contiguous_views(name, backend):
    base = logits((40, 2 * 53), np.float32)
    for view, axis in [
        (base[:, ::2], -1),
        (base[::3], -1),
        (base.T, 0),
        (base.T, -1),
        (base[:, 3:60], 1),
    ]:
        if name == "cross_entropy":
            c = view.shape[axis]
            t = targets(view.shape[: axis % 2] + view.shape[axis % 2 + 1 :], c)
            got = fastloss.cross_entropy(view, t, axis=axis, reduction="none")
            want = ref.cross_entropy(view, t, axis=axis, reduction="none")
        else:
            got = getattr(fastloss, name)(view, axis=axis)
            want = getattr(ref, name)(view, axis=axis)
        compare(got, want, np.float32)


def test_target_views_and_dtypes(backend):
    x = logits((30, 20), np.float32)
    t = targets(60, 20, ignore_some=False)
    want = ref.cross_entropy(x, t[::2], reduction="none")
    for tt in (
        t[::2],
        t[::2].astype(np.int32),
        t[::2].astype(np.int8),
        t[::2].astype(np.uint8),
        t[::2].astype(np.int16),
        t[::2].astype(np.uint16),
        t[::2].astype(np.uint32),
        t[::2].astype(np.uint64),
        t[::2].tolist(),
    ):
        compare(fastloss.cross_entropy(x, tt, reduction="none"), want, np.float32)
        compare(
            fastloss.nll_loss(x, tt, reduction="none"),
            ref.nll_loss(x, t[::2], reduction="none"),
            np.float32,
        )


def test_zero_d_and_one_class():
    assert fastloss.softmax(2.5) == 1.0 and fastloss.softmax(2.5).shape == ()
    assert fastloss.log_softmax(2.5) == 0.0 and fastloss.log_softmax(2.5).shape == ()
    assert fastloss.logsumexp(np.float32(2.5)) == np.float32(2.5)
    assert type(fastloss.logsumexp(np.float32(2.5))) is np.float32
    assert np.isnan(fastloss.softmax(np.nan))
    assert fastloss.cross_entropy([3.0], 0) == 0.0  # (C,) logits and a 0-d target: one row
    assert fastloss.nll_loss([-0.5, -2.0], 1) == 2.0
    np.testing.assert_array_equal(fastloss.softmax(np.ones((4, 1))), np.ones((4, 1)))


@pytest.mark.parametrize("logits", [np.float64(3.0), np.array(3.0, np.float32), 3.0, 2])
@pytest.mark.parametrize("target", [np.int64(0), 0, np.array(0.5)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_zero_d_logits_raise_in_cross_entropy_and_nll_loss(logits, target, reduction):
    """0-d logits have no class axis: torch raises, and so do cross_entropy and nll_loss
    (the softmax family keeps its one-class meaning)."""
    for fn in ("cross_entropy", "nll_loss"):
        with pytest.raises(ValueError, match=rf"{fn}: 0-d input has no class axis"):
            getattr(fastloss, fn)(logits, target, reduction=reduction)
    with pytest.raises(ValueError, match="evaluate: 0-d input has no class axis"):
        fastloss.evaluate(logits, 0)
    with pytest.raises(ValueError, match="Evaluator.update: 0-d input has no class axis"):
        fastloss.Evaluator().update(logits, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty(dtype):
    for shape, axis in [((0, 5), -1), ((0, 5), 1), ((3, 0, 4), 0), ((2, 0), 0)]:
        x = np.zeros(shape, dtype)
        t = np.zeros(shape[: axis % 2] + shape[axis % 2 + 1 :], np.int64)
        if t.size == 0:
            assert np.isnan(fastloss.cross_entropy(x, t, axis=axis))
            assert fastloss.cross_entropy(x, t, axis=axis, reduction="sum") == 0
            assert fastloss.nll_loss(x, t, axis=axis, reduction="none").shape == t.shape
        for name in SOFTMAX_FAMILY:
            got = getattr(fastloss, name)(x, axis=axis)
            want = getattr(ref, name)(x, axis=axis)
            assert np.shape(got) == np.shape(want)
            np.testing.assert_array_equal(got, want)
    assert fastloss.logsumexp(np.zeros((2, 0), dtype)).tolist() == [-np.inf, -np.inf]


def test_logsumexp_axes_and_keepdims(backend):
    x = logits((3, 4, 5, 6), np.float64)
    for axis in [0, 1, (0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (0, 1, 2, 3), None, (-1, 0), ()]:
        for keepdims in (False, True):
            got = fastloss.logsumexp(x, axis=axis, keepdims=keepdims)
            want = ref.logsumexp(
                x, axis=axis if axis is not None else (0, 1, 2, 3), keepdims=keepdims
            )
            assert np.shape(got) == np.shape(want), (axis, keepdims)
            np.testing.assert_allclose(got, want, **float_tolerance(np.float64))
    x32 = x.astype(np.float32)
    got = fastloss.logsumexp(x32, axis=(0, 2))
    assert got.dtype == np.float32
    assert_matches(got, ref.logsumexp(x32, axis=(0, 2)), np.float32)
    assert type(fastloss.logsumexp(x32, axis=None)) is np.float32
    with pytest.raises(ValueError, match="duplicate"):
        fastloss.logsumexp(x, axis=(1, 1))
    with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else AxisError):
        fastloss.logsumexp(x, axis=4)


def test_out_parameter():
    x = logits((9, 70), np.float32)
    for name in ("softmax", "log_softmax"):
        want = getattr(fastloss, name)(x)
        out = np.empty_like(x)
        assert getattr(fastloss, name)(x, out=out) is out
        np.testing.assert_array_equal(out, want)
        out64 = np.empty(x.shape)
        assert getattr(fastloss, name)(x, out=out64) is out64
        np.testing.assert_array_equal(out64, want.astype(np.float64))
        inplace = x.copy()
        assert getattr(fastloss, name)(inplace, out=inplace) is inplace
        np.testing.assert_array_equal(inplace, want)
        strided = np.empty((9, 140), np.float32)[:, ::2]
        getattr(fastloss, name)(x, out=strided)
        np.testing.assert_array_equal(strided, want)
        with pytest.raises(ValueError, match=rf"{name}: out shape"):
            getattr(fastloss, name)(x, out=np.empty((9, 71), np.float32))


def test_float16_and_mixed_dtypes():
    x = logits((5, 30), np.float16)
    t = targets(5, 30)
    got = fastloss.cross_entropy(x, t)
    assert got.dtype == np.float32
    assert_matches(got, ref.cross_entropy(x, t), np.float32)
    # float16 as itself where _core has half kernels, else through float32
    assert fastloss.softmax(x).dtype == np.float16
    y = np.asarray(ref.softmax(logits((5, 30), np.float64, seed=4)))
    got = fastloss.cross_entropy(x.astype(np.float32), y)  # float32 logits, float64 targets
    assert got.dtype == np.float64
    assert fastloss.logsumexp([1, 2, 3]).dtype == np.float64  # integers read as float64


# ---------------------------------------------------------------------------------------
# semantics (docs/semantics.md)


def test_spec_worked_examples():
    np.testing.assert_allclose(
        fastloss.softmax(np.array([3.0, 1.0, -3.0])),
        [0.87887824, 0.11894324, 0.00217852],
        rtol=0,
        atol=5e-9,
    )
    z = np.array([3.0, 1.0, -3.0], np.float32)
    assert_matches(fastloss.softmax(z), np.exp(z - z.max()) / np.exp(z - z.max()).sum(), np.float32)
    t = np.array([2, 1, 0])
    for rows, printed in [
        ([[0.3, 0.3, 0.4], [0.3, 0.4, 0.3], [0.1, 0.2, 0.7]], 1.37838885),
        ([[0.1, 0.2, 0.7], [0.1, 0.7, 0.2], [0.3, 0.4, 0.3]], 0.63910756),
    ]:
        p = np.array(rows)
        exact = -np.mean(np.log(p[np.arange(3), t]))
        for fn in (fastloss.nll_loss, fastloss.cross_entropy):
            got = fn(np.log(p), t)
            np.testing.assert_allclose(got, printed, rtol=0, atol=5e-9)
            np.testing.assert_allclose(got, exact, **float_tolerance(np.float64))
            got32 = fn(np.log(p).astype(np.float32), t)
            assert_matches(got32, exact, np.float32, reduction="mean")


def test_all_ignored_and_ignore_index_a_valid_class(backend):
    for c in (5, 300):
        x = logits((6, c), np.float32)
        t = np.full(6, -100)
        assert np.isnan(fastloss.cross_entropy(x, t))
        assert fastloss.cross_entropy(x, t, reduction="sum") == 0
        np.testing.assert_array_equal(fastloss.cross_entropy(x, t, reduction="none"), np.zeros(6))
        assert np.isnan(fastloss.nll_loss(x, t))
        t = np.array([1, 2, 1, 0, 1, 3])
        for kw in ({}, {"weight": np.arange(1.0, c + 1)}, {"label_smoothing": 0.2}):
            assert_matches(
                fastloss.cross_entropy(x, t, ignore_index=1, **kw),
                ref.cross_entropy(x, t, ignore_index=1, **kw),
                np.float32,
            )
        xn = x.copy()
        xn[0] = np.nan  # an ignored row of NaN logits still gives exactly 0
        got = fastloss.cross_entropy(xn, t, ignore_index=1, reduction="none")
        assert got[0] == 0 and np.isfinite(got).all()


def test_index_errors():
    x = np.zeros((3, 4), np.float32)
    for fn in (fastloss.cross_entropy, fastloss.nll_loss):
        name = fn.__name__
        with pytest.raises(
            IndexError,
            match=rf"{name}: target\[1\] = 4 is outside \[0, 4\) and is not ignore_index \(-100\)",
        ):
            fn(x, np.array([0, 4, 9]))
        with pytest.raises(IndexError, match=rf"{name}: target\[2\] = -1 is outside"):
            fn(x, np.array([0, 1, -1], np.int32))
        with pytest.raises(IndexError, match=rf"{name}: target\[0, 1\] = 7 is outside \[0, 3\)"):
            fn(np.zeros((2, 3, 2)), np.array([[0, 7], [1, 2]]), axis=1)
        with pytest.raises(
            IndexError, match=rf"{name}: target\[5\] = 400 is outside \[0, 200\)"
        ):  # lanes and rows engines
            fn(np.zeros((40, 200)), np.r_[np.zeros(5, int), 400, np.zeros(34, int)])
        assert np.isfinite(fn(x, np.array([0, 1, -1]), ignore_index=-1))


def test_errors():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"target shape \(3, 1\) must be"):
        fastloss.cross_entropy(x, np.zeros((3, 1), np.int64))
    with pytest.raises(TypeError, match="integer class indices"):
        fastloss.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        fastloss.nll_loss(x, np.array([True, False, True]))
    with pytest.raises(TypeError, match="must be float"):
        fastloss.cross_entropy(x, np.zeros((3, 4), np.int64))
    with pytest.raises(ValueError, match="ignore_index is not supported with probability targets"):
        fastloss.cross_entropy(x, np.full((3, 4), 0.25), ignore_index=1)


def test_target_shape_error_suggests_axis_1():
    """Logits in PyTorch's (N, C, d1, ...) layout with the default axis=-1: the message says
    to pass axis=1 (only when the target has the shape that axis=1 expects)."""
    x = np.zeros((2, 5, 8, 8), np.float32)
    t = np.zeros((2, 8, 8), np.int64)
    for fn in (fastloss.cross_entropy, fastloss.nll_loss, fastloss.evaluate):
        with pytest.raises(ValueError, match=r"target shape \(2, 8, 8\) .* pass axis=1$"):
            fn(x, t)
        fn(x, t, axis=1)  # the suggestion works
    with pytest.raises(ValueError, match=r"class axis, \(2, 5, 8\)$"):
        fastloss.cross_entropy(x, np.zeros((2, 5, 7), np.int64))


# ---------------------------------------------------------------------------------------
# extremes (docs/numerics.md, "Extremes")


def extreme_rows(dtype, n_classes):
    """Rows that stress the kernels, with their targets; NaN/inf in first, middle, last and
    tail positions."""
    big = 1e4 if dtype == np.float32 else 1e300
    rng = np.random.default_rng(5)
    rows, ts = [], []

    def add(row, t):
        rows.append(np.asarray(row, np.float64))
        ts.append(t)

    c = n_classes
    base = rng.normal(0, 2, c)
    for pos in sorted({0, c // 2, c - 1, c - 2}):
        for v in (np.nan, np.inf):
            r = base.copy()
            r[pos] = v
            add(r, (pos + 1) % c)
    add(np.full(c, -np.inf), 0)  # all masked
    r = base.copy()
    r[1::2] = -np.inf  # masked classes, target on a live one
    add(r, 0)
    add(r, 1 % c)  # target on a masked class: +inf
    for off in (50.0, -50.0):
        add(base + off, 3 % c)
    for lead in (20.0, 30.0, 40.0):  # confident rows, the target far above the first vector
        r = base.copy()
        r[c - 1] = r.max() + lead
        add(r, c - 1)
    r = base.copy()
    r[c // 2] = 100.0  # far above the row's first vector: the fold overflows, redo
    add(r, 0)
    add(rng.uniform(-big, big, c), 2 % c)
    r = rng.uniform(-big, big, c)
    r[c // 3] = big
    add(r, c // 3)
    add(np.full(c, big), 0)
    add(np.full(c, -big), 0)
    return np.array(rows).astype(dtype), np.array(ts)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [4, 17, 1000])
def test_extremes(n_classes, dtype, backend):
    x, t = extreme_rows(dtype, n_classes)
    with np.errstate(invalid="ignore", over="ignore"):
        for kw in (
            {},
            {"label_smoothing": 0.1},
            {"weight": np.linspace(0.5, 2, n_classes).astype(dtype)},
        ):
            got = fastloss.cross_entropy(x, t, reduction="none", **kw)
            compare(got, ref.cross_entropy(x, t, reduction="none", **kw), dtype)
        y = np.zeros_like(x)
        y[np.arange(len(t)), t] = 1
        for kw in ({}, {"label_smoothing": 0.1}):
            got = fastloss.cross_entropy(x, y, reduction="none", **kw)
            compare(got, ref.cross_entropy(x, y, reduction="none", **kw), dtype)
        for name in SOFTMAX_FAMILY:
            compare(getattr(fastloss, name)(x), getattr(ref, name)(x), dtype)
        # The same rows along axis 0 of a (C, N) array: the lanes engine, one row per lane.
        xt = np.ascontiguousarray(x.T)
        compare(
            fastloss.cross_entropy(xt, t, axis=0, reduction="none"),
            ref.cross_entropy(x, t, reduction="none"),
            dtype,
        )
        for name in SOFTMAX_FAMILY:
            compare(getattr(fastloss, name)(xt, axis=0), getattr(ref, name)(xt, axis=0), dtype)


def test_torch_values_at_the_extremes():
    inf = np.inf
    x = np.array([[0.0, -inf, 1.0], [inf, 0.0, 0.0], [-inf, -inf, -inf], [np.nan, 0, 0]])
    got = fastloss.cross_entropy(x, [1, 0, 0, 1], reduction="none")
    assert got[0] == inf and np.isnan(got[1:]).all()
    assert fastloss.cross_entropy(x[:1], [0], label_smoothing=0.1) == inf
    assert np.isnan(fastloss.cross_entropy(x[:1], np.array([[0.5, 0.0, 0.5]])))
    assert fastloss.cross_entropy(x[:1], np.array([[0.5, 0.0, 0.5]]), label_smoothing=0.1) == inf
    np.testing.assert_array_equal(fastloss.logsumexp(x), [ref.logsumexp(x[0]), inf, -inf, np.nan])
    assert fastloss.logsumexp([inf, -inf]) == inf
    assert fastloss.softmax(x)[0, 1] == 0 and fastloss.log_softmax(x)[0, 1] == -inf
    assert np.isnan(fastloss.softmax(x)[1:]).all() and np.isnan(fastloss.log_softmax(x)[1:]).all()


@pytest.mark.parametrize("n_classes", [2, 16, 64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_label_smoothing_below_the_smallest_subnormal(n_classes, dtype, backend):
    """An ε that rounds to 0 in float32 (ε/C even in float64, for 5e-324) keeps the smoothing
    term of a row with a masked class at +inf, as torch float64, not 0·inf = NaN; a row without
    one is the unsmoothed loss."""
    x = np.full((2, n_classes), -0.132, dtype)
    x[0, 0] = -np.inf
    x[1] = np.linspace(-1, 1, n_classes)
    for eps in (3e-195, 5e-324):
        for target in ([0, 1], [1, 0]):
            for red in ("none", "sum"):
                got = fastloss.cross_entropy(x, target, label_smoothing=eps, reduction=red)
                want = ref.cross_entropy(x, target, label_smoothing=eps, reduction=red)
                plain = ref.cross_entropy(x, target, reduction=red)
                assert np.reshape(want, -1)[0] == np.inf
                compare(got, want, dtype, terms=2, reduction=red)
                if red == "none":
                    compare(got[1:], plain[1:], dtype)
            y = np.full((2, n_classes), 1.0 / n_classes, dtype)
            y[0, 0] = 0.0
            got = fastloss.cross_entropy(x, y, label_smoothing=eps, reduction="none")
            assert got[0] == np.inf
    torch = pytest.importorskip("torch", reason="torch is the semantic model")
    want = torch.nn.functional.cross_entropy(
        torch.from_numpy(x.astype(np.float64)),
        torch.tensor([1, 0]),
        label_smoothing=3e-195,
        reduction="none",
    ).numpy()
    got = fastloss.cross_entropy(x, [1, 0], label_smoothing=3e-195, reduction="none")
    compare(got, want, dtype)
    compare(
        ref.cross_entropy(x, [1, 0], label_smoothing=3e-195, reduction="none"),
        want,
        np.float64,
    )


@pytest.mark.parametrize("n_classes", [10, 16, 48, 1000, 32001])
def test_confident_rows_mean(n_classes, backend):
    """Target logits 20-40 above the rest: the loss is ~1e-9..1e-5 per row, and the mean needs
    the small terms a float32 lane holding the dominant 1 would drop (docs/numerics.md)."""
    n = 64 if n_classes < 32001 else 8
    rng = np.random.default_rng(n_classes)
    x = rng.normal(0, 1, (n, n_classes)).astype(np.float32)
    t = rng.integers(0, n_classes, n)
    x[np.arange(n), t] = x.max(axis=1) + rng.uniform(20, 40, n).astype(np.float32)
    for off in (0.0, 50.0, -50.0):
        xo = (x + np.float32(off)).astype(np.float32)
        want = ref.cross_entropy(xo, t, reduction="none")
        compare(fastloss.cross_entropy(xo, t, reduction="none"), want, np.float32)
        assert_matches(fastloss.cross_entropy(xo, t), np.mean(want), np.float32, reduction="mean")
        compare(fastloss.log_softmax(xo), ref.log_softmax(xo), np.float32)


@pytest.mark.parametrize("n_classes", [10, 16, 21, 24, 25, 48, 49])
@pytest.mark.parametrize("dominant", [0, "last"])
def test_dropped_terms_below_half_ulp(n_classes, dominant, backend):
    """The worst case of the lanes engine's float32 sums (lane_engine.hpp, kLanePairWiden): the
    dominant class e^0 = 1 in a sum first (or last), every other class just below half an ulp
    of 1 (e^{x - m} = 0.99 * 2^-24), so a float32 sum holding the 1 drops each of them. The
    loss is log(1 + (C - 1) * 0.99 * 2^-24) ~ C * 6e-8, and the tolerance allows 1e-6 absolute."""
    n, s = 3, 40  # axis=1 over (n, C, s): lanes engine tiles, the last one partial
    lead = n_classes - 1 if dominant == "last" else 0
    small = np.float32(np.log(0.99 * 2.0**-24))
    for off in (0.0, 50.0, -50.0):
        x = np.full((n, n_classes, s), small + np.float32(off), np.float32)
        x[:, lead, :] = np.float32(off)
        t = np.full((n, s), lead)
        want = ref.cross_entropy(x, t, axis=1, reduction="none")
        got = fastloss.cross_entropy(x, t, axis=1, reduction="none")
        compare(got, want, np.float32)
        got = fastloss.cross_entropy(x, t, axis=1)
        assert_matches(got, np.mean(want), np.float32, reduction="mean")
        rows = np.moveaxis(x, 1, -1).reshape(-1, n_classes).copy()
        got = fastloss.cross_entropy(rows, t.reshape(-1))
        assert_matches(got, np.mean(want), np.float32, reduction="mean")
        compare(fastloss.logsumexp(x, axis=1), ref.logsumexp(x, axis=1), np.float32)


# ---------------------------------------------------------------------------------------
# against torch


def test_matches_torch():
    torch = pytest.importorskip(
        "torch", reason="torch is not installed: compared with the reference only"
    )
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    for shape, axis in [((64, 1000), -1), ((300, 10), -1), ((4, 7, 5, 3), 1)]:
        x = rng.normal(0, 3, shape)
        c = shape[axis]
        tshape = shape[:1] + shape[2:] if axis == 1 else shape[:1]
        t = rng.integers(0, c, tshape)
        w = rng.uniform(0.5, 2, c)
        xt, tt, wt = torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(w)
        for kw in (
            {},
            {"label_smoothing": 0.2},
            {"reduction": "sum"},
            {"reduction": "none"},
            {"ignore_index": 1},
        ):
            for weight in (None, w):
                got = fastloss.cross_entropy(x, t, axis=axis, weight=weight, **kw)
                want = F.cross_entropy(xt, tt, weight=None if weight is None else wt, **kw).numpy()
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
        y = np.asarray(ref.softmax(rng.normal(size=shape), axis=axis))
        np.testing.assert_allclose(
            fastloss.cross_entropy(x, y, axis=axis, label_smoothing=0.1),
            F.cross_entropy(xt, torch.from_numpy(y), label_smoothing=0.1).numpy(),
            rtol=1e-12,
        )
        lp = F.log_softmax(xt, dim=axis)
        np.testing.assert_allclose(
            fastloss.nll_loss(lp.numpy(), t, axis=axis, weight=w),
            F.nll_loss(lp, tt, weight=wt).numpy(),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            fastloss.softmax(x, axis=axis),
            torch.softmax(xt, dim=axis).numpy(),
            rtol=1e-12,
            atol=1e-13,
        )
        np.testing.assert_allclose(
            fastloss.log_softmax(x, axis=axis),
            torch.log_softmax(xt, dim=axis).numpy(),
            rtol=1e-12,
            atol=1e-13,
        )
        np.testing.assert_allclose(
            fastloss.logsumexp(x, axis=axis), torch.logsumexp(xt, dim=axis).numpy(), rtol=1e-12
        )
    # float32 against torch's float32, at the float32 tolerance.
    x = rng.normal(0, 3, (128, 32001)).astype(np.float32)
    t = rng.integers(0, 32001, 128)
    want = F.cross_entropy(
        torch.from_numpy(x).double(), torch.from_numpy(t), reduction="none"
    ).numpy()
    assert_matches(fastloss.cross_entropy(x, t, reduction="none"), want, np.float32)
