"""Binary cross-entropy: binary_cross_entropy, binary_cross_entropy_with_logits.

Each reads ``input``, ``target`` (and a weight, if any) once, in one fused kernel pass
(src/cpp/kernels/binary.hpp), and accumulates in float64 with a fixed chunking, so every
thread count gives the same bits. ``binary_cross_entropy`` checks that its inputs lie in
[0, 1] inside that same pass.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from . import _core
from ._checks import (
    as_array,
    float_dtype,
    float_pair,
    in_caller_kind,
    native_array,
    reduction_code,
    weight_dtype,
)
from ._reduce import finish

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._types import FloatArray, FloatScalar, Reduction

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits"]


def _periodic_weight(
    fn: str, name: str, weight: object, shape: tuple[int, ...], dtype: np.dtype
) -> tuple[np.ndarray | None, int]:
    """``weight`` broadcast to ``shape``, as (tile, period) for the kernel, in the weight
    dtype of data of ``dtype`` (float32 for half data).

    A weight whose shape is the input's trailing dimensions (after leading 1s) repeats along
    the flat index with period = its size: a scalar, a per-last-axis vector, a full-shape
    array. The full-shape one is passed as is (no copy when it is C-contiguous in ``dtype``);
    a shorter one as a small tile. Any other broadcast (e.g. ``(N, 1)`` against ``(N, C)``)
    is materialized once with ``np.broadcast_to`` + a contiguous copy.
    """
    if weight is None:
        return None, 1
    dtype = weight_dtype(dtype)
    w = as_array(fn, name, weight)
    float_dtype(fn, name, w)  # TypeError for complex, object, strings
    if w.shape != shape:  # the full shape needs no broadcast check
        try:
            fits = np.broadcast_shapes(w.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{fn}: {name} shape {w.shape} does not broadcast to input shape {shape}"
            )
    n = math.prod(shape)
    if n == 0:
        return None, 1
    dims = w.shape
    while dims and dims[0] == 1:
        dims = dims[1:]
    if dims == shape[len(shape) - len(dims) :]:
        flat = native_array(w, dtype).reshape(-1)
        period = flat.size
    else:
        flat = native_array(np.broadcast_to(w, shape), dtype).reshape(-1)
        period = n
    if period == n:
        return flat, n
    # The kernel reads a tile at least WEIGHT_TILE_PAD long, with at least that many
    # elements after its period (kernels/args.hpp).
    reps = -(-_core.WEIGHT_TILE_PAD // period)
    return np.tile(flat, 2 * reps), period * reps


def _out_of_range(fn: str, x: np.ndarray, y: np.ndarray, index: int) -> ValueError:
    where = np.unravel_index(index, x.shape)
    for name, a in (("input", x), ("target", y)):
        value = a.reshape(-1)[index]
        if not 0 <= value <= 1:
            at = f"[{', '.join(str(int(i)) for i in where)}]" if x.ndim else ""
            return ValueError(f"{fn}: {name}{at} = {value!s} is outside [0, 1]")
    raise AssertionError("the kernel flagged an element inside [0, 1]")  # pragma: no cover


# Overloads: the result's type follows ``reduction`` (a NumPy scalar, or the array of
# "none"); the last takes a ``reduction`` known only as a Reduction.
@overload
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    reduction: Literal["mean", "sum"] = ...,
) -> FloatScalar: ...
@overload
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    reduction: Literal["none"],
) -> FloatArray: ...
@overload
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    reduction: Reduction = ...,
) -> FloatScalar | FloatArray: ...
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> FloatScalar | FloatArray:
    """Binary cross-entropy between probabilities and targets,
    ``-w·(y·log p + (1-y)·log(1-p))``, each log clamped at ``>= -100`` as torch does.

    Parameters
    ----------
    probs : array_like
        Probabilities ``p`` in [0, 1]. float32, float64, float16 and bfloat16 are computed
        natively (half in float32, a reduction of it float32); two float dtypes take one
        common dtype (docs/semantics.md); integer and bool inputs are read as float64.
    target : array_like
        Targets ``y`` in [0, 1] (hard 0/1 labels or soft ones), same shape as ``probs``
        (no broadcasting).
    weight : array_like, optional
        Weight ``w`` of each element, broadcast to ``probs``' shape (a scalar, a per-class
        vector over the last axis, a full-shape array, ...). Cast to the computation dtype.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over all elements; the weight is not in the denominator.

    Returns
    -------
    numpy scalar or ndarray
        Of the result dtype (``np.float32`` for float32 inputs). The mean of an empty input
        is NaN, its sum 0.

    Raises
    ------
    ValueError
        An element of ``probs`` or ``target`` outside [0, 1] (NaN included; torch raises
        ``RuntimeError``), shapes that differ, a weight that does not broadcast, or a bad
        ``reduction``.
    TypeError
        Complex, object or string input.

    Notes
    -----
    Equals ``torch.nn.functional.binary_cross_entropy``, which also computes the second log
    as ``log1p(-p)``. The sum is accumulated in float64 and does not depend on the thread
    count. The range check runs inside the kernel's single pass; the error names the first
    offending element. A vector of hard labels costs one log per element, soft
    labels two. Input that is not C-contiguous, aligned and in native byte order is copied
    once; a weight of the input's full shape, of its trailing dimensions or a scalar is read
    in place (or through a tile of a few hundred elements), any other broadcast weight (e.g.
    ``(N, 1)``) is materialized once.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.binary_cross_entropy([0.8, 0.4], [1.0, 0.0]).round(8))
    0.36698459
    """
    fn = "binary_cross_entropy"
    reduction_code(fn, reduction)
    x, y = float_pair(fn, probs, target)
    w, w_period = _periodic_weight(fn, "weight", weight, x.shape, x.dtype)
    out = np.empty_like(x) if reduction == "none" else None
    total, bad = _core.bce(x, y, w, w_period, out)
    if bad >= 0:
        raise _out_of_range(fn, x, y, bad)
    result = out if out is not None else finish(total, x.size, reduction, x.dtype)
    return in_caller_kind(result, probs, target, weight)


@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    pos_weight: ArrayLike | None = ...,
    reduction: Literal["mean", "sum"] = ...,
) -> FloatScalar: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    pos_weight: ArrayLike | None = ...,
    reduction: Literal["none"],
) -> FloatArray: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    pos_weight: ArrayLike | None = ...,
    reduction: Reduction = ...,
) -> FloatScalar | FloatArray: ...
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pos_weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> FloatScalar | FloatArray:
    """Binary cross-entropy on logits, ``-w·(pw·y·log σ(x) + (1-y)·log(1-σ(x)))``.

    Computed as a sum of non-negative terms, ``w·(pw·y·softplus(-x) + (1-y)·softplus(x))``
    with ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``: one exp and one log per element,
    accurate for every ``x`` (no overflow, no cancellation at large ``|x|``).

    Parameters
    ----------
    logits : array_like
        Logits ``x``; dtype rules as in :func:`binary_cross_entropy`.
    target : array_like
        Targets ``y``, same shape as ``logits``; not checked, as in torch.
    weight : array_like, optional
        Weight ``w`` of each element, broadcast to ``logits``' shape.
    pos_weight : array_like, optional
        Weight ``pw`` of the positive term, broadcast to ``logits``' shape; a ``(C,)``
        vector weights each of the ``C`` labels along the last axis, as in torch.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over all elements; weights are not in the denominator.

    Returns
    -------
    numpy scalar or ndarray
        As in :func:`binary_cross_entropy`.

    Raises
    ------
    ValueError
        Shapes that differ, a weight that does not broadcast, or a bad ``reduction``.
    TypeError
        Complex, object or string input.

    Notes
    -----
    Equals ``torch.nn.functional.binary_cross_entropy_with_logits``, which evaluates the
    algebraically equal ``(1-y)·x + (1+(pw-1)·y)·(log1p(exp(-|x|)) + max(-x, 0))``; that form
    cancels for large negative ``x``, this one does not. Both terms are non-negative only
    for ``y`` in [0, 1] and ``pw >= 0``; elsewhere (torch accepts any target) they can
    cancel instead, and torch's form gives the value there for finite ``x``. At
    ``x = -inf`` with ``pw·y > 0`` the loss is ``+inf``, its limit (torch gives NaN).
    Unlike torch, a weight must broadcast to the logits' shape (it never enlarges the
    result). ``x = ±inf`` with a target that multiplies the infinite softplus by 0 gives
    NaN, as in torch. Weights are
    cast to the computation dtype and read as in :func:`binary_cross_entropy`; the sum is
    accumulated in float64 and does not depend on the thread count.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0]).round(8))
    0.22009485
    """
    fn = "binary_cross_entropy_with_logits"
    reduction_code(fn, reduction)
    x, y = float_pair(fn, logits, target)
    w, w_period = _periodic_weight(fn, "weight", weight, x.shape, x.dtype)
    pw, pw_period = _periodic_weight(fn, "pos_weight", pos_weight, x.shape, x.dtype)
    out = np.empty_like(x) if reduction == "none" else None
    total = _core.bce_with_logits(x, y, w, w_period, pw, pw_period, out)
    result = out if out is not None else finish(total, x.size, reduction, x.dtype)
    return in_caller_kind(result, logits, target, weight, pos_weight)
