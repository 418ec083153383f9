"""Turning a kernel's float64 sum or per-element output into the public result."""

from __future__ import annotations

import numpy as np

_F32 = np.dtype(np.float32)


def finish(total: float, count: float, reduction: str, dtype: np.dtype):
    """``"sum"`` -> total, ``"mean"`` -> total / count (NaN when count is 0), as a NumPy
    scalar of the result dtype (float32 for half data), rounded once from float64."""
    if dtype.itemsize == 2:
        dtype = _F32
    if reduction == "sum":
        return dtype.type(total)
    if count == 0:
        return dtype.type(np.nan)
    return dtype.type(total / count)
