"""Bad input raises a clear exception naming the function, the problem and the values."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

REGRESSION = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]


@pytest.mark.parametrize("name", REGRESSION)
def test_shape_mismatch(name):
    with pytest.raises(
        ValueError,
        match=rf"{name}: input shape \(128, 10\) and target shape "
        r"\(128,\) must match exactly",
    ):
        getattr(fastloss, name)(np.zeros((128, 10)), np.zeros(128))
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        getattr(fastloss, name)(np.zeros((4, 1)), np.zeros(4))  # no silent broadcasting


@pytest.mark.parametrize("name", REGRESSION)
def test_bad_reduction(name):
    with pytest.raises(
        ValueError,
        match=rf"{name}: reduction must be one of 'mean', 'sum', "
        r"'none'; got 'avg'",
    ):
        getattr(fastloss, name)([1.0], [2.0], reduction="avg")


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("bad", [np.array([1j]), np.array(["a"]), np.array([object()])])
def test_unsupported_dtypes(name, bad):
    with pytest.raises(TypeError, match=rf"{name}: .* is not supported; use float32 or float64"):
        getattr(fastloss, name)(bad, np.zeros(1))


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        fastloss.mse_loss([1.0], [2.0], "sum")


@pytest.mark.parametrize("delta", [0.0, -1.0, np.nan, np.inf])
def test_huber_delta(delta):
    with pytest.raises(ValueError, match="huber_loss: delta must be"):
        fastloss.huber_loss([1.0], [2.0], delta=delta)


@pytest.mark.parametrize("delta", ["x", "1.0", True, None])
def test_huber_delta_of_the_wrong_type(delta):
    with pytest.raises(TypeError, match="huber_loss: delta must be a real number"):
        fastloss.huber_loss([1.0], [2.0], delta=delta)


@pytest.mark.parametrize("beta", [-1.0, np.nan, np.inf])
def test_smooth_l1_beta(beta):
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be"):
        fastloss.smooth_l1_loss([1.0], [2.0], beta=beta)
