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


def float_tolerance(dtype) -> dict[str, float]:
    """The per-element tolerance against the float64 reference."""
    if native(dtype) == np.float32:
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 1e-12, "atol": 1e-13}


def assert_matches(actual, expected, dtype, *, terms: int = 1, reduction: str = "none") -> None:
    """Compare a fastloss result with the float64 reference at the tolerances of docs/numerics.md:
    per element for "none", 1e-5·|ref| + 1e-6 for a mean, + 1e-6·terms for a sum (float32)."""
    tol = float_tolerance(dtype)
    if reduction == "sum":
        tol = {"rtol": tol["rtol"], "atol": tol["atol"] * max(terms, 1)}
    actual = np.asarray(actual)
    assert actual.dtype == native(dtype), f"result dtype {actual.dtype}, expected {native(dtype)}"
    np.testing.assert_allclose(actual.astype(np.float64), expected, equal_nan=True, **tol)
