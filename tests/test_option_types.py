"""Options of the wrong type raise TypeError, as NumPy and torch do: a string, a bool or None
where a number is expected is not converted; a bool axis is not an axis. Real numbers of
any Python or NumPy type are accepted and mean their value. ``out=`` takes the result only
under NumPy's ``same_kind`` casting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastloss

X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
T = np.array([0, 1, 2, 0])
Y = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)


def _ce(v):
    return fastloss.cross_entropy(X, T, label_smoothing=v)


def _ce_none(v):
    return fastloss.cross_entropy(X, T, label_smoothing=v, reduction="none")


def _evaluate(v):
    return fastloss.evaluate(X, T, label_smoothing=v, topk=(1,))["cross_entropy"]


def _evaluator(v):
    return fastloss.Evaluator(label_smoothing=v, topk=(1,)).update(X, T).result()["cross_entropy"]


def _huber(v):
    return fastloss.huber_loss(X, Y, delta=v)


def _smooth_l1(v):
    return fastloss.smooth_l1_loss(X, Y, beta=v)


def _reg_evaluator(v):
    return fastloss.RegressionEvaluator(delta=v).update(X, Y).result()["huber"]


# name, option, call, a valid range of values
FLOAT_OPTIONS = {
    "cross_entropy": ("label_smoothing", _ce, (0.0, 1.0)),
    "cross_entropy-none": ("label_smoothing", _ce_none, (0.0, 1.0)),
    "evaluate": ("label_smoothing", _evaluate, (0.0, 1.0)),
    "Evaluator": ("label_smoothing", _evaluator, (0.0, 1.0)),
    "huber_loss": ("delta", _huber, (0.01, 10.0)),
    "smooth_l1_loss": ("beta", _smooth_l1, (0.0, 10.0)),
    "RegressionEvaluator": ("delta", _reg_evaluator, (0.01, 10.0)),
}

WRONG_TYPES = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["0.1", "1", "nan", " 0.5 ", np.str_("0.5")]),
    st.binary(max_size=3),
    st.booleans(),
    st.sampled_from([np.True_, np.False_, None, 0.5j, [0.1], (0.1,), {}, object()]),
)


def _real_values(low, high):
    floats = st.floats(low, high)
    ints = st.integers(int(np.ceil(low)), int(np.floor(high)))
    return st.one_of(
        floats,
        ints,
        floats.map(np.float64),
        floats.map(np.float32).filter(lambda v: low <= float(v) <= high),
        ints.map(np.int64),
        ints.map(np.int32),
        ints.map(np.uint8),
    )


@pytest.mark.parametrize("case", list(FLOAT_OPTIONS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_float_option_of_wrong_type_raises_type_error(case, data):
    name, call, _ = FLOAT_OPTIONS[case]
    value = data.draw(WRONG_TYPES)
    with pytest.raises(TypeError, match=rf"{name} must be a real number; got .* of type"):
        call(value)


@pytest.mark.parametrize("case", list(FLOAT_OPTIONS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_float_option_of_any_real_type_means_its_value(case, data):
    _, call, (low, high) = FLOAT_OPTIONS[case]
    value = data.draw(_real_values(low, high))
    got, want = call(value), call(float(value))
    np.testing.assert_array_equal(got, want)


def _axis_calls():
    x3 = np.zeros((2, 3, 4), np.float32)
    return {
        "cross_entropy": lambda a: fastloss.cross_entropy(X, T, axis=a),
        "nll_loss": lambda a: fastloss.nll_loss(X, T, axis=a),
        "softmax": lambda a: fastloss.softmax(X, axis=a),
        "softmax-0d": lambda a: fastloss.softmax(np.float32(1.0), axis=a),
        "log_softmax": lambda a: fastloss.log_softmax(x3, axis=a),
        "logsumexp": lambda a: fastloss.logsumexp(x3, axis=a),
        "logsumexp-tuple": lambda a: fastloss.logsumexp(x3, axis=(0, a)),
        "logsumexp-0d": lambda a: fastloss.logsumexp(np.float64(1.0), axis=a),
        "entropy": lambda a: fastloss.entropy(abs(X), axis=a),
        "evaluate": lambda a: fastloss.evaluate(X, T, axis=a, topk=(1,)),
        "Evaluator": lambda a: fastloss.Evaluator(axis=a),
    }


AXIS_CALLS = _axis_calls()
WRONG_AXES = st.one_of(
    st.booleans(),
    st.sampled_from([np.True_, np.False_, 1.0, 0.0, -1.0, np.float64(1.0), "1", "-1", b"1", 1j]),
    st.text(max_size=3),
)


@pytest.mark.parametrize("case", list(AXIS_CALLS))
@settings(max_examples=40, deadline=None)
@given(axis=WRONG_AXES)
def test_axis_of_wrong_type_raises_type_error(case, axis):
    with pytest.raises(TypeError, match="axis must be an integer"):
        AXIS_CALLS[case](axis)


@pytest.mark.parametrize("case", list(AXIS_CALLS))
@pytest.mark.parametrize("kind", [int, np.int64, np.int32, np.intp])
def test_axis_of_any_integer_type(case, kind):
    axis = -1
    want = AXIS_CALLS[case](axis)
    got = AXIS_CALLS[case](kind(axis))
    if isinstance(want, dict):
        assert want.keys() == got.keys()
    elif isinstance(want, fastloss.Evaluator):
        assert got.axis == want.axis and type(got.axis) is int
    else:
        np.testing.assert_array_equal(got, want)


def test_axis_none_where_not_allowed():
    with pytest.raises(TypeError, match="cross_entropy: axis must be an integer; got None"):
        fastloss.cross_entropy(X, T, axis=None)
    assert fastloss.logsumexp(X, axis=None) == fastloss.logsumexp(X.reshape(-1))


def test_reported_reproductions():
    with pytest.raises(
        TypeError,
        match=r"cross_entropy: label_smoothing must be a real number; "
        r"got '0\.1' of type str",
    ):
        fastloss.cross_entropy(X, T, label_smoothing="0.1")
    with pytest.raises(TypeError, match="huber_loss: delta must be a real number; got True"):
        fastloss.huber_loss(X, Y, delta=True)
    with pytest.raises(TypeError, match="smooth_l1_loss: beta must be a real number; got None"):
        fastloss.smooth_l1_loss(X, Y, beta=None)
    with pytest.raises(TypeError, match="softmax: axis must be an integer, not a bool; got True"):
        fastloss.softmax(X, axis=True)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("in_dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "out_dtype",
    [
        np.int8,
        np.int32,
        np.int64,
        np.uint16,
        np.bool_,
        np.float16,
        np.float32,
        np.float64,
        np.complex64,
    ],
)
def test_out_follows_same_kind_casting(fn, in_dtype, out_dtype):
    x = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 0.5]], in_dtype)
    out = np.zeros(x.shape, out_dtype)
    f = getattr(fastloss, fn)
    if np.can_cast(in_dtype, out_dtype, "same_kind"):
        assert f(x, out=out) is out
        np.testing.assert_allclose(out, f(x).astype(out_dtype), rtol=1e-3)
    else:
        with pytest.raises(
            TypeError,
            match=rf"{fn}: cannot write the {np.dtype(in_dtype)} result "
            rf"into out of dtype {np.dtype(out_dtype)}",
        ):
            f(x, out=out)
        assert not out.any()  # untouched


def test_out_integer_refused_for_integer_input():
    """Integer input computes in float64: the result is float, so an integer out is refused."""
    x = np.array([1, 2, 3])
    with pytest.raises(TypeError, match="same_kind"):
        fastloss.softmax(x, out=np.zeros(3, np.int64))
