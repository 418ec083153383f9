"""Fixtures shared by the suite: every SIMD path this machine runs, and thread counts.

Backends switch in-process through the private ``_core._set_backend`` (as SimSIMD's
``keep_one_capability``); the fixture restores the previous one.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import _core

BACKENDS = _core.supported_backends()
THREADS = [1, 2, 3]  # 3: an odd count finds chunking bugs


@pytest.fixture(params=BACKENDS)
def backend(request):
    previous = _core.simd_backend()
    _core._set_backend(request.param)
    try:
        yield request.param
    finally:
        _core._set_backend(previous)


@pytest.fixture(params=THREADS, ids=lambda n: f"t{n}")
def n_threads(request):
    with fastloss.threads(request.param):
        yield request.param


def float_tolerance(dtype) -> dict[str, float]:
    """The per-element tolerance against the float64 reference."""
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 1e-12, "atol": 1e-13}


def assert_matches(actual, expected, dtype, *, terms: int = 1, reduction: str = "none") -> None:
    """Compare a fastloss result with the float64 reference at the tolerances of docs/numerics.md:
    per element for "none", 1e-5·|ref| + 1e-6 for a mean, + 1e-6·terms for a sum (float32)."""
    tol = float_tolerance(dtype)
    if reduction == "sum":
        tol = {"rtol": tol["rtol"], "atol": tol["atol"] * max(terms, 1)}
    actual = np.asarray(actual)
    assert actual.dtype == np.dtype(dtype), f"result dtype {actual.dtype}, expected {np.dtype(dtype)}"
    np.testing.assert_allclose(actual.astype(np.float64), expected, equal_nan=True, **tol)
