"""RegressionEvaluator: r2 stability, weights, NaN, streaming = one call. Against the reference
over shapes, layouts and threads: tests/test_equivalence.py."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastloss
from fastloss import reference

KEYS = ("mse", "rmse", "mae", "huber", "max_error", "r2")


def assert_metrics(got: dict, want: dict, rtol: float) -> None:
    assert got["count"] == want["count"]
    np.testing.assert_allclose(got["weight_sum"], want["weight_sum"], rtol=1e-12)
    for key in KEYS:
        np.testing.assert_allclose(
            got[key], want[key], rtol=rtol, atol=rtol * 1e-2, equal_nan=True, err_msg=key
        )


def data(n, dtype, seed=0, weighted=False, shape=None):
    rng = np.random.default_rng(seed)
    y = rng.normal(3.0, 2.0, n)
    x = y + rng.normal(0, 0.5, n)
    w = rng.uniform(0, 2, n) if weighted else None
    if shape is not None:
        x, y = x.reshape(shape), y.reshape(shape)
        w = None if w is None else w.reshape(shape)
    return x.astype(dtype), y.astype(dtype), None if w is None else w.astype(dtype)


def test_r2_is_stable_for_a_large_offset():
    """A naive Σy² - (Σy)²/n loses every digit here; the pairwise M2 does not."""
    x, y, _ = data(200_000, np.float64, seed=3)
    x, y = x + 1e9, y + 1e9
    got = fastloss.RegressionEvaluator().update(x, y).result()
    assert_metrics(got, reference.regression_metrics(x, y), 1e-9)


def test_per_row_weights_broadcast():
    x, y, _ = data(60, np.float64, shape=(20, 3))
    w = np.linspace(0, 1, 20)
    got = fastloss.RegressionEvaluator().update(x, y, sample_weight=w).result()
    assert_metrics(got, reference.regression_metrics(x, y, sample_weight=w), 1e-12)


def test_nan_propagates_and_zero_weights_do_not_count():
    ev = fastloss.RegressionEvaluator().update(
        [1.0, 2.0, 50.0], [1.0, 1.0, 0.0], sample_weight=[1, 1, 0]
    )
    assert ev.result()["max_error"] == 1.0 and ev.result()["mse"] == 0.5
    ev.update([np.nan], [0.0])
    assert np.isnan(ev.result()["mse"]) and np.isnan(ev.result()["max_error"])


def test_empty_gives_nan():
    res = fastloss.RegressionEvaluator().result()
    assert res["count"] == 0 and all(np.isnan(res[k]) for k in KEYS)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 3000),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    weighted=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_any_split_gives_the_single_call_result(n, cuts, weighted, seed):
    x, y, w = data(n, np.float64, seed=seed, weighted=weighted)
    whole = fastloss.RegressionEvaluator().update(x, y, sample_weight=w).result()
    bounds = sorted({0, n, *(int(c * n) for c in cuts)})
    streamed, merged = fastloss.RegressionEvaluator(), fastloss.RegressionEvaluator()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        ws = None if w is None else w[lo:hi]
        streamed.update(x[lo:hi], y[lo:hi], sample_weight=ws)
        merged.merge(fastloss.RegressionEvaluator().update(x[lo:hi], y[lo:hi], sample_weight=ws))
    for ev in (streamed, merged):
        assert_metrics(ev.result(), whole, 1e-12)


def test_same_batches_give_same_bits_and_state_pickles():
    x, y, w = data(300_000, np.float32, weighted=True)
    results = set()
    for t in (1, 2, 3):
        with fastloss.threads(t):
            ev = fastloss.RegressionEvaluator().update(x, y, sample_weight=w)
            results.add(repr(ev.result()))
    assert len(results) == 1
    clone = pickle.loads(pickle.dumps(ev))
    assert clone.result() == ev.result()


def test_bad_input_raises_and_keeps_the_state():
    ev = fastloss.RegressionEvaluator().update([1.0, 2.0], [1.0, 1.0])
    before = ev.result()
    with pytest.raises(ValueError, match=r"input shape \(2,\) and target shape \(3,\)"):
        ev.update([1.0, 2.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="sample_weight shape"):
        ev.update([1.0, 2.0], [1.0, 1.0], sample_weight=[1.0])
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        ev.update([1.0, 2.0], [1.0, 1.0], sample_weight=[1.0, -1.0])
    with pytest.raises(TypeError, match="not supported"):
        ev.update(["a"], ["b"])
    with pytest.raises(ValueError, match="delta"):
        ev.merge(fastloss.RegressionEvaluator(delta=2.0))
    assert ev.result() == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [71, 9000, 20_000])  # 9000, 20000: several kernel chunks
@pytest.mark.parametrize("weighted", [False, True])
def test_constant_target_keeps_variance_zero_over_any_split(dtype, n, weighted):
    """A constant target has M2 = 0 however its rows are split and merged: r2 is 0.0 (not
    predicted exactly) or 1.0 (predicted exactly), as one update gives, never -1e20."""
    rng = np.random.default_rng(n)
    for value in (rng.normal(), 0.1, -3.7e5, 0.0):
        y = np.full(n, value, dtype)
        x = (y + rng.normal(size=n)).astype(dtype)
        w = rng.uniform(0.1, 3, n).astype(dtype) if weighted else None

        def kw(a, b, w=w):
            return {"sample_weight": w[a:b]} if w is not None else {}

        one = fastloss.RegressionEvaluator().update(x, y, **kw(0, n)).result()
        assert one["r2"] == 0.0
        for cuts in ([1], [n // 3, n // 2], [n - 1]):
            edges = [0, *cuts, n]
            parts = [
                fastloss.RegressionEvaluator().update(x[a:b], y[a:b], **kw(a, b))
                for a, b in zip(edges[:-1], edges[1:], strict=False)
            ]
            streamed = fastloss.RegressionEvaluator()
            for a, b in zip(edges[:-1], edges[1:], strict=False):
                streamed.update(x[a:b], y[a:b], **kw(a, b))
            merged = parts[0]
            for p in parts[1:]:
                merged.merge(p)
            assert streamed.result()["r2"] == 0.0 and merged.result()["r2"] == 0.0
            assert streamed._stats[7] == 0.0 and merged._stats[7] == 0.0
        exact = fastloss.RegressionEvaluator().update(y[:1], y[:1]).update(y[1:], y[1:])
        assert exact.result()["r2"] == 1.0


def test_reported_constant_target_reproduction():
    y = np.full(71, np.float32(0.3))
    x = y + np.float32(0.5)
    w = np.linspace(0.5, 2.0, 71).astype(np.float32)
    ev = fastloss.RegressionEvaluator().update(x[:1], y[:1], sample_weight=w[:1])
    ev.update(x[1:], y[1:], sample_weight=w[1:])
    assert ev.result()["r2"] == 0.0


def test_nearly_constant_target_is_not_made_constant():
    y = np.full(100, 1.0)
    y[37] = np.nextafter(1.0, 2.0)
    ev = fastloss.RegressionEvaluator().update(y[:50] + 1, y[:50]).update(y[50:] + 1, y[50:])
    assert ev._stats[7] > 0
