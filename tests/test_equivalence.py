"""Every case of the harness (tests/harness.py) against fastloss.reference.

Each case runs every shape on every instruction set in every dtype (float32, float64, and the
half types float16 and bfloat16, against the reference of the same half values in float64);
thread counts and layouts
go through all their values in a fixed, seeded order (not the whole product). One run
checks the value against the reference, that the inputs are unchanged (bytes) and that 1, 2
and 3 threads give bitwise the same result. Bad input raises the reference's exception type
where the reference checks it, and the type of docs/semantics.md#errors otherwise.
"""

from __future__ import annotations

import inspect
import re
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.exceptions import AxisError

import fastloss
from conftest import BACKENDS, HALF_DTYPES, LAYOUTS, THREADS, use_backend, wide
from fastloss import reference
from harness import CASES, Case, bits, compare

DTYPES = [np.dtype(np.float32), np.dtype(np.float64), *HALF_DTYPES]
# hypothesis draws IEEE floats only (no bfloat16).
DRAWN_DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16)]


def _selection(case: Case) -> list[tuple]:
    """(backend, threads, dtype, layout, (shape, axis)) runs for case: every shape on every
    instruction set in every dtype (the SIMD tails depend on all three), the thread counts and
    layouts going through all their values in a seeded order."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    product = [(isa, dtype, sa) for isa in BACKENDS for dtype in DTYPES for sa in case.shapes]
    layouts = list(LAYOUTS)
    orders = [rng.permutation(max(len(product), len(a))) for a in (THREADS, layouts)]
    return [
        (isa, THREADS[orders[0][j] % len(THREADS)], dtype, layouts[orders[1][j] % len(layouts)], sa)
        for j, (isa, dtype, sa) in enumerate(product)
    ]


RUNS = [(case, *run) for case in CASES for run in _selection(case)]


def _run_id(run) -> str:
    case, isa, threads, dtype, layout, (shape, axis) = run
    where = "x".join(map(str, shape)) + ("" if axis is None else f"@{axis}")
    return f"{case.id}-{isa}-t{threads}-{dtype.name}-{layout}-{where}"


def _arrays(args: tuple, opts: dict) -> list[np.ndarray]:
    return [a for a in (*args, *opts.values()) if isinstance(a, np.ndarray)]


@pytest.mark.parametrize(
    ("case", "isa", "threads", "dtype", "layout", "shape_axis"), RUNS, ids=map(_run_id, RUNS)
)
def test_matches_reference(case, isa, threads, dtype, layout, shape_axis):
    shape, axis = shape_axis
    rng = np.random.default_rng(
        zlib.crc32(_run_id((case, isa, threads, dtype, layout, shape_axis)).encode())
    )
    args, opts = case.inputs(rng, shape, axis, dtype)
    to = LAYOUTS[layout]
    laid_args = tuple(to(a) for a in args)
    laid_opts = {k: to(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
    before = [a.tobytes() for a in _arrays(laid_args, laid_opts)]
    results = {}
    with use_backend(isa):
        for t in (threads, *(t for t in THREADS if t != threads)):
            with fastloss.threads(t):
                results[t] = case.call(case.name, laid_args, laid_opts)
    want = case.call_reference(
        case.name, tuple(wide(a) for a in args), {k: wide(v) for k, v in opts.items()}
    )
    compare(
        results[threads],
        want,
        dtype,
        reduction=case.reduction,
        terms=case.terms(args, shape, axis),
        per_element=case.name == "entropy",
    )
    seen = {t: bits(r) for t, r in results.items()}
    assert all(b == seen[threads] for b in seen.values()), "results differ between thread counts"
    assert [a.tobytes() for a in _arrays(laid_args, laid_opts)] == before, "an input was written"


# ---------------------------------------------------------------------------------------
# hypothesis: any shape, any values in each argument's domain (elementwise functions)

PROPERTY_CASES = [c for c in CASES if c.elements]


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    index=st.integers(0, len(PROPERTY_CASES) - 1),
    dtype=st.sampled_from(DRAWN_DTYPES),
)
def test_property_matches_reference(data, index, dtype):
    case = PROPERTY_CASES[index]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=40))
    args = tuple(
        data.draw(hnp.arrays(dtype, shape, elements=e(dtype.itemsize * 8))) for e in case.elements
    )
    got = case.call(case.name, args, dict(case.opts))
    want = case.call_reference(case.name, tuple(wide(a) for a in args), dict(case.opts))
    compare(got, want, dtype, reduction=case.reduction, terms=case.terms(args, shape, None))


# ---------------------------------------------------------------------------------------
# signatures

# The reference twin of each public name; None: no reference (runtime and data access).
TWINS = {
    **{name: name for name in reference.__all__ if name in fastloss.__all__},
    "evaluate": "classification_metrics",
    "Evaluator": "classification_metrics",
    "evaluate_chunked": None,
    "FileArray": None,
    "RegressionEvaluator": "regression_metrics",
    "get_num_threads": None,
    "set_num_threads": None,
    "threads": None,
    "show_config": None,
    "simd_backend": None,
}


def _params(fn, drop=()) -> list[tuple]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(fn).parameters.values()
        if p.name not in drop
    ]


def test_every_public_name_is_in_the_table():
    assert sorted(TWINS) == sorted(fastloss.__all__)
    assert {c.name for c in CASES} == {n for n, twin in TWINS.items() if twin} | {
        "evaluate_chunked"
    }


@pytest.mark.parametrize("name", sorted(n for n, twin in TWINS.items() if twin))
def test_same_signature_as_the_reference(name):
    twin = getattr(reference, TWINS[name])
    if name == "evaluate":  # the metrics, and the per-row arrays of reduction="none"
        assert _params(fastloss.evaluate, drop=("reduction",)) == _params(twin)
    elif name in ("Evaluator", "RegressionEvaluator"):  # options at construction
        cls = getattr(fastloss, name)
        data = [p for p in _params(twin) if p[1] is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert _params(cls) == _params(twin, drop=(*(p[0] for p in data), "sample_weight"))
        update = _params(cls.update, drop=("self",))
        assert [p[1:] for p in update] == [p[1:] for p in data] + [
            (inspect.Parameter.KEYWORD_ONLY, None)
        ]
    else:
        assert _params(getattr(fastloss, name)) == _params(twin)


# ---------------------------------------------------------------------------------------
# errors


def _first(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def _bad_calls(name: str) -> list[tuple[str, tuple, dict, type]]:
    """(label, args, options, the type docs/semantics.md#errors gives) for bad input."""
    case = _first(name)
    shape, axis = next(s for s in case.shapes if len(s[0]) >= 2 and s[0][0] > 1 and s[1] != 0)
    args, opts = case.inputs(np.random.default_rng(0), shape, axis, np.float64)
    calls = [
        ("complex", (args[0].astype(complex), *args[1:]), opts, TypeError),
        ("string", (args[0].astype(str), *args[1:]), opts, TypeError),
    ]
    if len(args) > 1:
        other = args[1]
        wrong = (
            other[..., None] if other.shape == args[0].shape else np.concatenate([other, other[:1]])
        )
        calls.append(("shape", (args[0], wrong, *args[2:]), opts, ValueError))
    params = inspect.signature(getattr(fastloss, name)).parameters
    if "reduction" in params:
        calls.append(("reduction", args, {**opts, "reduction": "avg"}, ValueError))
    for option, values in BAD_OPTIONS.get(name, {}).items():
        for value, error in values:
            label = f"{option}={value!r}" if len(repr(value)) < 20 else f"{option}=huge"
            calls.append((label, args, {**opts, option: value}, error))
    return calls


_AXIS = {"axis": [(5, AxisError), (1.0, TypeError), (True, TypeError)]}
_SMOOTHING = [(v, ValueError) for v in (1.5, -0.1, np.nan, 10**400)] + [
    (v, TypeError) for v in ("0.1", True)
]
_DELTA = [(v, ValueError) for v in (0.0, -1.0, np.nan, np.inf, -(10**400))] + [
    (v, TypeError) for v in ("1.0", True, None)
]
BAD_OPTIONS: dict[str, dict[str, list]] = {
    "huber_loss": {"delta": _DELTA},
    "smooth_l1_loss": {
        "beta": [(v, ValueError) for v in (-1.0, np.nan, np.inf)]
        + [("1", TypeError), (True, TypeError)]
    },
    "binary_cross_entropy": {"weight": [(np.ones(3), ValueError)]},
    "binary_cross_entropy_with_logits": {"pos_weight": [(np.ones(3), ValueError)]},
    "kl_div": {"reduction": [("batch", ValueError)]},
    "entropy": _AXIS,
    "softmax": {**_AXIS, "out": [([0.0], TypeError)]},
    "log_softmax": {**_AXIS, "out": [([0.0], TypeError)]},
    "logsumexp": _AXIS,
    "cross_entropy": {**_AXIS, "label_smoothing": _SMOOTHING, "weight": [(np.ones(2), ValueError)]},
    "nll_loss": {**_AXIS, "weight": [(np.ones(2), ValueError)]},
    "evaluate": {**_AXIS, "label_smoothing": _SMOOTHING, "topk": [((0,), ValueError)]},
    "Evaluator": {"label_smoothing": _SMOOTHING, "topk": [((0,), ValueError)]},
    "RegressionEvaluator": {"delta": _DELTA},
}

ERROR_CALLS = [
    (name, *call) for name in sorted({c.name for c in CASES}) for call in _bad_calls(name)
]


@pytest.mark.parametrize(
    ("name", "label", "args", "opts", "documented"),
    ERROR_CALLS,
    ids=[f"{c[0]}-{c[1]}" for c in ERROR_CALLS],
)
def test_errors_match_reference(name, label, args, opts, documented):
    case = _first(name)
    with pytest.raises(Exception) as fast:
        case.call(name, args, opts)
    try:
        case.call_reference(name, args, opts)
        checked = None
    except Exception as e:  # noqa: BLE001 - the reference's own checks say "name: ..."
        checked = e if re.match(r"\w+: ", str(e)) else None
    if checked is None:
        assert isinstance(fast.value, documented), fast.value
    else:
        assert type(fast.value) is type(checked), (fast.value, checked)
    assert not isinstance(fast.value, (AssertionError, AttributeError, KeyError))
    if not isinstance(fast.value, AxisError):  # every message names the function
        assert any(n in str(fast.value) for n in (name, "Evaluator")), fast.value


@pytest.mark.parametrize("name", sorted(n for n, twin in TWINS.items() if twin == n))
def test_options_are_keyword_only(name):
    case = _first(name)
    args, _ = case.inputs(np.random.default_rng(0), *case.shapes[2], np.float64)
    params = inspect.signature(getattr(fastloss, name)).parameters.values()
    option = next(p for p in params if p.kind is p.KEYWORD_ONLY)
    for fn in (getattr(fastloss, name), getattr(reference, name)):
        with pytest.raises(TypeError):
            fn(*args, option.default)
