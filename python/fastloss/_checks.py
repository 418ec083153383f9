"""Validation shared by the public functions: dtypes, shapes, options, and their messages.

Every message names the function, the problem and the values (docs/semantics.md, "Errors").
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from . import _core
from ._half import astype, bfloat16_dtype, dtype_name, is_bfloat16

# The public reduction names and the _core enum every loss entry takes.
REDUCTIONS = {
    "none": _core.Reduction.NONE,
    "mean": _core.Reduction.MEAN,
    "sum": _core.Reduction.SUM,
}
_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
_NATIVE = (_F32, _F64)
_AxisError = getattr(np, "exceptions", np).AxisError  # np.exceptions from 1.25


def reduction_code(fn: str, reduction: object, extra: tuple[str, ...] = ()) -> str:
    """Return ``reduction`` if it is valid for ``fn``, else raise ValueError listing the choices."""
    if reduction in REDUCTIONS or reduction in extra:
        return reduction  # type: ignore[return-value]
    valid = ", ".join(repr(r) for r in (*("mean", "sum", "none"), *extra))
    raise ValueError(f"{fn}: reduction must be one of {valid}; got {reduction!r}")


def float_dtype(fn: str, name: str, arr: np.ndarray) -> np.dtype:
    """The native float dtype an array is computed in (docs/semantics.md): float16 and
    bfloat16 (the array's own bfloat16 dtype) as themselves, float32, float64; integers and
    bools as float64."""
    dtype = arr.dtype
    kind = dtype.kind
    if kind == "f":
        size = dtype.itemsize
        if size == 4:
            return _F32
        if size == 8:
            return _F64
        if size == 2:
            return _F16
    elif kind in "uV" and is_bfloat16(dtype):  # before "u": the marker is uint16 storage
        return dtype if dtype.isnative else dtype.newbyteorder("=")
    elif kind in "biu":
        return _F64
    raise TypeError(
        f"{fn}: {dtype} {name} is not supported; use float16, bfloat16, float32 or float64"
    )


def common_float_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """The one dtype two float data arrays of a call are computed in, from their
    ``float_dtype``s: a dtype with itself is itself; float16 with bfloat16, or a half with
    float32, is float32; anything with float64 is float64. (NumPy would promote a half with
    an integer, or the bfloat16 marker with anything, otherwise.)"""
    if a == b and is_bfloat16(a) == is_bfloat16(b):
        return a
    if a.itemsize == 8 or b.itemsize == 8:
        return _F64
    return _F32


def weight_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of the weights that are not data (class weights, BCE weight tiles, sample
    weights of the regression statistics) for data of ``dtype``: float32, the compute type,
    for half data, else the data's dtype."""
    return _F32 if dtype.itemsize == 2 else dtype


def same_shape(fn: str, a_name: str, a: np.ndarray, b_name: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{fn}: {a_name} shape {a.shape} and {b_name} shape {b.shape} must match exactly"
        )


def float_pair(fn: str, input: object, target: object) -> tuple[np.ndarray, np.ndarray]:
    """Two same-shape inputs as C-contiguous, aligned arrays of their common native float
    dtype.

    Such input is used in place; anything else (strided, non-native byte order, unaligned,
    another dtype) is copied once.
    """
    if (
        type(input) is np.ndarray
        and type(target) is np.ndarray
        and input.dtype == target.dtype
        and input.dtype in _NATIVE  # native byte order: '>f4' != np.dtype(np.float32) here
        and input.shape == target.shape
        and _in_place(input)
        and _in_place(target)
    ):
        return input, target  # the common case, without the per-call cost of conversions
    x = as_array(fn, "input", input)
    y = as_array(fn, "target", target)
    dtype = common_float_dtype(float_dtype(fn, "input", x), float_dtype(fn, "target", y))
    same_shape(fn, "input", x, "target", y)
    return native_array(x, dtype), native_array(y, dtype)


# DLPack device types (dlpack.h): the CPU, and CUDA's host-pinned memory, readable in place.
_DLPACK_HOST_DEVICES = {1: "cpu", 3: "cuda_host"}
_DLPACK_DEVICE_NAMES = {2: "cuda", 4: "opencl", 7: "vulkan", 8: "metal", 10: "rocm", 14: "oneapi"}


def as_array(fn: str, name: str, x: object) -> np.ndarray:
    """A user's array as a NumPy array without a copy where one can be avoided.

    An ndarray is returned as is. An object with ``__dlpack__`` (a torch tensor, a JAX array,
    CuPy on the host) is read in place through DLPack; a torch tensor that requires grad is
    read detached (its data, not its graph), and one on another device raises ValueError
    naming it. bfloat16, which NumPy's DLPack import refuses, is read by ``_core``'s reader
    as ``_half.bfloat16_dtype()``. Anything else goes through ``np.asarray``.
    """
    if type(x) is np.ndarray:
        return x
    if hasattr(x, "__dlpack__") and not isinstance(x, np.ndarray):
        if getattr(x, "requires_grad", False) and hasattr(x, "detach"):
            x = x.detach()
        device = getattr(x, "__dlpack_device__", None)
        if device is not None:
            kind = int(device()[0])
            if kind not in _DLPACK_HOST_DEVICES:
                where = _DLPACK_DEVICE_NAMES.get(kind, f"DLPack device type {kind}")
                raise ValueError(
                    f"{fn}: {name} is on the {where} device; fastloss reads host memory: "
                    "move it to the CPU first (e.g. tensor.cpu())"
                )
        dtype = getattr(x, "dtype", "?")
        # torch.bfloat16, JAX's bfloat16: straight to the reader that knows it.
        if str(dtype).endswith("bfloat16"):
            return _core._from_dlpack(x, bfloat16_dtype())
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError):
            pass  # a dtype NumPy cannot import, or an exporter NumPy refuses
        try:
            return _core._from_dlpack(x, bfloat16_dtype())
        except (BufferError, TypeError, RuntimeError) as e:
            error = e
        try:
            return np.asarray(x)
        except (TypeError, RuntimeError):
            raise TypeError(
                f"{fn}: {name} of dtype {dtype} cannot be read as a NumPy array ({error}); "
                "convert it to float32 first"
            ) from None
    return np.asarray(x)


def in_caller_kind(result, *inputs):
    """``result`` as the caller's library has it: a torch tensor when the first input that
    is not a NumPy array (or None) is a torch tensor, a JAX array for a JAX one (both
    through DLPack or the buffer, no copy but JAX's of bfloat16; a reduction becomes a 0-d
    array; bfloat16 as the library's bfloat16), else as it is."""
    for x in inputs:
        if x is None or type(x) is np.ndarray:
            continue
        module = type(x).__module__
        if module.startswith("torch"):
            import torch

            a = np.asarray(result)
            if is_bfloat16(a.dtype):  # torch.from_numpy knows no bfloat16: its bits, viewed
                return torch.from_numpy(a.view(np.uint16)).view(torch.bfloat16)
            return torch.from_numpy(a)
        if module.startswith(("jax", "jaxlib")):
            import jax.numpy as jnp

            a = np.asarray(result)
            if is_bfloat16(a.dtype):  # NumPy's DLPack export knows no bfloat16: a copy
                import ml_dtypes  # a dependency of JAX

                return jnp.asarray(a.view(ml_dtypes.bfloat16))
            return jnp.from_dlpack(a)
        return result
    return result


def scalar_of(a: np.ndarray):
    """A 0-d result as a NumPy scalar, but the bfloat16 marker's, which would become a plain
    uint16 scalar: it stays a 0-d array."""
    return a if a.dtype.metadata is not None else a[()]


def _in_place(a: np.ndarray) -> bool:
    flags = a.flags
    return flags.c_contiguous and flags.aligned


def native_array(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` as a C-contiguous, aligned array of the native ``dtype``: ``a`` itself when it is
    one, else one converted copy (the kernels read whole elements in place, never swapping
    bytes or splitting unaligned loads)."""
    if a.dtype.metadata is not None or dtype.metadata is not None:
        a = astype(a, dtype)  # the bfloat16 marker: not an integer conversion
    a = np.asarray(a, dtype=dtype, order="C")
    return a if a.flags.aligned else a.copy()


def real_option(fn: str, name: str, value: object) -> float:
    """``value`` as a float if it is a real number (a Python or NumPy int or float), else
    TypeError: a string, a bool or None is a caller's mistake, not a number to convert."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{fn}: {name} must be a real number; got {value!r} of type {type(value).__name__}"
        )
    try:
        return float(value)
    except OverflowError:  # an int beyond float range: out of every option's range
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def finite_option(
    fn: str, name: str, value: object, *, low: float, allow_low: bool = True
) -> float:
    """A float option that must be >= low (or > low)."""
    v = value if type(value) is float else real_option(fn, name, value)
    if not (v > low or (allow_low and v == low)) or v != v or v == float("inf"):
        bound = ">=" if allow_low else ">"
        raise ValueError(f"{fn}: {name} must be finite and {bound} {low}; got {value!r}")
    return v  # type: ignore[return-value]


def label_smoothing_option(fn: str, value: object) -> float:
    """The label_smoothing option: a number in [0, 1] (as torch)."""
    eps = value if type(value) is float else real_option(fn, "label_smoothing", value)
    if not 0.0 <= eps <= 1.0:  # type: ignore[operator]
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1]; got {value!r}")
    return eps  # type: ignore[return-value]


def axis_option(fn: str, axis: object) -> int:
    """An axis as a Python int: any integer but a bool (``axis=True`` is a mistake NumPy
    rejects too), else TypeError."""
    if type(axis) is int:
        return axis
    if isinstance(axis, bool | np.bool_):
        raise TypeError(f"{fn}: axis must be an integer, not a bool; got {axis!r}")
    try:
        return operator.index(axis)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{fn}: axis must be an integer; got {axis!r}") from None


def axis_index(fn: str, axis: object, ndim: int) -> int:
    """``axis`` of an array of ``ndim`` dimensions as an index in ``[0, ndim)``, else
    AxisError (or TypeError, see axis_option)."""
    ax = axis_option(fn, axis)
    if not -ndim <= ax < ndim:
        raise _AxisError(f"{fn}: axis {ax} is out of bounds for an array of dimension {ndim}")
    return ax % ndim


def out_option(fn: str, out: object, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """``out=`` must be an ndarray of the result's shape that takes the result under NumPy's
    ``same_kind`` casting (a float result is not truncated into an integer array)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fn}: out must be a NumPy array; got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{fn}: out shape {out.shape} must be the input shape {shape}")
    # bfloat16 casts as a float (the marker is not an integer here).
    src = _F32 if is_bfloat16(dtype) else dtype
    dst = _F16 if is_bfloat16(out.dtype) else out.dtype
    if not np.can_cast(src, dst, "same_kind"):
        raise TypeError(
            f"{fn}: cannot write the {dtype_name(dtype)} result into out of dtype "
            f"{dtype_name(out.dtype)} under casting rule 'same_kind'"
        )


def write_out(out: np.ndarray, result: np.ndarray) -> None:
    """``out[...] = result``, the bfloat16 marker converted as bfloat16 on either side."""
    if result.dtype.metadata is not None or out.dtype.metadata is not None:
        result = astype(result, out.dtype)
    out[...] = result
