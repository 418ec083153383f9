"""Plain NumPy reference implementations of every fastloss loss.

Each function has the name and signature of its public counterpart in
:mod:`fastloss`, computes in float64 whatever the input dtype, and reads like the
formulas of docs/semantics.md. Tests and ``bench/`` compare the compiled kernels to it,
so it is written for clarity and correctness, not speed: it moves the class axis
to the end and makes temporaries of the input's size.

Semantics follow ``torch.nn.functional``: ``ignore_index``, class weights, label
smoothing, probability targets, ``"batchmean"``, and the same inf/NaN results at
the extremes. Reductions return ``np.float64``; ``reduction="none"`` returns a
float64 ndarray. A ``"mean"`` over nothing (empty input, or every row ignored) is
NaN, a ``"sum"`` over nothing is 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from ._types import ClassificationMetrics, KLReduction, Reduction, RegressionMetrics

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "classification_metrics",
    "cross_entropy",
    "entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "nll_loss",
    "regression_metrics",
    "smooth_l1_loss",
    "softmax",
]

Float64Array = NDArray[np.float64]
_F = TypeVar("_F", bound=Callable[..., Any])

_REDUCTIONS = ("mean", "sum", "none")
_KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")
_SMALLEST_SUBNORMAL = float(np.nextafter(0.0, 1.0))
# torch's minimum for each log in binary_cross_entropy: keeps 0·log 0 finite.
_BCE_LOG_FLOOR = -100.0


# ---------------------------------------------------------------------------
# helpers


def _quiet(func: _F) -> _F:
    """Run ``func`` with NumPy's floating-point warnings off.

    The reference produces inf and NaN on purpose (log 0, inf - inf in a row with
    +inf, 0/0 for an empty mean), and the test suite turns warnings into errors.
    A fresh ``np.errstate`` per call keeps this safe under recursion and threads.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _check_reduction(name: str, reduction: str, valid: tuple[str, ...] = _REDUCTIONS) -> None:
    if not isinstance(reduction, str) or reduction not in valid:
        choices = ", ".join(repr(v) for v in valid)
        raise ValueError(f"{name}: reduction must be one of {choices}; got {reduction!r}")


def _reduce(loss: ArrayLike, reduction: str, count: float) -> np.float64 | Float64Array:
    """Apply an already checked ``reduction``; ``"mean"`` is ``sum(loss) / count``.

    With nothing counted this is 0/0 = NaN, as in torch.
    """
    if reduction == "none":
        return np.asarray(loss, dtype=np.float64)
    total = np.sum(loss, dtype=np.float64)
    if reduction == "sum":
        return total
    return np.float64(total / count)


def _check_same_shape(name: str, a_name: str, a: np.ndarray, b_name: str, b: np.ndarray) -> None:
    # No silent broadcasting of (N, 1) against (N,): docs/semantics.md, "Errors".
    if a.shape != b.shape:
        raise ValueError(
            f"{name}: {a_name} shape {a.shape} and {b_name} shape {b.shape} must match exactly"
        )


def _class_weight(name: str, weight: ArrayLike | None, n_classes: int) -> Float64Array:
    if weight is None:
        return np.ones(n_classes)
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (n_classes,):
        raise ValueError(f"{name}: weight shape {w.shape} must be ({n_classes},), one per class")
    return w


def _xlogy_self(y: Float64Array) -> Float64Array:
    """``y·log y`` with ``0·log 0 = 0`` (torch's ``xlogy(y, y)``); NaN stays NaN."""
    return np.where(y == 0, 0.0, y * np.log(y))


def _softplus(z: Float64Array) -> Float64Array:
    """``log(1 + e^z)`` as ``max(z, 0) + log1p(e^-|z|)``: never overflows, never cancels."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _nll_per_row(
    name: str,
    log_probs: Float64Array,
    target: ArrayLike,
    weight: ArrayLike | None,
    ignore_index: int,
) -> tuple[Float64Array, Float64Array, NDArray[np.bool_]]:
    """Per-row ``-w[t]·lp[t]`` for ``log_probs`` with the classes on the last axis.

    Returns the losses, the weights ``w[t]`` (the denominator of ``"mean"``) and the
    mask of counted rows; ignored rows have loss 0 and weight 0.
    """
    n_classes = log_probs.shape[-1]
    t = np.asarray(target)
    # np.asarray([]) is float64: an empty target carries no dtype information.
    if t.dtype.kind not in "iu" and t.size > 0:
        raise TypeError(f"{name}: target must hold integer class indices; got {t.dtype}")
    t = t.astype(np.int64)
    if t.shape != log_probs.shape[:-1]:
        raise ValueError(
            f"{name}: target shape {t.shape} must be the input shape without the class "
            f"axis, {log_probs.shape[:-1]}"
        )
    counted = t != ignore_index
    out_of_range = counted & ((t < 0) | (t >= n_classes))
    if out_of_range.any():
        pos = tuple(int(i) for i in np.argwhere(out_of_range)[0])
        raise IndexError(
            f"{name}: target[{', '.join(map(str, pos))}] = {t[pos]} is outside "
            f"[0, {n_classes}) and is not ignore_index ({ignore_index})"
        )
    w = _class_weight(name, weight, n_classes)
    # Any valid class will do for ignored rows: they are masked out below.
    t_safe = np.where(counted, t, 0)
    w_t = np.where(counted, w[t_safe], 0.0)
    lp_t = np.take_along_axis(log_probs, t_safe[..., np.newaxis], axis=-1)[..., 0]
    # np.where, not a product with the mask: an ignored row with lp_t = -inf or NaN
    # must still give exactly 0, as in torch.
    loss = np.where(counted, -w_t * lp_t, 0.0)
    return loss, w_t, counted


# ---------------------------------------------------------------------------
# softmax family


@_quiet
def logsumexp(
    x: ArrayLike, *, axis: int | tuple[int, ...] = -1, keepdims: bool = False
) -> np.float64 | Float64Array:
    """Log of the sum of exponentials along ``axis``.

    ``logsumexp(x) = m + log(Σ exp(x - m))`` with ``m = max(x)``.

    Parameters
    ----------
    x : array_like
        Values; a 0-d input is one class and returns itself.
    axis : int or tuple of int, default -1
        Axis or axes to reduce, as in NumPy.
    keepdims : bool, default False
        Keep the reduced axes with length 1.

    Returns
    -------
    np.float64 or ndarray of float64
        As ``np.sum`` would shape it. A row with +inf gives +inf, a row of only
        -inf (or an empty row) gives -inf, a row with NaN gives NaN, as in torch.

    Examples
    --------
    >>> print(logsumexp([0.0, 0.0]) == np.log(2.0))
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return x[()]  # log(exp(x)) = x, also for ±inf and NaN
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    # Shifting by an infinite max would turn x - m into NaN; torch shifts by 0
    # there so that +inf rows give +inf and all -inf rows give -inf.
    shift = np.where(np.isinf(m), 0.0, m)
    result = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    if not keepdims:
        result = np.squeeze(result, axis=axis)
    return result[()]


@_quiet
def log_softmax(x: ArrayLike, *, axis: int = -1, out: np.ndarray | None = None) -> Float64Array:
    """Logarithm of the softmax along ``axis``.

    ``log_softmax(x)_c = (x_c - m) - log(Σ_k exp(x_k - m))`` with ``m = max_k x_k``.

    Parameters
    ----------
    x : array_like
        Logits; a 0-d input is one class (result 0).
    axis : int, default -1
        The class axis.
    out : ndarray, optional
        Written with the result (cast to its dtype) and returned.

    Returns
    -------
    ndarray of float64
        Same shape as ``x``. A masked class (-inf) gives -inf; a row with +inf or
        NaN, or of only -inf, gives NaN, as in torch.

    Examples
    --------
    >>> print(log_softmax([0.0, 0.0]) == -np.log(2.0))
    [ True  True]
    """
    x = np.asarray(x, dtype=np.float64)
    rows = x.reshape(1) if x.ndim == 0 else x  # a 0-d input is one class, as in torch
    m = np.max(rows, axis=axis, keepdims=True, initial=-np.inf)
    # Shifting by the exact row max: the largest term is exp(0) = 1, nothing overflows.
    shifted = rows - m
    result = (shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))).reshape(x.shape)
    if out is not None:
        out[...] = result
        return out
    return result


@_quiet
def softmax(x: ArrayLike, *, axis: int = -1, out: np.ndarray | None = None) -> Float64Array:
    """Softmax along ``axis``.

    ``softmax(x)_c = exp(x_c - m) / Σ_k exp(x_k - m)`` with ``m = max_k x_k``.

    Parameters
    ----------
    x : array_like
        Logits; a 0-d input is one class (result 1).
    axis : int, default -1
        The class axis.
    out : ndarray, optional
        Written with the result (cast to its dtype) and returned.

    Returns
    -------
    ndarray of float64
        Same shape as ``x``; each row sums to 1. A masked class (-inf) gives 0; a
        row with +inf or NaN, or of only -inf, gives NaN, as in torch.

    Examples
    --------
    >>> print(softmax([3.0, 1.0, -3.0]).round(8))
    [0.87887824 0.11894324 0.00217852]
    """
    x = np.asarray(x, dtype=np.float64)
    rows = x.reshape(1) if x.ndim == 0 else x  # a 0-d input is one class, as in torch
    e = np.exp(rows - np.max(rows, axis=axis, keepdims=True, initial=-np.inf))
    result = (e / np.sum(e, axis=axis, keepdims=True)).reshape(x.shape)
    if out is not None:
        out[...] = result
        return out
    return result


# ---------------------------------------------------------------------------
# classification


@_quiet
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> np.float64 | Float64Array:
    """Cross-entropy between logits and class indices or class probabilities.

    With ``lp = log_softmax(logits)``, class weights ``w`` (ones by default),
    ``C`` classes and ``ε = label_smoothing``:

    - class indices ``t``: ``l_i = (1-ε)·(-w[t_i]·lp[i,t_i]) + (ε/C)·(-Σ_c w[c]·lp[i,c])``;
      rows with ``t_i == ignore_index`` give 0 and do not count; ``"mean"`` is
      ``Σ l_i / Σ w[t_i]`` over the counted rows.
    - probabilities ``y``: ``l_i = -Σ_c w[c]·y'[i,c]·lp[i,c]`` with
      ``y' = (1-ε)·y + ε/C``; ``"mean"`` divides by the number of rows.

    Parameters
    ----------
    logits : array_like
        Unnormalized scores, classes along ``axis``.
    target : array_like
        Integer class indices, shape ``logits.shape`` without ``axis``; or float
        probabilities of the same shape as ``logits`` (told apart by shape, as torch).
    weight : array_like, optional
        Class weights, shape ``(C,)``.
    ignore_index : int, default -100
        Target value whose rows are skipped; may be a valid class. Only the
        default is allowed with probability targets.
    reduction : {"mean", "sum", "none"}, default "mean"
    label_smoothing : float in [0, 1], default 0.0
    axis : int, default -1
        The class axis (``axis=1`` for torch's ``(N, C, d1, ...)`` layout).

    Returns
    -------
    np.float64 or ndarray of float64
        ``"none"``: the per-row losses, shape ``logits.shape`` without ``axis``.
        Every row ignored: ``"mean"`` is NaN, ``"sum"`` is 0.

    Raises
    ------
    ValueError
        Bad ``reduction`` or ``label_smoothing``, shapes that do not match,
        ``ignore_index`` other than -100 with probability targets, or 0-d logits
        (as torch).
    IndexError
        A class index outside ``[0, C)`` that is not ``ignore_index``.

    Examples
    --------
    >>> print(cross_entropy([[0.0, 0.0]], [1]) == np.log(2.0))
    True
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 0:
        raise ValueError(f"{name}: logits must have at least 1 dimension (the classes); got 0-d")
    target = np.asarray(target)
    lp = log_softmax(np.moveaxis(logits, axis, -1), axis=-1)
    n_classes = lp.shape[-1]
    w = _class_weight(name, weight, n_classes)
    eps = label_smoothing
    # ε/C never rounds to 0 for ε > 0 (ε < C·5e-324): the smoothing term of a row with a
    # masked class stays +inf, its value, rather than 0·inf = NaN.
    eps_over_c = max(eps / n_classes, _SMALLEST_SUBNORMAL) if eps > 0 and n_classes else 0.0

    if target.shape == logits.shape:  # probabilities, decided by shape as torch does
        if target.dtype.kind != "f":
            raise TypeError(
                f"{name}: a target of the logits' shape holds class probabilities and "
                f"must be float; got {target.dtype}"
            )
        if ignore_index != -100:
            raise ValueError(
                f"{name}: ignore_index is not supported with probability targets; "
                f"got {ignore_index}"
            )
        y = np.moveaxis(target.astype(np.float64), axis, -1)
        if eps > 0:
            y = (1.0 - eps) * y + eps_over_c
        loss = -np.sum(w * y * lp, axis=-1)
        return _reduce(loss, reduction, count=loss.size)

    loss, w_t, counted = _nll_per_row(name, lp, target, weight, ignore_index)
    # Branch rather than multiply by ε = 0: the smoothing term is +inf on a row with
    # a masked class, and 0·inf would be NaN.
    if eps > 0:
        smooth = np.where(counted, -np.sum(w * lp, axis=-1), 0.0)
        loss = (1.0 - eps) * loss + eps_over_c * smooth
    return _reduce(loss, reduction, count=np.sum(w_t))


@_quiet
def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    axis: int = -1,
) -> np.float64 | Float64Array:
    """Negative log-likelihood of class indices under given log-probabilities.

    ``l_i = -w[t_i]·lp[i, t_i]``; rows with ``t_i == ignore_index`` give 0 and do not
    count; ``"mean"`` is ``Σ l_i / Σ w[t_i]`` over the counted rows.

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities ``lp``, classes along ``axis``.
    target : array_like of int
        Class indices, shape ``log_probs.shape`` without ``axis``.
    weight : array_like, optional
        Class weights, shape ``(C,)``.
    ignore_index : int, default -100
    reduction : {"mean", "sum", "none"}, default "mean"
    axis : int, default -1
        The class axis.

    Returns
    -------
    np.float64 or ndarray of float64
        Every row ignored: ``"mean"`` is NaN, ``"sum"`` is 0.

    Raises
    ------
    ValueError
        Bad ``reduction`` or shapes, or a 0-d input (as torch).
    IndexError
        A class index outside ``[0, C)`` that is not ``ignore_index``.

    Examples
    --------
    >>> print(nll_loss(np.log([[0.5, 0.5], [0.25, 0.75]]), [0, 1]).round(8))
    0.49041463
    """
    name = "nll_loss"
    _check_reduction(name, reduction)
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim == 0:
        raise ValueError(f"{name}: input must have at least 1 dimension (the classes); got 0-d")
    lp = np.moveaxis(lp, axis, -1)
    loss, w_t, _ = _nll_per_row(name, lp, target, weight, ignore_index)
    return _reduce(loss, reduction, count=np.sum(w_t))


@_quiet
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> np.float64 | Float64Array:
    """Binary cross-entropy between probabilities and targets.

    ``l = -w·(y·log p + (1-y)·log(1-p))``, each log clamped at ``>= -100`` as torch
    does, so ``p = 0`` or ``1`` gives at most 100·w.

    Parameters
    ----------
    probs : array_like
        Probabilities ``p`` in [0, 1].
    target : array_like
        Targets ``y`` in [0, 1], same shape as ``probs``.
    weight : array_like, optional
        Broadcast to ``probs``' shape; not part of the ``"mean"`` denominator.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over all elements.

    Returns
    -------
    np.float64 or ndarray of float64

    Raises
    ------
    ValueError
        Bad ``reduction``, shapes that differ, or a ``p`` or ``y`` outside [0, 1]
        (NaN included); torch raises ``RuntimeError`` there.

    Examples
    --------
    >>> print(binary_cross_entropy([0.5, 0.5], [1.0, 0.0]) == np.log(2.0))
    True
    """
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    _check_same_shape(name, "input", p, "target", y)
    # Written as "not inside" so that NaN is rejected too.
    for what, a in (("input", p), ("target", y)):
        if not np.all((a >= 0.0) & (a <= 1.0)):
            raise ValueError(f"{name}: every {what} element must be in [0, 1]")
    w = np.broadcast_to(1.0 if weight is None else np.asarray(weight, np.float64), p.shape)
    # log1p(-p) is log(1-p) without the rounding of 1-p for small p (torch uses it too).
    log_p = np.maximum(np.log(p), _BCE_LOG_FLOOR)
    log_1mp = np.maximum(np.log1p(-p), _BCE_LOG_FLOOR)
    loss = -w * (y * log_p + (1.0 - y) * log_1mp)
    return _reduce(loss, reduction, count=loss.size)


@_quiet
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pos_weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> np.float64 | Float64Array:
    """Binary cross-entropy on logits, ``-w·(pw·y·log σ(x) + (1-y)·log(1-σ(x)))``.

    Computed as the sum of non-negative terms
    ``w·(pw·y·softplus(-x) + (1-y)·softplus(x))`` with
    ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``, which is accurate for every ``x``
    (the common form ``(1-y)·x + (1+(pw-1)·y)·(log1p(exp(-|x|)) + max(-x, 0))``
    cancels for large negative ``x``). That holds while both terms are non-negative:
    for a target outside [0, 1] (torch accepts any) or a negative ``pw`` they can
    cancel instead (``y = 1e30``, ``x = 0``), and there the common form, torch's, is
    used for finite ``x``.

    At ``x = -inf`` with ``pw·y > 0`` the loss is ``+inf``, its limit (torch's form
    gives NaN there); ``x = ±inf`` with a target that multiplies the infinite
    softplus by 0 gives NaN, as in torch.

    Parameters
    ----------
    logits : array_like
        Logits ``x``.
    target : array_like
        Targets ``y``, same shape as ``logits``; not checked, as in torch.
    weight : array_like, optional
        Broadcast to ``logits``' shape; not part of the ``"mean"`` denominator.
    pos_weight : array_like, optional
        Weight ``pw`` of the positive term; broadcasts along the last axis, so a
        ``(C,)`` vector weights each of ``C`` labels.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over all elements.

    Returns
    -------
    np.float64 or ndarray of float64

    Examples
    --------
    >>> print(binary_cross_entropy_with_logits([0.0, 0.0], [1.0, 0.0]) == np.log(2.0))
    True
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    x = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    _check_same_shape(name, "input", x, "target", y)
    w = np.broadcast_to(1.0 if weight is None else np.asarray(weight, np.float64), x.shape)
    pw = np.broadcast_to(1.0 if pos_weight is None else np.asarray(pos_weight, np.float64), x.shape)
    a, b = pw * y, 1.0 - y
    loss = a * _softplus(-x) + b * _softplus(x)
    # Outside the non-negative case, torch's form (it does not cancel there); infinite x
    # keeps the sum, whose value is the limit.
    torch_form = b * x + (1.0 + (pw - 1.0) * y) * _softplus(-x)
    loss = w * np.where(((a < 0) | (b < 0)) & np.isfinite(x), torch_form, loss)
    return _reduce(loss, reduction, count=loss.size)


@_quiet
def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: KLReduction = "mean",
    log_target: bool = False,
) -> np.float64 | Float64Array:
    """Kullback-Leibler divergence ``KL(y || p)`` with ``input = log p`` (torch's convention).

    Pointwise ``y·log y - y·x`` (``0·log 0 = 0``), or ``exp(y)·(y - x)`` when the
    target is given as log-probabilities (``log_target=True``).

    Parameters
    ----------
    input : array_like
        Log-probabilities ``x``.
    target : array_like
        Probabilities ``y`` (or log-probabilities), same shape as ``input``.
    reduction : {"mean", "sum", "none", "batchmean"}, default "mean"
        ``"mean"`` divides by the number of elements (torch warns it is not the
        true divergence), ``"batchmean"`` by the size of axis 0 (the true mean
        divergence per sample; a 0-d input is not divided, as in torch).
    log_target : bool, default False

    Returns
    -------
    np.float64 or ndarray of float64
        Where ``y = 0`` the term is 0 for finite ``x`` and NaN for ``x = -inf``
        (``0·-inf``), as in torch.

    Examples
    --------
    >>> print(kl_div(np.log([0.5, 0.5]), [0.5, 0.5], reduction="sum"))
    0.0
    """
    name = "kl_div"
    _check_reduction(name, reduction, _KL_REDUCTIONS)
    x = np.asarray(input, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    _check_same_shape(name, "input", x, "target", y)
    if log_target:
        pointwise = np.exp(y) * (y - x)
    else:
        pointwise = _xlogy_self(y) - y * x
    if reduction == "batchmean":
        return _reduce(pointwise, "mean", count=x.shape[0] if x.ndim > 0 else 1)
    return _reduce(pointwise, reduction, count=pointwise.size)


@_quiet
def entropy(p: ArrayLike, *, axis: int = -1) -> np.float64 | Float64Array:
    """Shannon entropy (natural log) of each distribution along ``axis``.

    ``H(p) = -Σ_c p_c·log p_c`` with ``0·log 0 = 0``. ``p`` is taken as given, not
    renormalized (unlike ``scipy.stats.entropy``); a negative ``p`` gives NaN.

    Parameters
    ----------
    p : array_like
        Probabilities; a 0-d input is one class.
    axis : int, default -1
        The class axis.

    Returns
    -------
    np.float64 or ndarray of float64
        Shape of ``p`` without ``axis``.

    Examples
    --------
    >>> print(entropy([0.7, 0.2, 0.1]).round(8))
    0.80181855
    """
    p = np.asarray(p, dtype=np.float64)
    rows = p.reshape(1) if p.ndim == 0 else p  # one class, like the softmax family
    return -np.sum(_xlogy_self(rows), axis=axis)


# ---------------------------------------------------------------------------
# regression


def _difference(name: str, input: ArrayLike, target: ArrayLike) -> Float64Array:
    """``d = input - target`` in float64 (integer and bool inputs read as float64)."""
    x = np.asarray(input, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    _check_same_shape(name, "input", x, "target", y)
    return x - y


@_quiet
def mse_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Reduction = "mean"
) -> np.float64 | Float64Array:
    """Squared error ``d²`` with ``d = input - target``.

    Parameters
    ----------
    input, target : array_like
        Same shape.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    np.float64 or ndarray of float64
        NaN in either input propagates.

    Examples
    --------
    >>> print(mse_loss([1.0, 2.0], [2.0, 4.0]))
    2.5
    """
    _check_reduction("mse_loss", reduction)
    d = _difference("mse_loss", input, target)
    return _reduce(d * d, reduction, count=d.size)


@_quiet
def l1_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Reduction = "mean"
) -> np.float64 | Float64Array:
    """Absolute error ``|d|`` with ``d = input - target`` (mean absolute error by default).

    Parameters
    ----------
    input, target : array_like
        Same shape.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    np.float64 or ndarray of float64

    Examples
    --------
    >>> print(l1_loss([1.0, 2.0], [2.0, 4.0]))
    1.5
    """
    _check_reduction("l1_loss", reduction)
    d = _difference("l1_loss", input, target)
    return _reduce(np.abs(d), reduction, count=d.size)


@_quiet
def huber_loss(
    input: ArrayLike, target: ArrayLike, *, delta: float = 1.0, reduction: Reduction = "mean"
) -> np.float64 | Float64Array:
    """Huber loss: ``0.5·d²`` if ``|d| < δ``, else ``δ·(|d| - 0.5·δ)``.

    Parameters
    ----------
    input, target : array_like
        Same shape.
    delta : float > 0, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    np.float64 or ndarray of float64

    Examples
    --------
    >>> print(huber_loss([0.0, 0.0], [0.5, 3.0], reduction="none"))
    [0.125 2.5  ]
    """
    name = "huber_loss"
    _check_reduction(name, reduction)
    if not delta > 0:
        raise ValueError(f"{name}: delta must be > 0; got {delta!r}")
    d = _difference(name, input, target)
    abs_d = np.abs(d)
    loss = np.where(abs_d < delta, 0.5 * d * d, delta * (abs_d - 0.5 * delta))
    return _reduce(loss, reduction, count=d.size)


@_quiet
def smooth_l1_loss(
    input: ArrayLike, target: ArrayLike, *, beta: float = 1.0, reduction: Reduction = "mean"
) -> np.float64 | Float64Array:
    """Smooth L1 loss: ``0.5·d²/β`` if ``|d| < β``, else ``|d| - 0.5·β``; β = 0 is L1.

    Parameters
    ----------
    input, target : array_like
        Same shape.
    beta : float >= 0, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    np.float64 or ndarray of float64

    Examples
    --------
    >>> print(smooth_l1_loss([0.0, 0.0], [0.5, 3.0], reduction="none"))
    [0.125 2.5  ]
    """
    name = "smooth_l1_loss"
    _check_reduction(name, reduction)
    if not beta >= 0:
        raise ValueError(f"{name}: beta must be >= 0; got {beta!r}")
    d = _difference(name, input, target)
    abs_d = np.abs(d)
    if beta == 0:  # the quadratic branch is empty; skip its 0/0
        return _reduce(abs_d, reduction, count=d.size)
    loss = np.where(abs_d < beta, 0.5 * d * d / beta, abs_d - 0.5 * beta)
    return _reduce(loss, reduction, count=d.size)


# ---------------------------------------------------------------------------
# evaluation metrics


@_quiet
def regression_metrics(
    input: ArrayLike,
    target: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    delta: float = 1.0,
) -> RegressionMetrics:
    """The metrics of :class:`fastloss.RegressionEvaluator` over one batch, in float64.

    With ``d = input - target``, weights ``w`` (ones by default, broadcast to the input)
    and ``W = Σw``: ``mse = Σw·d²/W``, ``rmse = √mse``, ``mae = Σw·|d|/W``,
    ``huber = Σw·huber_δ(d)/W``, ``max_error = max |d|`` over elements of positive
    weight, ``r2 = 1 - Σw·d² / Σw·(y - ȳ)²`` with ``ȳ`` the weighted mean of the target
    (as scikit-learn: 1.0 for a constant target predicted exactly, else 0.0).
    Metrics over nothing (no element, or ``W = 0``) are NaN.
    """
    x = np.asarray(input, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    _check_same_shape("regression_metrics", "input", x, "target", y)
    w = (
        np.ones_like(x)
        if sample_weight is None
        else _broadcast_rows(np.asarray(sample_weight, np.float64), x.shape)
    )
    d = x - y
    total = w.sum()
    nan = float("nan")
    if x.size == 0 or total == 0:
        return {
            "mse": nan,
            "rmse": nan,
            "mae": nan,
            "huber": nan,
            "max_error": nan,
            "r2": nan,
            "count": x.size,
            "weight_sum": float(total),
        }
    ad = np.abs(d)
    huber = np.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    mse = float((w * d * d).sum() / total)
    # The mean about the first target: a constant target then gives y - ȳ = 0 exactly (and
    # r2 by the constant-target rule), where (Σ w·y) / Σ w may round away from y.
    y0 = y.flat[0]
    y_mean = y0 + (w * (y - y0)).sum() / total
    sst = float((w * (y - y_mean) ** 2).sum())
    sse = float((w * d * d).sum())
    r2 = (1.0 if sse == 0 else 0.0) if sst == 0 else 1.0 - sse / sst
    counted = ad[w > 0]
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float((w * ad).sum() / total),
        "huber": float((w * huber).sum() / total),
        "max_error": float(np.max(counted)) if counted.size else nan,
        "r2": r2,
        "count": x.size,
        "weight_sum": float(total),
    }


def _broadcast_rows(w: Float64Array, shape: tuple[int, ...]) -> Float64Array:
    """A per-element weight of ``shape``, or a per-row one of ``shape[:1]`` broadcast along
    the trailing axes."""
    if w.shape == shape:
        return w
    if len(shape) >= 1 and w.shape == shape[:1]:
        return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - 1)), shape)
    raise ValueError(
        f"sample_weight shape {w.shape} must equal the input shape {shape} "
        f"or its first axis {shape[:1]}"
    )


@_quiet
def classification_metrics(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    topk: tuple[int, ...] = (1, 5),
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    axis: int = -1,
    sample_weight: ArrayLike | None = None,
) -> ClassificationMetrics:
    """The metrics of :func:`fastloss.evaluate` / :class:`fastloss.Evaluator`, in float64.

    Per counted row ``i`` (target not ``ignore_index``), with sample weight ``s_i``
    (ones by default) and class weights ``w``:

    - ``l_i``: the row's cross-entropy, as ``cross_entropy(..., reduction="none")``;
    - ``rank_i = #(x_c > x_t) + #(x_c == x_t and c < t)``: ties go to the lower class
      index, as ``np.argmax`` picks the first maximum; a row with NaN has rank ``C`` (never
      a hit); a top-k hit is ``rank_i < k``;
    - ``H_i = -Σ p·log p`` of ``p = softmax(row)``, and ``lse_i = logsumexp(row)``.

    Returns ``cross_entropy = Σ s·l / Σ s·w[t]`` (torch's class-weighted mean, with each
    row's weight scaled by its sample weight), ``perplexity = exp(cross_entropy)``,
    ``accuracy`` and ``top{k}_accuracy = Σ s·[rank < k] / Σ s``, ``entropy`` and
    ``logsumexp`` as ``Σ s·(.) / Σ s``, ``count`` (rows counted), ``weight_sum`` (``Σ s``)
    and ``loss_weight_sum`` (``Σ s·w[t]``). Metrics over no counted row are NaN.
    """
    name = "classification_metrics"
    x = np.moveaxis(np.asarray(logits, dtype=np.float64), axis, -1)
    t = np.asarray(target)
    lse = logsumexp(x, axis=-1)
    p = softmax(x, axis=-1)
    ent = -np.sum(_xlogy_self(p), axis=-1)
    loss = cross_entropy(
        x,
        t,
        weight=weight,
        ignore_index=ignore_index,
        reduction="none",
        label_smoothing=label_smoothing,
        axis=-1,
    )
    counted = t != ignore_index
    w = _class_weight(name, weight, x.shape[-1])
    t_safe = np.where(counted, t, 0).astype(np.int64)
    x_t = np.take_along_axis(x, t_safe[..., np.newaxis], axis=-1)
    classes = np.arange(x.shape[-1])
    rank = np.sum((x > x_t) | ((x == x_t) & (classes < t_safe[..., np.newaxis])), axis=-1)
    rank = np.where(np.isnan(x).any(axis=-1), x.shape[-1], rank)
    s = (
        np.ones(t.shape)
        if sample_weight is None
        else np.broadcast_to(np.asarray(sample_weight, np.float64), t.shape)
    )
    s = np.where(counted, s, 0.0)
    s_total = s.sum()
    loss_weight = np.sum(s * np.where(counted, w[t_safe], 0.0))
    nan = float("nan")
    mean = (lambda v: float(np.sum(s * v) / s_total)) if s_total > 0 else (lambda v: nan)
    ce = float(np.sum(s * loss) / loss_weight) if loss_weight != 0 else nan
    result: dict[str, Any] = {
        "cross_entropy": ce,
        "perplexity": float(np.exp(ce)),
        "accuracy": mean(rank < 1),
    }
    for k in topk:
        result[f"top{k}_accuracy"] = mean(rank < k)
    result.update(
        entropy=mean(np.where(counted, ent, 0.0)),
        logsumexp=mean(np.where(counted, lse, 0.0)),
        count=int(counted.sum()),
        weight_sum=float(s_total),
        loss_weight_sum=float(loss_weight),
    )
    return cast("ClassificationMetrics", result)  # the top-k keys are not literals
