"""Half precision dtypes: float16 (NumPy's) and bfloat16.

bfloat16 is ``ml_dtypes.bfloat16`` when ml_dtypes is installed (JAX's bfloat16). Without it,
bfloat16 data (a torch tensor read through DLPack) gets fastloss's marker dtype: uint16
storage tagged with the metadata ``{"fastloss": "bfloat16"}``, which ``_core`` reads as
bfloat16. NumPy sees the marker as uint16 and would convert its values as integers: convert
it only through ``astype`` here.
"""

from __future__ import annotations

from functools import cache

import numpy as np

_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_MARKER = {"fastloss": "bfloat16"}


@cache
def bfloat16_dtype() -> np.dtype:
    """``ml_dtypes.bfloat16`` if ml_dtypes imports, else fastloss's bfloat16 marker dtype."""
    try:
        import ml_dtypes
    except ImportError:
        return np.dtype(np.uint16, metadata=_MARKER)
    return np.dtype(ml_dtypes.bfloat16)


def is_bfloat16(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is a bfloat16 dtype ``_core`` reads: ml_dtypes' (by its type's name)
    or the marker."""
    if dtype.itemsize != 2:
        return False
    return dtype.type.__name__ == "bfloat16" or _is_marker(dtype)


def is_half(dtype: np.dtype) -> bool:
    """float16 (either byte order) or bfloat16."""
    return (dtype.kind == "f" and dtype.itemsize == 2) or is_bfloat16(dtype)


def _is_marker(dtype: np.dtype) -> bool:
    metadata = dtype.metadata
    return metadata is not None and metadata.get("fastloss") == "bfloat16"


def astype(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` converted to ``dtype`` (``a`` itself when it has it), the marker included: its
    values are read and written as bfloat16, rounded to nearest even from float32 (from
    float64: through float32)."""
    src, dst = _is_marker(a.dtype), _is_marker(dtype)
    if src == dst:
        return np.asarray(a, dtype=dtype)
    if src:
        # bfloat16 is the upper half of a float32: exact.
        return (a.astype(np.uint32) << 16).view(np.float32).astype(dtype, copy=False)
    f = np.asarray(a, dtype=_F32)
    u = f.view(np.uint32)
    bits = (u + (np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1)))) >> 16
    # NaN stays NaN (quiet) whatever its payload; the rounding above could carry it to inf.
    bits = np.where(np.isnan(f), (u >> 16) | np.uint32(0x40), bits)
    return bits.astype(dtype)


def bfloat16_as_float32(a: np.ndarray) -> np.ndarray:
    """A bfloat16 array as float32 (exact), any other as it is: for weights, which are not
    data and are not computed in bfloat16."""
    return astype(a, _F32) if is_bfloat16(a.dtype) else a


def dtype_name(dtype: np.dtype) -> str:
    """The dtype as messages name it (the marker as bfloat16, not uint16)."""
    return "bfloat16" if is_bfloat16(dtype) else str(dtype)
