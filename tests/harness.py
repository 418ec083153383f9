"""The equivalence harness: one table of cases for every public function, and the one
comparison with ``fastloss.reference`` (as bottleneck's ``unit_maker``).

A ``Case`` is a public function, how to make its inputs for a dtype and a shape, its options
and how to call it and its float64 twin. ``tests/test_equivalence.py`` runs every case over
instruction sets, thread counts, dtypes, layouts and shapes; ``tests/test_guard_pages.py``
runs them on inputs that end at a ``PROT_NONE`` page. Tolerances: docs/numerics.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

import fastloss
from conftest import MEMMAP_DIR, assert_matches, float_tolerance, native, result_dtype_of
from fastloss import reference

Shape = tuple[tuple[int, ...], int | None]  # (shape, class axis or None: the function has none)

# Empty, one element, odd sizes that leave SIMD tails (8 and 16 lanes), several dimensions, and
# one size of three 2^16-element chunks, where 1 and 3 threads split the work differently.
ELEMENTWISE: tuple[Shape, ...] = (
    ((0,), None),
    ((1,), None),
    ((37,), None),
    ((3, 41), None),
    ((2, 5, 19), None),
    ((140_003,), None),
)
# Class counts around the vector widths (8/16 lanes), the lanes/rows switch (48/49), long and
# odd rows; the class axis not last (whole inner tiles and a partial one); a row count the
# kernels cut into several parts.
CLASSES: tuple[Shape, ...] = (
    ((0, 5), -1),
    ((1, 1), -1),
    ((37, 10), -1),
    ((37, 16), -1),
    ((37, 17), -1),
    ((19, 48), -1),
    ((19, 49), -1),
    ((5, 67), -1),
    ((3, 1000), -1),
    ((2, 32001), -1),
    ((3, 7, 19), 1),
    ((2, 5, 37), 1),
    ((9, 3, 5), 0),
    ((2100, 61), -1),
)
# entropy: its kernel picks a path by shape (one long row cut in chunks, short rows over the
# flat data, rows along the row, the class axis first), and 0-d and empty inputs.
ENTROPY: tuple[Shape, ...] = (
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
)
# evaluate_chunked reads rows along axis 0, so the class axis is not axis 0 there.
CHUNKED = tuple(s for s in CLASSES if s[1] != 0)

# Array options named by their extent, made by ``Case.inputs`` for the drawn shape.
CLASS_WEIGHT = "class weight"  # one per class
LAST_WEIGHT = "last-axis weight"  # one per element of the last axis
FULL_WEIGHT = "full weight"  # one per element
ROW_WEIGHT = "row weight"  # one per row (the target's shape)


def result_dtype(args: tuple) -> np.dtype:
    """The dtype a function computes in: NumPy's promotion of its float data, float64 for
    anything else, float16 through float32."""
    floats = [np.asarray(a).dtype for a in args if np.asarray(a).dtype.kind == "f"]
    dtype = native(np.result_type(*floats)) if floats else np.dtype(np.float64)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def compare(
    got: Any,
    want: Any,
    dtype,
    *,
    reduction: str = "none",
    terms: float = 1,
    per_element=False,
    roundings=1,
) -> None:
    """A fastloss result against its float64 reference, at docs/numerics.md's tolerance for
    dtype and reduction: the result type (a NumPy scalar of the dtype where the reference
    gives a scalar, an array of the reference's shape where it gives an array, a dict of the
    reference's keys for the metrics) and the values (NaN and inf in place). "batchmean" is a
    sum of ``terms`` terms. ``per_element``: a scalar result is one value of a per-element
    function (entropy of one distribution): of the data's dtype, half types included.
    ``roundings``: as assert_matches'."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(want) <= set(got), sorted(set(want) - set(got))
        for key, value in want.items():
            if key == "count":
                assert got[key] == value
            else:
                np.testing.assert_allclose(
                    got[key], value, equal_nan=True, err_msg=key, **float_tolerance(dtype)
                )
        return
    if isinstance(want, np.generic):
        want_dtype = result_dtype_of(dtype, array=per_element)
        assert isinstance(got, np.generic) and got.dtype == want_dtype, type(got)
    else:
        assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
    assert_matches(
        got,
        want,
        dtype,
        terms=terms,
        reduction="sum" if reduction == "batchmean" else reduction,
        per_element=per_element,
        roundings=roundings,
    )


def bits(result) -> tuple:
    """The bits of a result (an array, a NumPy scalar, or a dict of them), to compare runs."""
    if isinstance(result, dict):
        return tuple((k, bits(v)) for k, v in sorted(result.items()))
    a = np.asarray(result)
    return (a.dtype.str, a.shape, a.tobytes())


def against_reference(name: str, *args, **opts) -> Any:
    """Calls fastloss.name and reference.name with the same arguments and compares them;
    returns fastloss's result."""
    got = getattr(fastloss, name)(*args, **opts)
    want = getattr(reference, name)(*args, **opts)
    reduction = opts.get("reduction", "mean" if np.ndim(want) == 0 else "none")
    terms = np.size(args[0])
    if reduction == "batchmean":
        terms /= max(np.shape(args[0])[0] if np.ndim(args[0]) else 1, 1)
    compare(got, want, result_dtype(args[:2]), reduction=reduction, terms=terms)
    return got


# ---------------------------------------------------------------------------------------
# inputs


def _rows_shape(shape: tuple[int, ...], axis: int | None) -> tuple[int, ...]:
    """The shape without the class axis: the target of class indices, the per-row results."""
    if axis is None:
        return shape
    return shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]


def _class_targets(rng, shape, axis, ignore_index=-100) -> np.ndarray:
    c = shape[axis]
    t = rng.integers(0, max(c, 1), _rows_shape(shape, axis))
    t.reshape(-1)[::5] = ignore_index  # some ignored rows
    return t


def _probabilities(rng, shape, axis) -> np.ndarray:
    x = rng.random(shape)
    x[x < 0.1] = 0.0  # 0·log 0
    x += x.sum(axis=axis, keepdims=True) == 0  # no row of zeros
    return x / x.sum(axis=axis, keepdims=True)


def _logits(rng, shape, _axis):
    return rng.normal(0.0, 3.0, shape)


def _regression(rng, shape, _axis):
    y = rng.normal(3.0, 2.0, shape)
    return y + rng.normal(0.0, 1.0, shape), y


def _bce(rng, shape, _axis):
    p = rng.random(shape)
    p.reshape(-1)[::11] = 0.0  # the -100 clamp of each log
    p.reshape(-1)[5::13] = 1.0
    y = rng.random(shape)
    y.reshape(-1)[::2] = np.round(y.reshape(-1)[::2])  # hard and soft labels mixed
    return p, y


def _bce_logits(rng, shape, _axis):
    return rng.normal(0.0, 6.0, shape), rng.random(shape)


def _kl(rng, shape, _axis):
    x = np.log(rng.random(shape) + 1e-12)
    y = rng.random(shape)
    y.reshape(-1)[::9] = 0.0  # 0·log 0 = 0
    return x, y


def _kl_log_target(rng, shape, axis):
    x, y = _kl(rng, shape, axis)
    with np.errstate(divide="ignore"):
        return x, np.log(y)  # -inf where y was 0


def _entropy(rng, shape, axis):
    p = rng.random(shape)
    if p.ndim and p.shape[axis]:
        p = p / np.sum(p, axis=axis, keepdims=True)
        p.reshape(-1)[::7] = 0.0  # 0·log 0
    return (p,)


def _classes(rng, shape, axis):
    return _logits(rng, shape, axis), _class_targets(rng, shape, axis)


def _class_probabilities(rng, shape, axis):
    return _logits(rng, shape, axis), _probabilities(rng, shape, axis)


def _classes_int32(rng, shape, axis):
    logits, target = _classes(rng, shape, axis)
    return logits, target.astype(np.int32)


def _nll(rng, shape, axis):
    log_probs = reference.log_softmax(_logits(rng, shape, axis), axis=axis)
    return log_probs, _class_targets(rng, shape, axis)


def _unary(maker):
    return lambda rng, shape, axis: (maker(rng, shape, axis),)


def _array_option(kind: str, rng, shape, axis) -> np.ndarray:
    if kind == CLASS_WEIGHT:
        return rng.uniform(0.2, 2.0, shape[axis])
    if kind == LAST_WEIGHT:
        return rng.uniform(0.2, 2.0, shape[-1:])
    if kind == FULL_WEIGHT:
        return rng.uniform(0.2, 2.0, shape)
    assert kind == ROW_WEIGHT, kind
    return rng.uniform(0.0, 2.0, _rows_shape(shape, axis))


# ---------------------------------------------------------------------------------------
# how to call a function and its reference


def _call_function(name: str, args: tuple, opts: dict) -> Any:
    return getattr(fastloss, name)(*args, **opts)


def _call_reference(name: str, args: tuple, opts: dict) -> Any:
    return getattr(reference, name)(*args, **opts)


def _split_update(opts: dict) -> tuple[dict, dict]:
    """(the evaluator's options, update's): sample_weight goes to update."""
    own = {k: v for k, v in opts.items() if k != "sample_weight"}
    return own, {k: v for k, v in opts.items() if k == "sample_weight"}


def _evaluator(_name, args, opts):
    own, update = _split_update(opts)
    return fastloss.Evaluator(**own).update(*args, **update).result()


def _regression_evaluator(_name, args, opts):
    own, update = _split_update(opts)
    return fastloss.RegressionEvaluator(**own).update(*args, **update).result()


_file_count = 0


def _file_array(a: np.ndarray) -> fastloss.FileArray:
    """a written raw into a file, as a FileArray (native byte order)."""
    global _file_count
    _file_count += 1
    a = np.ascontiguousarray(a, dtype=native(a.dtype))
    path = MEMMAP_DIR / f"file{_file_count}.bin"
    a.tofile(path)
    return fastloss.FileArray(path, a.dtype, a.shape)


def _chunked(make: Callable[..., Any]):
    """evaluate_chunked over an evaluator made by make, the logits read from a FileArray."""

    def call(_name, args, opts):
        own, update = _split_update(opts)
        data = (_file_array(np.asarray(args[0])), *args[1:])
        rows = max(7, len(data[0]) // 3)  # several chunks, the last one shorter
        ev = fastloss.evaluate_chunked(make(**own), *data, rows_per_chunk=rows, **update)
        return ev.result()

    return call


def _metrics_reference(twin: str):
    def call(_name, args, opts):
        return getattr(reference, twin)(
            *args, **{k: v for k, v in opts.items() if k != "reduction"}
        )

    return call


@dataclass(frozen=True)
class Case:
    """One public function with one set of options."""

    name: str  # in fastloss.__all__
    make: Callable[..., tuple]  # (rng, shape, axis) -> positional data in float64 / int64
    shapes: tuple[Shape, ...]
    opts: dict = field(default_factory=dict)  # plain values, or the array kinds above
    call: Callable[[str, tuple, dict], Any] = _call_function
    call_reference: Callable[[str, tuple, dict], Any] = _call_reference
    # Hypothesis strategies for each positional argument (elementwise functions only).
    elements: tuple[Callable[[int], st.SearchStrategy], ...] | None = None
    variant: str = ""  # what tells apart cases of one function with the same options

    @property
    def id(self) -> str:
        return "-".join(
            [
                self.name,
                *([self.variant] if self.variant else []),
                *(f"{k}={v}" for k, v in self.opts.items()),
            ]
        )

    @property
    def reduction(self) -> str:
        """The reduction the tolerance is for: the function's default where not given; a sum
        for entropy, whose values are sums over the class axis."""
        if self.name == "entropy":
            return "sum"
        params = inspect.signature(getattr(fastloss, self.name)).parameters
        return self.opts.get(
            "reduction", params["reduction"].default if "reduction" in params else "none"
        )

    def inputs(self, rng, shape, axis, dtype) -> tuple[tuple, dict]:
        """(positional args, options) for shape: float data in dtype, integer targets as
        made, array options in dtype; ``axis`` passed where the function has one."""
        args = tuple(
            a.astype(dtype) if a.dtype.kind == "f" else a
            for a in (np.asarray(v) for v in self.make(rng, shape, axis))
        )
        opts = {
            k: _array_option(v, rng, shape, axis).astype(dtype) if v in _ARRAY_KINDS else v
            for k, v in self.opts.items()
        }
        if axis is not None:
            opts["axis"] = axis
        if "ignore_index" in opts:  # the ignored rows carry the case's ignore_index
            args = tuple(
                np.where(a == -100, opts["ignore_index"], a) if a.dtype.kind == "i" else a
                for a in args
            )
        return args, opts

    def terms(self, args: tuple, shape, axis) -> float:
        """The number of terms of a "sum" (rows for the class losses, elements otherwise)."""
        n = int(np.prod(shape))
        if self.name == "entropy":
            return shape[axis] if shape else 1
        if axis is not None and self.name not in ("softmax", "log_softmax"):
            n //= max(shape[axis], 1)
        if self.reduction == "batchmean":
            n /= max(shape[0], 1) if shape else 1
        return n


_ARRAY_KINDS = (CLASS_WEIGHT, LAST_WEIGHT, FULL_WEIGHT, ROW_WEIGHT)


def _floats(low, high):
    """Floats in [low, high] of a width; float16 within ±100, where every loss's value (a
    squared difference of 200 at most) still fits the half output."""

    def of_width(width):
        if width == 16:
            return st.floats(max(low, -100.0), min(high, 100.0), width=16)
        return st.floats(low, high, width=width)

    return of_width


_REG = (_floats(-1e6, 1e6), _floats(-1e6, 1e6))
_UNIT = _floats(0, 1)


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    for name in ("mse_loss", "l1_loss"):
        for red in ("mean", "sum", "none"):
            add(Case(name, _regression, ELEMENTWISE, {"reduction": red}, elements=_REG))
    for name, option in (("huber_loss", "delta"), ("smooth_l1_loss", "beta")):
        for value, red in ((1.0, "mean"), (0.3, "none"), (2.5, "sum")):
            add(
                Case(
                    name, _regression, ELEMENTWISE, {option: value, "reduction": red}, elements=_REG
                )
            )
    add(Case("smooth_l1_loss", _regression, ELEMENTWISE, {"beta": 0.0, "reduction": "none"}))
    bce = ((_UNIT, _UNIT), (_floats(-1e3, 1e3), _UNIT))
    for name, make, elements in (
        ("binary_cross_entropy", _bce, bce[0]),
        ("binary_cross_entropy_with_logits", _bce_logits, bce[1]),
    ):
        for red in ("mean", "sum", "none"):
            add(Case(name, make, ELEMENTWISE, {"reduction": red}, elements=elements))
        add(Case(name, make, ELEMENTWISE, {"weight": LAST_WEIGHT, "reduction": "none"}))
        add(Case(name, make, ELEMENTWISE, {"weight": FULL_WEIGHT, "reduction": "sum"}))
    logits = "binary_cross_entropy_with_logits"
    add(Case(logits, _bce_logits, ELEMENTWISE, {"pos_weight": LAST_WEIGHT, "reduction": "sum"}))
    add(
        Case(
            logits,
            _bce_logits,
            ELEMENTWISE,
            {"weight": FULL_WEIGHT, "pos_weight": LAST_WEIGHT, "reduction": "none"},
        )
    )
    kl = (_floats(-50, 0), _UNIT)
    for red in ("mean", "batchmean", "sum", "none"):
        add(Case("kl_div", _kl, ELEMENTWISE, {"reduction": red}, elements=kl))
    for red in ("sum", "none"):
        add(Case("kl_div", _kl_log_target, ELEMENTWISE, {"reduction": red, "log_target": True}))
    add(Case("entropy", _entropy, ENTROPY))
    for name in ("softmax", "log_softmax", "logsumexp"):
        add(Case(name, _unary(_logits), CLASSES))
    add(Case("logsumexp", _unary(_logits), CLASSES, {"keepdims": True}))
    for opts in (
        {},
        {"reduction": "sum"},
        {"reduction": "none"},
        {"weight": CLASS_WEIGHT},
        {"ignore_index": 1},
        {"label_smoothing": 0.1},
        {"weight": CLASS_WEIGHT, "label_smoothing": 0.25, "reduction": "none"},
        {"weight": CLASS_WEIGHT, "ignore_index": 0, "reduction": "sum", "label_smoothing": 1.0},
    ):
        add(Case("cross_entropy", _classes, CLASSES, opts))
    for opts in (
        {},
        {"label_smoothing": 0.2, "reduction": "none"},
        {"weight": CLASS_WEIGHT, "label_smoothing": 0.5, "reduction": "sum"},
    ):
        add(Case("cross_entropy", _class_probabilities, CLASSES, opts, variant="probabilities"))
    for name in ("cross_entropy", "nll_loss"):  # int32 targets, in every layout too
        add(Case(name, _classes_int32, CLASSES, {"reduction": "none"}, variant="int32 targets"))
    for opts in (
        {},
        {"reduction": "none"},
        {"weight": CLASS_WEIGHT, "reduction": "sum"},
        {"ignore_index": 0},
    ):
        add(Case("nll_loss", _nll, CLASSES, opts))
    metrics = _metrics_reference("classification_metrics")
    for opts in (
        {},
        {"weight": CLASS_WEIGHT, "sample_weight": ROW_WEIGHT},
        {"label_smoothing": 0.2, "topk": (1, 2, 3, 20), "ignore_index": 2},
    ):
        add(Case("evaluate", _classes, CLASSES, opts, call_reference=metrics))
        add(Case("Evaluator", _classes, CLASSES, opts, _evaluator, metrics))
    add(
        Case(
            "evaluate_chunked",
            _classes,
            CHUNKED,
            {"weight": CLASS_WEIGHT, "sample_weight": ROW_WEIGHT},
            _chunked(fastloss.Evaluator),
            metrics,
        )
    )
    regression_metrics = _metrics_reference("regression_metrics")
    for opts in ({}, {"delta": 0.5, "sample_weight": FULL_WEIGHT}):
        add(
            Case(
                "RegressionEvaluator",
                _regression,
                ELEMENTWISE,
                opts,
                _regression_evaluator,
                regression_metrics,
            )
        )
    add(
        Case(
            "evaluate_chunked",
            _regression,
            ELEMENTWISE[1:],  # rows along axis 0: not 0-d or empty of rows
            {"sample_weight": FULL_WEIGHT},
            _chunked(fastloss.RegressionEvaluator),
            regression_metrics,
        )
    )
    return cases


CASES: list[Case] = _cases()
