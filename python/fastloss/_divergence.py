"""Divergences between distributions: kl_div, entropy.

One kernel pass each (src/cpp/kernels/divergence.hpp), float64 accumulation, results that do
not depend on the thread count. ``entropy`` reduces along any axis in place, never through a
transposed copy.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, SupportsIndex, overload

import numpy as np

from . import _core
from ._checks import (
    as_array,
    axis_index,
    float_dtype,
    float_pair,
    in_caller_kind,
    native_array,
    reduction_code,
    scalar_of,
)
from ._reduce import finish

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._types import FloatArray, FloatScalar, KLReduction

__all__ = ["entropy", "kl_div"]


# Overloads: the result's type follows ``reduction`` (a NumPy scalar, or the array of
# "none"); the last takes a ``reduction`` known only as a KLReduction.
@overload
def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: Literal["mean", "batchmean", "sum"] = ...,
    log_target: bool = ...,
) -> FloatScalar: ...
@overload
def kl_div(
    input: ArrayLike, target: ArrayLike, *, reduction: Literal["none"], log_target: bool = ...
) -> FloatArray: ...
@overload
def kl_div(
    input: ArrayLike, target: ArrayLike, *, reduction: KLReduction = ..., log_target: bool = ...
) -> FloatScalar | FloatArray: ...
def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: KLReduction = "mean",
    log_target: bool = False,
) -> FloatScalar | FloatArray:
    """Kullback-Leibler divergence ``KL(y || p)`` with ``input = log p`` (torch's convention):
    pointwise ``y·log y - y·x``, or ``exp(y)·(y - x)`` with ``log_target=True``.

    Parameters
    ----------
    input : array_like
        Log-probabilities ``x``. float32, float64, float16 and bfloat16 are computed
        natively (half in float32, a reduction of it float32); two float dtypes take one
        common dtype (docs/semantics.md); integer and bool inputs are read as float64.
    target : array_like
        Probabilities ``y`` (log-probabilities with ``log_target``), same shape as
        ``input`` (no broadcasting).
    reduction : {"mean", "batchmean", "sum", "none"}, default "mean"
        ``"mean"`` divides the sum by the number of elements, ``"batchmean"`` by the size
        of axis 0 (the mean divergence per sample; a 0-d input is not divided).
    log_target : bool, default False
        Whether ``target`` holds log-probabilities.

    Returns
    -------
    numpy scalar or ndarray
        Of the result dtype (``np.float32`` for float32 inputs). The mean of an empty input
        is NaN, its sum 0.

    Raises
    ------
    ValueError
        Shapes that differ, or a bad ``reduction``.
    TypeError
        Complex, object or string input.

    Notes
    -----
    Equals ``torch.nn.functional.kl_div``: ``y·log y`` is ``xlogy(y, y)``, 0 where ``y = 0``,
    so a term with ``y = 0`` is 0 for finite ``x`` and NaN for ``x = -inf`` (``0·-inf``), as
    in torch. Unlike torch, ``"mean"`` does not warn that it is not the true divergence; use
    ``"batchmean"`` for that. The sum is accumulated in float64 and does not depend on the
    thread count. Input that is not C-contiguous, aligned and in native byte order is
    copied once.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> print(fastloss.kl_div(np.log([0.25, 0.75]), [0.5, 0.5], reduction="sum").round(8))
    0.14384104
    """
    fn = "kl_div"
    reduction_code(fn, reduction, ("batchmean",))
    x, y = float_pair(fn, input, target)
    out = np.empty_like(x) if reduction == "none" else None
    total = _core.kl_div(x, y, out, bool(log_target))
    if out is not None:
        result = out
    elif reduction == "batchmean":
        result = finish(total, x.shape[0] if x.ndim else 1, "mean", x.dtype)
    else:
        result = finish(total, x.size, reduction, x.dtype)
    return in_caller_kind(result, input, target)


def entropy(p: ArrayLike, *, axis: SupportsIndex = -1) -> FloatScalar | FloatArray:
    """Shannon entropy (natural log) of each distribution along ``axis``,
    ``H(p) = -Σ_c p_c·log p_c`` with ``0·log 0 = 0``.

    Parameters
    ----------
    p : array_like
        Probabilities, taken as given: not renormalized (unlike ``scipy.stats.entropy``).
        A 0-d input is one class. dtype rules as in :func:`kl_div`.
    axis : int, default -1
        The class axis; reduced in place, with no transposed copy.

    Returns
    -------
    numpy scalar or ndarray
        The entropy of each distribution: the shape of ``p`` without ``axis``, in the result
        dtype (``np.float32`` for float32 input); a NumPy scalar for 1-D (and 0-d) input.
        A distribution of 0 classes has entropy 0.

    Raises
    ------
    numpy.exceptions.AxisError
        ``axis`` out of range (a subclass of ValueError and IndexError).
    TypeError
        Complex, object or string input, or a non-integer ``axis``.

    Notes
    -----
    A negative ``p`` gives NaN, NaN propagates. Each distribution is summed in float64 in a
    fixed order, so the result does not depend on the thread count. Input that is not
    C-contiguous, aligned and in native byte order is copied once.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.entropy([0.7, 0.2, 0.1]).round(8))
    0.80181855
    >>> fastloss.entropy([[0.5, 0.5], [1.0, 0.0]], axis=1).round(6)
    array([0.693147, 0.      ])
    """
    fn = "entropy"
    a = as_array(fn, "p", p)
    dtype = float_dtype(fn, "p", a)
    if a.ndim == 0:
        a = a.reshape(1)  # one class, like the softmax family
    ax = axis_index(fn, axis, a.ndim)
    a = native_array(a, dtype)
    shape = a.shape
    out = np.empty(shape[:ax] + shape[ax + 1 :], dtype=dtype)
    _core.entropy(a, out, math.prod(shape[:ax]), shape[ax], math.prod(shape[ax + 1 :]))
    return in_caller_kind(scalar_of(out) if out.ndim == 0 else out, p)
