"""Classification losses and the softmax family: cross_entropy, nll_loss, log_softmax,
softmax, logsumexp.

The class axis is handled in place: the input is viewed as ``(outer, C, inner)`` with the
classes in the middle (``inner == 1`` for the last axis), and the kernels
(src/cpp/kernels/softmax.hpp, cross_entropy.hpp) vectorize along the classes for long rows
and across rows (or the contiguous inner axis) otherwise. No transposed copy is ever made.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, Literal, SupportsIndex, TypeVar, overload

import numpy as np

from . import _core
from ._ce_front import class_loss
from ._checks import (
    as_array,
    axis_index,
    axis_option,
    float_dtype,
    in_caller_kind,
    native_array,
    out_option,
    scalar_of,
    write_out,
)
from ._half import astype, is_half

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._types import FloatArray, FloatScalar, Reduction

__all__ = ["cross_entropy", "log_softmax", "logsumexp", "nll_loss", "softmax"]

_Kind = _core.SoftmaxKind
# The kinds as module constants: a lookup on the enum class costs ~10 ns a call.
_SOFTMAX, _LOG_SOFTMAX, _LOGSUMEXP = _Kind.SOFTMAX, _Kind.LOG_SOFTMAX, _Kind.LOGSUMEXP


def _float_input(fn: str, name: str, x: object) -> np.ndarray:
    """``x`` as a ready array (C-contiguous, aligned, native) of its float compute dtype;
    copied only when it is not one already."""
    a = as_array(fn, name, x)
    return native_array(a, float_dtype(fn, name, a))


def _layout(shape: tuple[int, ...], first: int, last: int) -> tuple[int, int, int]:
    """(outer, classes, inner) of a C-contiguous array reduced over axes first..last."""
    return prod(shape[:first]), prod(shape[first : last + 1]), prod(shape[last + 1 :])


# The type of an ``out=`` array: what is passed in is returned.
_OutT = TypeVar("_OutT", bound=np.ndarray)


# ---------------------------------------------------------------------------------------
# softmax family


def _softmax_common(fn: str, kind: _Kind, x: ArrayLike, axis: SupportsIndex, out):
    # Fast path (per-call overhead <= 2 µs): a ready x and out, one binding call; None if
    # anything needs work.
    res = _core.softmax(x, out, axis, kind)
    if res is not None:
        return res
    a = _float_input(fn, "input", x)
    shape = a.shape
    if a.ndim == 0:  # one class, as torch
        a = a.reshape(1)
        if axis_option(fn, axis) not in (0, -1):
            axis_index(fn, axis, 0)
        ax = 0
    else:
        ax = axis_index(fn, axis, a.ndim)
    if out is not None:
        out_option(fn, out, a.dtype, shape)
        # None: out cannot take the result directly (another dtype or layout, x's memory).
        if _core.softmax(a, out, ax, kind) is not None:
            return out
    # Half input into an out the kernel cannot write: the float32 result, rounded once into out.
    into = np.empty(a.shape, np.float32) if out is not None and is_half(a.dtype) else None
    result = _core.softmax(a, into, ax, kind).reshape(shape)
    if out is None:
        return in_caller_kind(result, x)
    write_out(out, result)
    return out


@overload
def softmax(x: ArrayLike, *, axis: SupportsIndex = ..., out: None = ...) -> FloatArray: ...
@overload
def softmax(x: ArrayLike, *, axis: SupportsIndex = ..., out: _OutT) -> _OutT: ...
def softmax(x: ArrayLike, *, axis: SupportsIndex = -1, out: np.ndarray | None = None) -> np.ndarray:
    """Softmax along ``axis``: ``exp(x_c - m) / Σ_k exp(x_k - m)`` with ``m = max_k x_k``.

    Parameters
    ----------
    x : array_like
        Logits. float32, float64, float16 and bfloat16 are computed natively (half in
        float32, rounded once to its dtype); integer input is read as float64.
        A 0-d input is one class (result 1).
    axis : int, default -1
        The class axis; any axis is handled in place, without a transposed copy.
    out : ndarray, optional
        Receives the result (cast to its dtype when that differs) and is returned. It may be
        ``x`` itself.

    Returns
    -------
    ndarray
        Same shape as ``x``, of its float dtype; each row sums to 1. A masked class (-inf)
        gives exactly 0; a row with +inf or NaN, or of only -inf, gives NaN, as torch.

    Notes
    -----
    Equals ``torch.softmax``. One read of ``x`` per row, each exp evaluated once; the row is
    scaled while it is still in cache. Input that is not C-contiguous, aligned and in native
    byte order is copied once. SIMD backends may differ from one another in the last bits.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.softmax([3.0, 1.0, -3.0]).round(8))
    [0.87887824 0.11894324 0.00217852]
    """
    return _softmax_common("softmax", _SOFTMAX, x, axis, out)


@overload
def log_softmax(x: ArrayLike, *, axis: SupportsIndex = ..., out: None = ...) -> FloatArray: ...
@overload
def log_softmax(x: ArrayLike, *, axis: SupportsIndex = ..., out: _OutT) -> _OutT: ...
def log_softmax(
    x: ArrayLike, *, axis: SupportsIndex = -1, out: np.ndarray | None = None
) -> np.ndarray:
    """Log of the softmax along ``axis``: ``x_c - logsumexp(x)``.

    Parameters
    ----------
    x : array_like
        Logits. float32, float64, float16 and bfloat16 are computed natively (half in
        float32, rounded once to its dtype); integer input is read as float64.
        A 0-d input is one class (result 0).
    axis : int, default -1
        The class axis; any axis is handled in place, without a transposed copy.
    out : ndarray, optional
        Receives the result (cast to its dtype when that differs) and is returned.

    Returns
    -------
    ndarray
        Same shape as ``x``, of its float dtype. A masked class (-inf) gives -inf; a row with
        +inf or NaN, or of only -inf, gives NaN, as torch.

    Notes
    -----
    Equals ``torch.log_softmax``. ``x_c - lse`` is formed with lse split in a high and a low
    part, so the largest entries (near 0) round once. Input that is not C-contiguous, aligned
    and in native byte order is copied once.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.log_softmax([0.0, 0.0]))
    [-0.69314718 -0.69314718]
    """
    return _softmax_common("log_softmax", _LOG_SOFTMAX, x, axis, out)


def _axes(fn: str, axis: object, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple | list):
        axes = tuple(axis_index(fn, a, ndim) for a in axis)
    else:
        axes = (axis_index(fn, axis, ndim),)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fn}: duplicate value in axis {axis!r}")
    return tuple(sorted(axes))


def logsumexp(
    x: ArrayLike,
    *,
    axis: SupportsIndex | tuple[SupportsIndex, ...] | None = -1,
    keepdims: bool = False,
) -> FloatScalar | FloatArray:
    """Log of the sum of exponentials along ``axis``: ``m + log Σ exp(x - m)``, ``m = max x``.

    Parameters
    ----------
    x : array_like
        Values. float32, float64, float16 and bfloat16 are computed natively (half in
        float32, rounded once to its dtype); integer input is read as float64.
        A 0-d input is one class: the result is x.
    axis : int, tuple of int or None, default -1
        Axis or axes to reduce, as in NumPy (None: all). Adjacent axes are reduced in one
        pass; separate groups one after the other (logsumexp is associative), never through
        a transposed copy.
    keepdims : bool, default False
        Keep the reduced axes with length 1.

    Returns
    -------
    numpy scalar or ndarray
        Of the input's float dtype, shaped as ``np.sum`` would. A row with +inf gives +inf,
        a row of only -inf (or an empty row) -inf, a row with NaN NaN, as torch.

    Notes
    -----
    Equals ``torch.logsumexp`` and ``scipy.special.logsumexp`` given the same ``axis`` (SciPy's
    default, ``axis=None``, reduces every axis; here the default is -1). Long rows take one read
    with a shift folded into exp's exponent; short ones are vectorized across rows.

    Examples
    --------
    >>> import fastloss
    >>> print(round(float(fastloss.logsumexp([0.0, 0.0])), 8))
    0.69314718
    >>> fastloss.logsumexp(np.zeros((2, 3, 4), np.float32), axis=(0, 2)).shape
    (3,)
    """
    fn = "logsumexp"
    if not keepdims:
        # Fast path (per-call overhead <= 2 µs): one int axis of a ready x, one binding call;
        # None if anything needs work.
        res = _core.softmax(x, None, axis, _LOGSUMEXP)
        if res is not None:
            # A 0-d bfloat16 marker stays an array (scalar_of), tested inline: the budget.
            return res[()] if res.ndim == 0 and res.dtype.metadata is None else res
    a = _float_input(fn, "input", x)
    dtype = a.dtype
    if a.ndim == 0:
        if axis is not None:  # one class: only axis 0 or -1 exists
            for ax in axis if isinstance(axis, tuple | list) else (axis,):
                if axis_option(fn, ax) not in (0, -1):
                    _axes(fn, axis, 0)
        return in_caller_kind(scalar_of(a.copy()) if not keepdims else a.copy(), x)
    axes = _axes(fn, axis, a.ndim)
    # Runs of adjacent axes, reduced last run first so the earlier axes keep their numbers.
    runs: list[list[int]] = []
    for ax in axes:
        if runs and runs[-1][-1] == ax - 1:
            runs[-1].append(ax)
        else:
            runs.append([ax])
    if not axes:  # log(exp(x)) over no axis
        return in_caller_kind(a.copy(), x)
    cur = a
    for k, run in enumerate(reversed(runs)):
        first, last = run[0], run[-1]
        n_outer, n_classes, n_inner = _layout(cur.shape, first, last)
        new_shape = cur.shape[:first] + cur.shape[last + 1 :]
        # Intermediate results stay float64: the next stage reads them as its logits.
        final = k == len(runs) - 1 and cur.dtype == dtype
        res = np.empty(new_shape, dtype=dtype if final else np.float64)
        # The run is the middle axis of a 3-d view (no copy): one kernel pass.
        view = cur.reshape(n_outer, n_classes, n_inner)
        _core.softmax(view, res.reshape(n_outer, n_inner), 1, _LOGSUMEXP)
        cur = res
    cur = astype(cur, dtype)
    if keepdims:
        cur = cur.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))
        return in_caller_kind(cur, x)
    return in_caller_kind(scalar_of(cur) if cur.ndim == 0 else cur, x)


# ---------------------------------------------------------------------------------------
# cross_entropy, nll_loss


# Overloads: the result's type follows ``reduction`` (a NumPy scalar, or the per-row array
# of "none"); the last takes a ``reduction`` known only as a Reduction. The overloads exist
# for type checkers only: the function called is the plain one below.
@overload
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    reduction: Literal["mean", "sum"] = ...,
    label_smoothing: float = ...,
    axis: SupportsIndex = ...,
) -> FloatScalar: ...
@overload
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    reduction: Literal["none"],
    label_smoothing: float = ...,
    axis: SupportsIndex = ...,
) -> FloatArray: ...
@overload
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    reduction: Reduction = ...,
    label_smoothing: float = ...,
    axis: SupportsIndex = ...,
) -> FloatScalar | FloatArray: ...
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: SupportsIndex = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    axis: SupportsIndex = -1,
) -> FloatScalar | FloatArray:
    """Cross-entropy of logits against class indices or class probabilities, fused:
    log-softmax and negative log-likelihood in one pass over the logits.

    With ``lp = log_softmax(logits)``, class weights ``w`` (ones by default), ``C`` classes
    and ``ε = label_smoothing``:

    - class indices ``t``: ``l_i = (1-ε)·(-w[t_i]·lp[i,t_i]) + (ε/C)·(-Σ_c w[c]·lp[i,c])``;
      rows with ``t_i == ignore_index`` give 0 and do not count; ``"mean"`` is
      ``Σ l_i / Σ w[t_i]`` over the counted rows (NaN when every row is ignored).
    - probabilities ``y`` (same shape as the logits): ``l_i = -Σ_c w[c]·y'[i,c]·lp[i,c]``
      with ``y' = (1-ε)·y + ε/C``; ``"mean"`` divides by the number of rows.

    Parameters
    ----------
    logits : array_like
        Unnormalized scores, classes along ``axis``. float32, float64, float16 and
        bfloat16 are computed natively (half in float32, a reduction of it float32); float
        probability targets of another dtype take one common dtype (docs/semantics.md).
    target : array_like
        Class indices of any integer dtype, shape ``logits.shape`` without ``axis`` (int32
        and int64 are read in place, others converted: a copy of the targets, never of the
        logits); or float probabilities of the logits' shape.
    weight : array_like, optional
        Class weights, shape ``(C,)``.
    ignore_index : int, default -100
        Target value whose rows are skipped; may be a valid class (that class's logit still
        enters the other rows' log-sum-exp). Only -100 with probability targets.
    reduction : {"mean", "sum", "none"}, default "mean"
    label_smoothing : float in [0, 1], default 0.0
    axis : int, default -1
        The class axis (``axis=1`` for torch's ``(N, C, d1, ...)``), handled in place.

    Returns
    -------
    numpy scalar or ndarray
        Of the logits' float dtype; ``"none"``: the per-row losses, shape ``logits.shape``
        without ``axis``. The mean over no rows is NaN, the sum 0.

    Raises
    ------
    ValueError
        Bad ``reduction`` or ``label_smoothing``, 0-d logits (no class axis), shapes that do
        not match, a bad weight shape, or ``ignore_index`` other than -100 with probability
        targets.
    IndexError
        A class index outside ``[0, C)`` that is not ``ignore_index`` (the first one, by row).
    TypeError
        Unsupported dtypes (complex logits, float targets of the index shape, ...), or an
        option of the wrong type (``label_smoothing="0.1"``, ``axis=True``).

    Notes
    -----
    Equals ``torch.nn.functional.cross_entropy``, including its values at the extremes: a
    row with +inf or NaN, or of only -inf, gives NaN; a target on a masked (-inf) class
    gives +inf, as does label smoothing over a row with a masked class; a probability
    target of 0 on a masked class gives NaN (0·-inf). Logits are read once, with no
    temporary of their size; the sum is accumulated in float64 in an order fixed by the
    shape, so every thread count gives the same bits; the SIMD backends (``simd_backend()``)
    may differ from one another in the last bits. Logits that are not C-contiguous, aligned
    and in native byte order are copied once (targets likewise).

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.cross_entropy([[0.0, 0.0]], [1]) == np.log(2.0))
    True
    >>> p = np.array([[.3, .3, .4], [.3, .4, .3], [.1, .2, .7]])
    >>> print(round(float(fastloss.cross_entropy(np.log(p), [2, 1, 0])), 8))
    1.37838885
    """
    return class_loss(
        "cross_entropy",
        False,
        logits,
        target,
        weight,
        ignore_index,
        reduction,
        axis,
        label_smoothing,
    )


@overload
def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    reduction: Literal["mean", "sum"] = ...,
    axis: SupportsIndex = ...,
) -> FloatScalar: ...
@overload
def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    reduction: Literal["none"],
    axis: SupportsIndex = ...,
) -> FloatArray: ...
@overload
def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    reduction: Reduction = ...,
    axis: SupportsIndex = ...,
) -> FloatScalar | FloatArray: ...
def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: SupportsIndex = -100,
    reduction: Reduction = "mean",
    axis: SupportsIndex = -1,
) -> FloatScalar | FloatArray:
    """Negative log-likelihood of class indices: ``l_i = -w[t_i]·lp[i, t_i]``.

    Rows with ``t_i == ignore_index`` give 0 and do not count; ``"mean"`` is
    ``Σ l_i / Σ w[t_i]`` over the counted rows (NaN when every row is ignored).

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities ``lp``, classes along ``axis``; float32/float64 native.
    target : array_like of int
        Class indices, shape ``log_probs.shape`` without ``axis``; int32/int64 read in place,
        other integer dtypes converted.
    weight : array_like, optional
        Class weights, shape ``(C,)``.
    ignore_index : int, default -100
        May be a valid class.
    reduction : {"mean", "sum", "none"}, default "mean"
    axis : int, default -1
        The class axis, handled in place.

    Returns
    -------
    numpy scalar or ndarray
        Of the input's float dtype; ``"none"``: one loss per row.

    Raises
    ------
    ValueError
        Bad ``reduction``, 0-d input (no class axis), target or weight shape.
    IndexError
        A class index outside ``[0, C)`` that is not ``ignore_index``.

    Notes
    -----
    Equals ``torch.nn.functional.nll_loss``. Reads one entry per row. Input that is not
    C-contiguous, aligned and in native byte order is copied once.

    Examples
    --------
    >>> import fastloss
    >>> p = np.array([[.1, .2, .7], [.1, .7, .2], [.3, .4, .3]])
    >>> print(round(float(fastloss.nll_loss(np.log(p), [2, 1, 0])), 8))
    0.63910756
    """
    return class_loss("nll_loss", True, log_probs, target, weight, ignore_index, reduction, axis)
