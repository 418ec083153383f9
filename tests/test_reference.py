"""Tests of ``fastloss.reference`` itself.

The kernels are tested against the reference, so the reference is tested against
three things: the worked examples at their exact values, the semantics
docs/semantics.md and docs/numerics.md spell out (checked directly, without torch), and
``torch.nn.functional`` in float64 over many option combinations.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from fastloss import reference as ref

# The float64 bound of docs/numerics.md.
RTOL = 1e-12
ATOL = 1e-13
# The worked examples are printed with 8 decimals.
PRINTED_ATOL = 5e-9

REDUCTIONS = ("mean", "sum", "none")
INF = np.inf
NAN = np.nan


def assert_result(got: Any, want: Any, *, reduction: str, rtol: float = RTOL, atol: float = 0.0):
    """``got`` has the reference's return type and matches ``want`` (NaN and inf in place).

    ``atol`` defaults to 0: torch evaluates the elementwise losses with the same
    formulas, so even tiny values (``log1p(-p)`` for small ``p``) must agree to
    ``rtol``. Anything that goes through a log-softmax passes the float64 ``ATOL``:
    ``(x - m) - log Σ`` cancels to about one ulp of ``log Σ`` near 0.
    """
    if reduction == "none":
        assert isinstance(got, np.ndarray) and got.dtype == np.float64
        assert got.shape == np.shape(want)
    else:
        assert type(got) is np.float64
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


# ---------------------------------------------------------------------------
# The worked examples of the article, at their exact values


def test_softmax_worked_example():
    z = np.array([3.0, 1.0, -3.0])
    got = ref.softmax(z)
    np.testing.assert_allclose(got, np.exp(z - z.max()) / np.exp(z - z.max()).sum(), rtol=RTOL)
    np.testing.assert_allclose(got, [0.87887824, 0.11894324, 0.00217852], rtol=0, atol=PRINTED_ATOL)


def test_entropy_worked_example():
    p = np.array([0.7, 0.2, 0.1])
    got = ref.entropy(p)
    assert type(got) is np.float64
    np.testing.assert_allclose(got, -np.sum(p * np.log(p)), rtol=RTOL)
    np.testing.assert_allclose(got, 0.80181855, rtol=0, atol=PRINTED_ATOL)


@pytest.mark.parametrize(
    ("probs", "printed"),
    [
        # The article prints the middle row as [.3, .4, .4]; [.3, .4, .3] is meant.
        ([[0.3, 0.3, 0.4], [0.3, 0.4, 0.3], [0.1, 0.2, 0.7]], 1.37838885),
        ([[0.1, 0.2, 0.7], [0.1, 0.7, 0.2], [0.3, 0.4, 0.3]], 0.63910756),
    ],
    ids=["uncertain", "confident"],
)
def test_mean_cross_entropy_worked_examples(probs: list[list[float]], printed: float):
    p = np.array(probs)
    t = np.array([2, 1, 0])
    expected = -np.mean(np.log(p[np.arange(3), t]))
    # These are probabilities, not logits: the loss is nll_loss of their log.
    got = ref.nll_loss(np.log(p), t)
    assert type(got) is np.float64
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    np.testing.assert_allclose(got, printed, rtol=0, atol=PRINTED_ATOL)
    # log p is already normalized, so taking it as logits changes nothing.
    np.testing.assert_allclose(ref.cross_entropy(np.log(p), t), expected, rtol=RTOL)


# ---------------------------------------------------------------------------
# API shape: the names and signatures of the public API

_KW = inspect.Parameter.KEYWORD_ONLY
_POS = inspect.Parameter.POSITIONAL_OR_KEYWORD

SIGNATURES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "cross_entropy": (
        ("logits", "target"),
        dict(weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, axis=-1),
    ),
    "nll_loss": (
        ("log_probs", "target"),
        dict(weight=None, ignore_index=-100, reduction="mean", axis=-1),
    ),
    "log_softmax": (("x",), dict(axis=-1, out=None)),
    "softmax": (("x",), dict(axis=-1, out=None)),
    "logsumexp": (("x",), dict(axis=-1, keepdims=False)),
    "binary_cross_entropy": (("probs", "target"), dict(weight=None, reduction="mean")),
    "binary_cross_entropy_with_logits": (
        ("logits", "target"),
        dict(weight=None, pos_weight=None, reduction="mean"),
    ),
    "kl_div": (("input", "target"), dict(reduction="mean", log_target=False)),
    "entropy": (("p",), dict(axis=-1)),
    "mse_loss": (("input", "target"), dict(reduction="mean")),
    "l1_loss": (("input", "target"), dict(reduction="mean")),
    "huber_loss": (("input", "target"), dict(delta=1.0, reduction="mean")),
    "smooth_l1_loss": (("input", "target"), dict(beta=1.0, reduction="mean")),
    # The metrics behind fastloss.evaluate / Evaluator and RegressionEvaluator.
    "classification_metrics": (
        ("logits", "target"),
        dict(
            topk=(1, 5),
            weight=None,
            ignore_index=-100,
            label_smoothing=0.0,
            axis=-1,
            sample_weight=None,
        ),
    ),
    "regression_metrics": (("input", "target"), dict(sample_weight=None, delta=1.0)),
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_matches_spec(name: str):
    data, options = SIGNATURES[name]
    params = inspect.signature(getattr(ref, name)).parameters
    assert list(params) == [*data, *options]
    assert all(params[p].kind is _POS for p in data)
    assert {p: params[p].default for p in options} == options
    assert all(params[p].kind is _KW for p in options)
    assert getattr(ref, name).__doc__


def test_all_lists_every_function():
    assert sorted(ref.__all__) == sorted(SIGNATURES)


# ---------------------------------------------------------------------------
# Semantics of docs/semantics.md and docs/numerics.md, checked without torch

# One small valid call per function; the data are already float64.
_P = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
CALLS: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "cross_entropy": (ref.cross_entropy, (np.log(_P), np.array([2, 0]))),
    "cross_entropy_probs": (ref.cross_entropy, (np.log(_P), _P[::-1].copy())),
    "nll_loss": (ref.nll_loss, (np.log(_P), np.array([2, 0]))),
    "binary_cross_entropy": (ref.binary_cross_entropy, (_P, _P[::-1].copy())),
    "binary_cross_entropy_with_logits": (ref.binary_cross_entropy_with_logits, (_P, _P[::-1])),
    "kl_div": (ref.kl_div, (np.log(_P), _P[::-1].copy())),
    "mse_loss": (ref.mse_loss, (_P, _P[::-1])),
    "l1_loss": (ref.l1_loss, (_P, _P[::-1])),
    "huber_loss": (ref.huber_loss, (_P, _P[::-1])),
    "smooth_l1_loss": (ref.smooth_l1_loss, (_P, _P[::-1])),
}


@pytest.mark.parametrize("case", sorted(CALLS))
def test_bad_reduction_raises_value_error_listing_choices(case: str):
    func, args = CALLS[case]
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'.*'avg'"):
        func(*args, reduction="avg")


def test_batchmean_only_for_kl_div():
    assert type(ref.kl_div(*CALLS["kl_div"][1], reduction="batchmean")) is np.float64
    with pytest.raises(ValueError, match="'batchmean'"):
        ref.kl_div(*CALLS["kl_div"][1], reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        ref.mse_loss(*CALLS["mse_loss"][1], reduction="batchmean")


@pytest.mark.parametrize("case", sorted(CALLS))
def test_return_types(case: str):
    func, args = CALLS[case]
    for reduction in ("mean", "sum"):
        assert type(func(*args, reduction=reduction)) is np.float64
    none = func(*args, reduction="none")
    assert isinstance(none, np.ndarray) and none.dtype == np.float64
    # float32 and list input are computed in float64 too
    as_f32 = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in args]
    assert type(func(*as_f32)) is np.float64
    assert type(func(*[a.tolist() for a in args])) is np.float64


@pytest.mark.parametrize("case", sorted(CALLS))
def test_empty_input_mean_is_nan_sum_is_zero(case: str):
    func, args = CALLS[case]
    empty = [a[:0] for a in args]
    assert np.isnan(func(*empty))
    assert func(*empty, reduction="sum") == 0.0
    # per-row losses have no class axis; elementwise losses keep the input's shape
    per_row = case.startswith(("cross_entropy", "nll_loss"))
    assert func(*empty, reduction="none").shape == ((0,) if per_row else (0, 3))


@pytest.mark.parametrize("func", [ref.cross_entropy, ref.nll_loss])
@pytest.mark.parametrize("weight", [None, np.array([0.5, 2.0, 3.0])])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_all_rows_ignored(func: Callable[..., Any], weight: Any, label_smoothing: float):
    options = dict(weight=weight)
    if func is ref.cross_entropy:
        options["label_smoothing"] = label_smoothing
    x = np.log(_P)
    t = np.array([-100, -100])
    assert np.isnan(func(x, t, **options))
    assert func(x, t, reduction="sum", **options) == 0.0
    np.testing.assert_array_equal(func(x, t, reduction="none", **options), [0.0, 0.0])


def test_ignored_row_is_zero_even_if_its_logits_are_nan():
    x = np.array([[NAN, 0.0, 1.0], [0.0, 1.0, 2.0]])
    t = np.array([-100, 1])
    none = ref.cross_entropy(x, t, reduction="none", label_smoothing=0.2)
    assert none[0] == 0.0 and np.isfinite(none[1])


def test_ignore_index_may_be_a_valid_class():
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0], [2.0, 2.0, 0.0]])
    t = np.array([1, 2, 0])
    # Rows with target 1 are dropped, but class 1 still enters the other rows' lse.
    lse = np.log(np.exp(x).sum(axis=1))
    expected = -((x[1, 2] - lse[1]) + (x[2, 0] - lse[2])) / 2
    np.testing.assert_allclose(ref.cross_entropy(x, t, ignore_index=1), expected, rtol=RTOL)


def test_mean_divides_by_target_weights():
    x = np.log(_P)
    w = np.array([0.5, 2.0, 3.0])
    t = np.array([2, 0])
    nll = -np.log(_P[[0, 1], t])
    expected = (w[t] * nll).sum() / w[t].sum()
    np.testing.assert_allclose(ref.cross_entropy(x, t, weight=w), expected, rtol=RTOL)


def test_label_smoothing_with_weights_formula():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4))
    t = np.array([0, 3, 1, -100, 2, 3])
    w = rng.uniform(0.5, 2.0, 4)
    eps = 0.3
    lp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    counted = t != -100
    rows = np.arange(6)[counted]
    tc = t[counted]
    per_row = (1 - eps) * (-w[tc] * lp[rows, tc]) + (eps / 4) * -(w * lp[rows]).sum(axis=1)
    got = ref.cross_entropy(x, t, weight=w, label_smoothing=eps)
    np.testing.assert_allclose(got, per_row.sum() / w[tc].sum(), rtol=RTOL)


def test_probability_targets_mean_divides_by_rows_not_weights():
    x = np.log(_P)
    y = _P[::-1]
    w = np.array([0.5, 2.0, 3.0])
    expected = -(w * y * x).sum() / 2
    np.testing.assert_allclose(ref.cross_entropy(x, y, weight=w), expected, rtol=RTOL)
    with pytest.raises(ValueError, match="ignore_index"):
        ref.cross_entropy(x, y, ignore_index=1)
    with pytest.raises(ValueError, match="ignore_index"):
        ref.cross_entropy(x, y, ignore_index=-1)


def test_target_outside_range_raises_index_error():
    x = np.zeros((3, 4))
    with pytest.raises(IndexError, match=r"target\[1\] = 4 is outside \[0, 4\)"):
        ref.cross_entropy(x, np.array([0, 4, 1]))
    # -1 is not a wrap-around index here
    with pytest.raises(IndexError, match=r"target\[2\] = -1"):
        ref.nll_loss(x, np.array([0, 1, -1]))
    assert np.isfinite(ref.nll_loss(x, np.array([0, 1, -1]), ignore_index=-1))


def test_shapes_must_match_exactly():
    with pytest.raises(ValueError, match=r"input shape \(3, 1\) and target shape \(3,\)"):
        ref.mse_loss(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="target shape"):
        ref.cross_entropy(np.zeros((3, 4)), np.zeros((3, 1), dtype=np.int64))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_class_axis(axis: int):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 5))
    t = rng.integers(0, x.shape[axis], size=np.delete(x.shape, axis))
    moved = np.moveaxis(x, axis, -1)
    got = ref.cross_entropy(x, t, axis=axis, reduction="none")
    np.testing.assert_array_equal(got, ref.cross_entropy(moved, t, reduction="none"))
    np.testing.assert_array_equal(
        ref.softmax(x, axis=axis), np.moveaxis(ref.softmax(moved), -1, axis)
    )


def test_softmax_family_zero_d_is_one_class():
    assert ref.softmax(2.5) == 1.0 and ref.softmax(2.5).shape == ()
    assert ref.log_softmax(2.5) == 0.0 and ref.log_softmax(2.5).shape == ()
    assert ref.logsumexp(2.5) == 2.5
    assert ref.entropy(0.5) == -0.5 * np.log(0.5)


def test_softmax_out_parameter():
    x = np.array([[1.0, 2.0], [3.0, 3.0]])
    out = np.empty_like(x)
    assert ref.softmax(x, out=out) is out
    np.testing.assert_array_equal(out, ref.softmax(x))
    out32 = np.empty(x.shape, np.float32)
    assert ref.log_softmax(x, out=out32) is out32
    np.testing.assert_allclose(out32, ref.log_softmax(x), rtol=1e-7)


def test_masked_classes_and_non_finite_rows():
    x = np.array(
        [
            [0.0, -INF, 1.0],  # masked class
            [INF, 0.0, 1.0],  # +inf: NaN, as torch
            [NAN, 0.0, 1.0],
            [-INF, -INF, -INF],  # nothing left: NaN
            [1e300, -1e300, 0.0],
        ]
    )
    p = ref.softmax(x)
    lp = ref.log_softmax(x)
    assert p[0, 1] == 0.0 and lp[0, 1] == -INF
    np.testing.assert_allclose(p[0, [0, 2]], ref.softmax([0.0, 1.0]), rtol=RTOL)
    assert np.isnan(p[1:4]).all() and np.isnan(lp[1:4]).all()
    np.testing.assert_array_equal(p[4], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(lp[4], [0.0, -2e300, -1e300])
    lse = ref.logsumexp(x)
    assert lse[1] == INF and np.isnan(lse[2]) and lse[3] == -INF and lse[4] == 1e300
    assert ref.logsumexp([INF, -INF]) == INF
    assert ref.logsumexp(np.zeros((2, 0))).tolist() == [-INF, -INF]
    ce = ref.cross_entropy(x, np.array([0, 0, 0, 0, 0]), reduction="none")
    assert np.isfinite(ce[0]) and np.isnan(ce[1:4]).all() and ce[4] == 0.0
    # target on a masked class, and label smoothing over a masked class: +inf
    assert ref.cross_entropy(x[:1], np.array([1]), reduction="none")[0] == INF
    assert ref.cross_entropy(x[:1], np.array([0]), label_smoothing=0.1) == INF
    # a probability of 0 on a masked class: 0 * -inf = NaN
    assert np.isnan(ref.cross_entropy(x[:1], np.array([[0.5, 0.0, 0.5]])))


def test_logsumexp_axes_and_keepdims():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4)) * 50
    got = ref.logsumexp(x, axis=(0, 2))
    expected = np.log(np.exp(np.moveaxis(x, 1, 0).reshape(3, -1)).sum(axis=1))
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert ref.logsumexp(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert ref.logsumexp(x, axis=1).shape == (2, 4)
    assert type(ref.logsumexp(x[0, 0])) is np.float64


def test_logsumexp_is_shift_exact_at_extremes():
    # With the exact max as the shift the largest term is exp(0) = 1 exactly.
    assert ref.logsumexp([1e300, -1e300]) == 1e300
    np.testing.assert_allclose(ref.logsumexp([1e4, 1e4]), 1e4 + np.log(2), rtol=RTOL)


def test_entropy_zero_log_zero_and_no_renormalization():
    assert ref.entropy([1.0, 0.0, 0.0]) == 0.0
    np.testing.assert_allclose(ref.entropy([0.5, 0.5, 0.5]), 1.5 * np.log(2), rtol=RTOL)
    assert np.isnan(ref.entropy([0.5, NAN]))
    np.testing.assert_allclose(
        ref.entropy(np.array([[0.5, 0.25], [0.5, 0.75]]), axis=0),
        [np.log(2), -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))],
        rtol=RTOL,
    )


def test_binary_cross_entropy_log_clamp():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(
        ref.binary_cross_entropy(p, y, reduction="none"), [100.0, 100.0, 0.0, 0.0, np.log(2)]
    )
    # the weight broadcasts and is not in the mean's denominator
    w = np.array([[1.0], [3.0]])
    pp = np.full((2, 2), 0.5)
    np.testing.assert_allclose(
        ref.binary_cross_entropy(pp, np.ones((2, 2)), weight=w), 2 * np.log(2), rtol=RTOL
    )


@pytest.mark.parametrize(("p", "y"), [(1.5, 1.0), (-0.1, 0.0), (NAN, 1.0), (0.5, 1.1), (0.5, NAN)])
def test_binary_cross_entropy_rejects_values_outside_unit_interval(p: float, y: float):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ref.binary_cross_entropy(np.array([0.5, p]), np.array([0.5, y]))


def test_binary_cross_entropy_with_logits_is_stable():
    x = np.array([-40.0, -40.0, 40.0, 0.0, -1e300, 1e300, -1e4])
    y = np.array([0.0, 1.0, 0.0, 0.5, 0.0, 1.0, 1.0])
    got = ref.binary_cross_entropy_with_logits(x, y, reduction="none")
    # log(1 + e^-40) is e^-40 to within e^-80: no cancellation against x.
    np.testing.assert_allclose(got[0], np.exp(-40.0), rtol=1e-15)
    np.testing.assert_allclose(got[1], 40.0 + np.exp(-40.0), rtol=1e-15)
    np.testing.assert_allclose(got[2], 40.0, rtol=1e-15)
    np.testing.assert_allclose(got[3], np.log(2), rtol=1e-15)
    np.testing.assert_array_equal(got[4:], [0.0, 0.0, 1e4])
    assert (got >= 0).all()
    # pos_weight multiplies the positive term, broadcasting along the last axis
    pw = np.array([1.0, 2.0, 3.0])
    xs = np.zeros((2, 3))
    np.testing.assert_allclose(
        ref.binary_cross_entropy_with_logits(xs, np.ones((2, 3)), pos_weight=pw, reduction="none"),
        np.log(2) * np.broadcast_to(pw, (2, 3)),
        rtol=1e-15,
    )


def test_kl_div_zero_targets():
    x = np.array([-1.0, -INF, -INF, np.log(0.5)])
    y = np.array([0.0, 0.0, 0.5, 0.5])
    got = ref.kl_div(x, y, reduction="none")
    assert got[0] == 0.0 and np.isnan(got[1]) and got[2] == INF and got[3] == 0.0
    np.testing.assert_allclose(
        ref.kl_div(np.log(_P), _P[::-1], reduction="batchmean"),
        ref.kl_div(np.log(_P), _P[::-1], reduction="sum") / 2,
        rtol=RTOL,
    )
    # log_target: the same divergence
    np.testing.assert_allclose(
        ref.kl_div(np.log(_P), np.log(_P[::-1]), log_target=True, reduction="none"),
        ref.kl_div(np.log(_P), _P[::-1], reduction="none"),
        rtol=1e-14,
        atol=1e-15,
    )


def test_regression_formulas():
    x = np.array([0.0, 0.0, 0.0, 0.0, NAN, 1, 2])
    y = np.array([0.25, -1.0, 3.0, -5.0, 0.0, True, 0])
    d = x - y
    np.testing.assert_array_equal(ref.mse_loss(x, y, reduction="none"), d * d)
    np.testing.assert_array_equal(ref.l1_loss(x, y, reduction="none"), np.abs(d))
    np.testing.assert_array_equal(
        ref.huber_loss(x, y, delta=2.0, reduction="none"),
        [0.03125, 0.5, 2 * (3 - 1), 2 * (5 - 1), NAN, 0.0, 2 * (2 - 1)],
    )
    np.testing.assert_array_equal(
        ref.smooth_l1_loss(x, y, beta=2.0, reduction="none"),
        [0.015625, 0.25, 2.0, 4.0, NAN, 0.0, 1.0],
    )
    np.testing.assert_array_equal(ref.smooth_l1_loss(x, y, beta=0.0, reduction="none"), np.abs(d))
    # integer inputs are read as float64
    assert ref.mse_loss([1, 2], [3, 5]) == 6.5
    with pytest.raises(ValueError, match="delta"):
        ref.huber_loss(x, y, delta=0.0)
    with pytest.raises(ValueError, match="beta"):
        ref.smooth_l1_loss(x, y, beta=-1.0)


# ---------------------------------------------------------------------------
# Agreement with torch.nn.functional in float64


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return pytest.importorskip(
        "torch", reason="torch is not installed: the comparison with torch.nn.functional needs it"
    )


def tt(torch: ModuleType, a: Any) -> Any:
    """A float64 torch tensor holding a copy of ``a``."""
    return torch.tensor(np.asarray(a, dtype=np.float64))


def as_numpy(t: Any) -> np.ndarray:
    return t.detach().numpy()


def with_specials(x: np.ndarray) -> np.ndarray:
    """``x`` of shape (N, C) with the hard rows: a confident row, rows
    offset by ±50 and by -1e4, a row scaled to ±1e4. Masked classes, non-finite and
    ±1e300 rows have their own tests, so that the reductions here stay finite."""
    x = x.copy()
    x[0] = 0.0
    x[0, 0] = 30.0  # confident row
    x[1] += 50.0
    x[2] -= 50.0
    x[3] *= 1e4
    x[5] -= 1e4
    return x


def class_index_case(layout: str, ignore: str, rng: np.random.Generator):
    """(logits, target, ignore_index, axis, torch-layout logits) for a layout name."""
    n_classes = 5
    shapes = {
        "NC": (16, n_classes),
        "NCH": (6, n_classes, 3),
        "NHC": (6, 3, n_classes),
        "C": (n_classes,),
    }
    x = rng.normal(size=shapes[layout]) * 3
    axis = 1 if layout == "NCH" else -1
    if layout == "NC":
        x = with_specials(x)
    target_shape = np.delete(x.shape, axis)
    t = np.asarray(rng.integers(0, n_classes, size=target_shape))
    if layout == "NC":
        t[:6] = 0
        t[6] = 2  # ensure class 2 is present, for ignore_index=2
    ignore_index = -100
    if ignore == "some":
        t.reshape(-1)[::3] = -100
    elif ignore == "valid_class":
        ignore_index = 2
        t.reshape(-1)[::2] = 2
    elif ignore == "all":
        t[...] = -100
    # torch wants the classes on axis 1 (or axis 0 unbatched)
    torch_x = np.moveaxis(x, -1, 1) if layout == "NHC" else x
    return x, t, ignore_index, axis, torch_x


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", ["none", "some", "valid_class", "all"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("layout", ["NC", "NCH", "NHC", "C"])
def test_cross_entropy_class_indices_matches_torch(
    torch: ModuleType,
    layout: str,
    label_smoothing: float,
    ignore: str,
    weighted: bool,
    reduction: str,
):
    rng = np.random.default_rng(10)
    x, t, ignore_index, axis, torch_x = class_index_case(layout, ignore, rng)
    w = rng.uniform(0.2, 3.0, 5) if weighted else None
    got = ref.cross_entropy(
        x,
        t,
        weight=w,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        axis=axis,
    )
    want = torch.nn.functional.cross_entropy(
        tt(torch, torch_x),
        torch.tensor(t),
        weight=None if w is None else tt(torch, w),
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
    assert_result(got, as_numpy(want), reduction=reduction, atol=ATOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", ["none", "some", "valid_class", "all"])
@pytest.mark.parametrize("layout", ["NC", "NCH", "NHC", "C"])
def test_nll_loss_matches_torch(
    torch: ModuleType, layout: str, ignore: str, weighted: bool, reduction: str
):
    rng = np.random.default_rng(11)
    x, t, ignore_index, axis, torch_x = class_index_case(layout, ignore, rng)
    lp = ref.log_softmax(x, axis=axis)
    torch_lp = np.moveaxis(lp, -1, 1) if layout == "NHC" else lp
    w = rng.uniform(0.2, 3.0, 5) if weighted else None
    got = ref.nll_loss(lp, t, weight=w, ignore_index=ignore_index, reduction=reduction, axis=axis)
    want = torch.nn.functional.nll_loss(
        tt(torch, torch_lp),
        torch.tensor(t),
        weight=None if w is None else tt(torch, w),
        ignore_index=ignore_index,
        reduction=reduction,
    )
    assert_result(got, as_numpy(want), reduction=reduction, atol=ATOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("layout", ["NC", "NCH", "NHC", "C"])
def test_cross_entropy_probabilities_matches_torch(
    torch: ModuleType, layout: str, label_smoothing: float, weighted: bool, reduction: str
):
    rng = np.random.default_rng(12)
    x, _, _, axis, torch_x = class_index_case(layout, "none", rng)
    y = ref.softmax(rng.normal(size=x.shape) * 2, axis=axis)
    y[y < 0.05] = 0.0  # exact zeros, also on the masked class of the "NC" layout
    torch_y = np.moveaxis(y, -1, 1) if layout == "NHC" else y
    w = rng.uniform(0.2, 3.0, 5) if weighted else None
    got = ref.cross_entropy(
        x, y, weight=w, reduction=reduction, label_smoothing=label_smoothing, axis=axis
    )
    want = torch.nn.functional.cross_entropy(
        tt(torch, torch_x),
        tt(torch, torch_y),
        weight=None if w is None else tt(torch, w),
        reduction=reduction,
        label_smoothing=label_smoothing,
    )
    assert_result(got, as_numpy(want), reduction=reduction, atol=ATOL)


NON_FINITE_ROWS = np.array(
    [
        [0.0, -INF, 1.0, 2.0],  # masked class
        [-INF, -INF, 3.0, -INF],  # one class left
        [INF, 0.0, 1.0, 2.0],
        [NAN, 0.0, 1.0, 2.0],
        [-INF, -INF, -INF, -INF],
        [1e300, -1e300, 0.0, 5e299],
        [1e4, -1e4, 0.0, 1e4],
        [40.0, 0.0, 0.0, 0.0],
    ]
)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("target_class", [0, 1, 2])
def test_cross_entropy_non_finite_rows_match_torch(
    torch: ModuleType, target_class: int, label_smoothing: float
):
    x = NON_FINITE_ROWS
    t = np.full(len(x), target_class)
    got = ref.cross_entropy(x, t, reduction="none", label_smoothing=label_smoothing)
    want = torch.nn.functional.cross_entropy(
        tt(torch, x), torch.tensor(t), reduction="none", label_smoothing=label_smoothing
    )
    assert_result(got, as_numpy(want), reduction="none", atol=ATOL)


@pytest.mark.parametrize(
    ("shape", "axis"), [((7, 5), -1), ((4, 5, 3), 1), ((4, 5, 3), 0), ((6,), 0), ((), 0)]
)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_matches_torch(
    torch: ModuleType, name: str, shape: tuple[int, ...], axis: int
):
    x = np.random.default_rng(13).normal(size=shape) * 10
    got = getattr(ref, name)(x, axis=axis)
    want = getattr(torch, name)(tt(torch, x), dim=axis)
    assert_result(got, as_numpy(want), reduction="none", atol=ATOL)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_non_finite_rows_match_torch(torch: ModuleType, name: str):
    x = NON_FINITE_ROWS
    got = getattr(ref, name)(x)
    want = getattr(torch, name)(tt(torch, x), dim=-1)
    assert_result(got, as_numpy(want), reduction="none", atol=ATOL)
    for value in (2.0, INF, -INF, NAN):  # 0-d: one class
        got0 = getattr(ref, name)(np.float64(value))
        np.testing.assert_equal(got0, as_numpy(getattr(torch, name)(tt(torch, value), dim=0)))


def test_class_losses_of_zero_d_logits_raise_as_torch(torch: ModuleType):
    for name in ("cross_entropy", "nll_loss"):
        with pytest.raises(ValueError, match=rf"{name}: .* got 0-d"):
            getattr(ref, name)(np.float64(3.0), np.int64(0))
        with pytest.raises((RuntimeError, IndexError, ValueError)):
            getattr(torch.nn.functional, name)(tt(torch, 3.0), torch.tensor(0))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [-1, 0, 1, (0, 2), (1, 2), (0, 1, 2)])
def test_logsumexp_matches_torch(torch: ModuleType, axis: int | tuple[int, ...], keepdims: bool):
    x = np.random.default_rng(14).normal(size=(3, 4, 5)) * 30
    got = ref.logsumexp(x, axis=axis, keepdims=keepdims)
    want = as_numpy(torch.logsumexp(tt(torch, x), dim=axis, keepdim=keepdims))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    assert np.shape(got) == want.shape


def bce_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    p = rng.uniform(0, 1, size=(8, 3))
    y = rng.uniform(0, 1, size=(8, 3))
    p[0] = [0.0, 1.0, 1e-300]  # logs clamped at -100
    y[0] = [1.0, 0.0, 1.0]
    p[1] = [0.0, 1.0, 1e-12]
    y[1] = [0.0, 1.0, 0.0]
    y[2] = [0.0, 1.0, 1.0]
    return p, y


WEIGHTS = {
    "none": None,
    "full": lambda rng: rng.uniform(0.1, 3.0, size=(8, 3)),
    "classes": lambda rng: rng.uniform(0.1, 3.0, size=3),
    "rows": lambda rng: rng.uniform(0.1, 3.0, size=(8, 1)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", sorted(WEIGHTS))
def test_binary_cross_entropy_matches_torch(torch: ModuleType, weight: str, reduction: str):
    rng = np.random.default_rng(15)
    p, y = bce_case(rng)
    w = None if WEIGHTS[weight] is None else WEIGHTS[weight](rng)
    got = ref.binary_cross_entropy(p, y, weight=w, reduction=reduction)
    want = torch.nn.functional.binary_cross_entropy(
        tt(torch, p), tt(torch, y), weight=None if w is None else tt(torch, w), reduction=reduction
    )
    assert_result(got, as_numpy(want), reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True], ids=["no_pos_weight", "pos_weight"])
@pytest.mark.parametrize("weight", sorted(WEIGHTS))
def test_binary_cross_entropy_with_logits_matches_torch(
    torch: ModuleType, weight: str, pos_weight: bool, reduction: str
):
    rng = np.random.default_rng(16)
    x = rng.normal(size=(8, 3)) * 8
    y = rng.uniform(0, 1, size=(8, 3))
    x[0] = [-30.0, 30.0, 0.0]
    y[0] = [0.0, 1.0, 0.5]
    x[1] = [-1e4, 1e4, -1e4]
    y[1] = [0.0, 1.0, 1.0]
    y[2] = [0.0, 1.0, 0.0]
    w = None if WEIGHTS[weight] is None else WEIGHTS[weight](rng)
    pw = rng.uniform(0.5, 4.0, size=3) if pos_weight else None
    got = ref.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw, reduction=reduction)
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        tt(torch, x),
        tt(torch, y),
        weight=None if w is None else tt(torch, w),
        pos_weight=None if pw is None else tt(torch, pw),
        reduction=reduction,
    )
    # torch computes (1-y)·x + (1+(pw-1)·y)·(log1p(e^-|x|) + max(-x, 0)), which
    # cancels for large negative x (x = -30, y = 0: exact 9.36e-14, torch 9.24e-14):
    # its absolute error is about eps·|x|, hence atol 1e-13 for |x| <= 30 instead
    # of the 1e-13 relative to the reference's exact sum of positive terms.
    assert_result(got, as_numpy(want), reduction=reduction, atol=1e-13)


KL_MEAN_WARNING = "ignore:reduction. 'mean' divides the total loss:UserWarning"
KL_MEAN = pytest.param(
    "mean",
    # torch warns that "mean" is not the true divergence; that is the point here.
    marks=pytest.mark.filterwarnings(KL_MEAN_WARNING),
)


@pytest.mark.parametrize("reduction", [KL_MEAN, "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(7, 5), (4, 5, 3), (6,)])
def test_kl_div_matches_torch(
    torch: ModuleType, shape: tuple[int, ...], log_target: bool, reduction: str
):
    rng = np.random.default_rng(17)
    x = ref.log_softmax(rng.normal(size=shape) * 2, axis=-1)
    y = ref.softmax(rng.normal(size=shape) * 2, axis=-1)
    y[y < 0.05] = 0.0
    x.reshape(-1)[:2] = -INF  # x = -inf against y = 0 (NaN) or y > 0 (+inf)
    y.reshape(-1)[0] = 0.0
    y.reshape(-1)[1] = 0.5
    with np.errstate(divide="ignore"):  # log 0 = -inf is wanted here
        target = np.log(y) if log_target else y
    got = ref.kl_div(x, target, reduction=reduction, log_target=log_target)
    want = torch.nn.functional.kl_div(
        tt(torch, x), tt(torch, target), reduction=reduction, log_target=log_target
    )
    assert_result(got, as_numpy(want), reduction=reduction)
    # and without the NaN/inf terms, so the reduced values are compared too
    x, target = x.reshape(-1)[2:], target.reshape(-1)[2:]
    got = ref.kl_div(x, target, reduction=reduction, log_target=log_target)
    want = torch.nn.functional.kl_div(
        tt(torch, x), tt(torch, target), reduction=reduction, log_target=log_target
    )
    assert_result(got, as_numpy(want), reduction=reduction)


def regression_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(9, 4)) * 3
    y = rng.normal(size=(9, 4)) * 3
    y[0] = x[0] + np.array([0.0, 0.5, 1.0, 2.0])  # on the branch points of delta / beta
    y[1] = x[1] - np.array([0.0, 0.5, 1.0, 2.0])
    x[2] = [1e150, -1e150, 1e300, -1e300]  # d² overflows to inf
    return x, y


REGRESSION = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("huber_loss", {"delta": 0.5}),
    ("huber_loss", {"delta": 1.0}),
    ("huber_loss", {"delta": 2.0}),
    ("smooth_l1_loss", {"beta": 0.0}),
    ("smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", {"beta": 1.0}),
    ("smooth_l1_loss", {"beta": 2.0}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan"])
@pytest.mark.parametrize(("name", "options"), REGRESSION, ids=[f"{n}-{o}" for n, o in REGRESSION])
def test_regression_matches_torch(
    torch: ModuleType, name: str, options: dict[str, float], nan: bool, reduction: str
):
    x, y = regression_case(np.random.default_rng(18))
    if not nan:
        x, y = np.delete(x, 2, axis=0), np.delete(y, 2, axis=0)
    else:
        x[3, 1] = NAN
    got = getattr(ref, name)(x, y, reduction=reduction, **options)
    want = getattr(torch.nn.functional, name)(
        tt(torch, x), tt(torch, y), reduction=reduction, **options
    )
    assert_result(got, as_numpy(want), reduction=reduction)


@pytest.mark.parametrize(("shape", "axis"), [((7, 5), -1), ((4, 5, 3), 1), ((5,), 0)])
def test_entropy_matches_torch(torch: ModuleType, shape: tuple[int, ...], axis: int):
    p = ref.softmax(np.random.default_rng(19).normal(size=shape) * 3, axis=axis)
    p[p < 0.05] = 0.0
    got = ref.entropy(p, axis=axis)
    want = as_numpy(torch.special.entr(tt(torch, p)).sum(dim=axis))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.filterwarnings(KL_MEAN_WARNING)  # torch's kl_div "mean" deprecation
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_inputs_match_torch(torch: ModuleType, reduction: str):
    x = np.zeros((0, 4))
    t = np.zeros(0, dtype=np.int64)
    cases = [
        ("cross_entropy", x, t),
        ("cross_entropy", x, x),  # probability targets
        ("nll_loss", x, t),
        ("mse_loss", x, x),
        ("binary_cross_entropy", x, x),
        ("binary_cross_entropy_with_logits", x, x),
        ("kl_div", x, x),
    ]
    for name, a, b in cases:
        got = getattr(ref, name)(a, b, reduction=reduction)
        b_torch = torch.tensor(b) if b.dtype.kind == "i" else tt(torch, b)
        want = getattr(torch.nn.functional, name)(tt(torch, a), b_torch, reduction=reduction)
        assert_result(got, as_numpy(want), reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_cross_entropy_masked_classes_match_torch(
    torch: ModuleType, weighted: bool, reduction: str
):
    # -inf masks some classes; no target sits on one, so every reduction is finite.
    rng = np.random.default_rng(20)
    x = rng.normal(size=(12, 6)) * 4
    t = rng.integers(0, 3, size=12)
    x[::2, 3:] = -INF
    x[1::3, 4] = -INF
    w = rng.uniform(0.2, 3.0, 6) if weighted else None
    got = ref.cross_entropy(x, t, weight=w, reduction=reduction)
    want = torch.nn.functional.cross_entropy(
        tt(torch, x),
        torch.tensor(t),
        weight=None if w is None else tt(torch, w),
        reduction=reduction,
    )
    assert np.isfinite(got).all()
    assert_result(got, as_numpy(want), reduction=reduction, atol=ATOL)
