"""Fixtures shared by the suite: every SIMD path this machine runs, and thread counts.

Backends switch in-process through the private ``_core._set_backend`` (as SimSIMD's
``keep_one_capability``); the fixture restores the previous one.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import fastloss
from fastloss import _core

BACKENDS = _core.supported_backends()
THREADS = [1, 2, 3]  # 3: an odd count finds chunking bugs


@contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Run the kernels on instruction set name, then restore the previous one."""
    previous = _core.simd_backend()
    _core._set_backend(name)
    try:
        yield name
    finally:
        _core._set_backend(previous)


@pytest.fixture(params=BACKENDS)
def backend(request):
    with use_backend(request.param):
        yield request.param


@pytest.fixture(params=THREADS, ids=lambda n: f"t{n}")
def n_threads(request):
    with fastloss.threads(request.param):
        yield request.param


# ---------------------------------------------------------------------------------------
# Memory layouts. Every layout test of a public function runs over LAYOUTS: each entry gives
# an array of the same shape and values as its argument, laid out differently in memory. Only
# "C" (and the native one of the two byte orders) is read in place; the others go through one
# converted copy, or are read in place where the kernel can (read-only, memory-mapped).


def _strided(a: np.ndarray) -> np.ndarray:
    wide = np.zeros(a.shape + (2,), dtype=a.dtype)
    wide[..., 0] = a
    return wide[..., 0]


def _reversed(a: np.ndarray) -> np.ndarray:
    """Negative strides on every axis."""
    if a.ndim == 0:
        return a.copy()
    index = (slice(None, None, -1),) * a.ndim
    return np.ascontiguousarray(a[index])[index]


def _unaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous view one byte into a buffer: NumPy marks it unaligned."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    out = buf[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned or a.dtype.itemsize == 1 or a.size == 0
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out.flags.writeable = False
    return out


MEMMAP_DIR = Path(tempfile.mkdtemp(prefix="fastloss-tests-"))
atexit.register(shutil.rmtree, MEMMAP_DIR, ignore_errors=True)
_memmap_count = 0


def _memmap(a: np.ndarray) -> np.ndarray:
    """np.memmap of a file holding a, opened read-only (mode "r")."""
    global _memmap_count
    if a.size == 0:  # an empty file cannot be mapped
        return _read_only(a)
    _memmap_count += 1
    path = MEMMAP_DIR / f"a{_memmap_count}.bin"
    np.ascontiguousarray(a).tofile(path)
    return np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)


def _byte_order(order: str) -> Callable[[np.ndarray], np.ndarray]:
    def convert(a: np.ndarray) -> np.ndarray:
        if a.dtype.itemsize == 1 or a.dtype.kind not in "fiu":
            return a.copy()
        return a.astype(a.dtype.newbyteorder(order))

    return convert


LAYOUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "C": np.ascontiguousarray,
    "strided": _strided,
    "fortran": np.asfortranarray,
    "reversed": _reversed,
    "big-endian": _byte_order(">"),
    "little-endian": _byte_order("<"),
    "unaligned": _unaligned,
    "read-only": _read_only,
    "memmap": _memmap,
}


def native(dtype) -> np.dtype:
    """dtype in native byte order: the dtype of a result computed from it."""
    return np.dtype(dtype).newbyteorder("=")


def _half_dtypes() -> list[np.dtype]:
    try:
        import ml_dtypes
    except ImportError:
        return [np.dtype(np.float16)]
    return [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]


# The half-precision dtypes this environment has (bfloat16 needs ml_dtypes).
HALF_DTYPES = _half_dtypes()


def is_half(dtype) -> bool:
    return np.dtype(dtype).itemsize == 2


def half_rounding(dtype) -> float:
    """The relative error of one rounding to nearest into a half type (half an ulp of its 8 or
    11 significant bits): 2^-8 for bfloat16, 2^-11 for float16."""
    return 2.0**-11 if np.dtype(dtype).kind == "f" else 2.0**-8


def wide(a):
    """A half-precision array as float64 (exact), anything else as it is: the reference's input."""
    if isinstance(a, np.ndarray) and is_half(a.dtype) and a.dtype.kind in "fV":
        return a.astype(np.float64)
    return a


def float_tolerance(dtype) -> dict[str, float]:
    """The per-element tolerance against the float64 reference (half types compute in float32)."""
    if native(dtype) == np.float32 or is_half(dtype):
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 1e-12, "atol": 1e-13}


def result_dtype_of(dtype, *, array: bool) -> np.dtype:
    """The dtype of a result computed from data of dtype: the data's, except a half type's
    reductions (scalars), which are float32."""
    if is_half(dtype) and not array:
        return np.dtype(np.float32)
    return native(dtype) if np.dtype(dtype).kind == "f" else np.dtype(dtype)


def assert_matches(
    actual,
    expected,
    dtype,
    *,
    terms: int = 1,
    reduction: str = "none",
    per_element: bool = False,
    roundings: int = 1,
) -> None:
    """Compare a fastloss result with the float64 reference at the tolerances of docs/numerics.md:
    per element for "none", 1e-5·|ref| + 1e-6 for a mean, + 1e-6·terms for a sum (float32;
    half types as float32, plus one rounding of a result in the half type: arrays, and scalars
    of a per-element function, ``per_element``, such as entropy's of one distribution;
    ``roundings=2`` where ``expected`` is itself a rounded half result, another ISA's)."""
    tol = float_tolerance(dtype)
    if reduction == "sum":
        tol = {"rtol": tol["rtol"], "atol": tol["atol"] * max(terms, 1)}
    is_array = per_element or np.ndim(actual) > 0 or not isinstance(actual, np.generic | float)
    actual = np.asarray(actual)
    want_dtype = result_dtype_of(dtype, array=is_array)
    assert actual.dtype == want_dtype, f"result dtype {actual.dtype}, expected {want_dtype}"
    if is_half(dtype) and is_array:
        tol = {"rtol": tol["rtol"] + roundings * half_rounding(dtype), "atol": tol["atol"]}
    np.testing.assert_allclose(actual.astype(np.float64), expected, equal_nan=True, **tol)
