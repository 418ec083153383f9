"""Regression losses: mse_loss, l1_loss, huber_loss, smooth_l1_loss.

Each reads ``input`` and ``target`` once, in one fused kernel pass (src/cpp/kernels/regression.hpp),
and accumulates in float64 with a fixed chunking, so every thread count gives the same bits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from . import _core
from ._checks import REDUCTIONS, finite_option, float_pair, in_caller_kind, reduction_code

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._types import FloatArray, FloatScalar, Reduction

__all__ = ["huber_loss", "l1_loss", "mse_loss", "smooth_l1_loss"]

# The kinds as module constants: a lookup on the enum class costs ~10 ns a call.
_MSE, _L1, _HUBER, _SMOOTH_L1 = (
    _core.RegressionKind.MSE,
    _core.RegressionKind.L1,
    _core.RegressionKind.HUBER,
    _core.RegressionKind.SMOOTH_L1,
)


def _regression(
    fn: str,
    input: ArrayLike,
    target: ArrayLike,
    reduction: Reduction,
    kind: _core.RegressionKind,
    param: float = 0.0,
) -> FloatScalar | FloatArray:
    # Comparisons, not REDUCTIONS.get: ~30 ns less a call (the 2 µs call budget).
    if reduction == "mean" or reduction == "sum" or reduction == "none":
        # Ready arrays: one binding call; None: they need converting.
        res = _core.regression(input, target, kind, param, REDUCTIONS[reduction])
        if res is not None:
            return res
    reduction_code(fn, reduction)
    x, y = float_pair(fn, input, target)
    return in_caller_kind(_core.regression(x, y, kind, param, REDUCTIONS[reduction]), input, target)


# Overloads: the result's type follows ``reduction`` (a NumPy scalar, or the array of
# "none"); the last takes a ``reduction`` known only as a Reduction.
@overload
def mse_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Literal["mean", "sum"] = ...
) -> FloatScalar: ...
@overload
def mse_loss(input: ArrayLike, target: ArrayLike, *, reduction: Literal["none"]) -> FloatArray: ...
@overload
def mse_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Reduction = ...
) -> FloatScalar | FloatArray: ...
def mse_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Reduction = "mean"
) -> FloatScalar | FloatArray:
    """Mean squared error, ``mean((input - target)**2)`` for ``reduction="mean"``.

    Parameters
    ----------
    input, target : array_like
        Same shape (no broadcasting). float32, float64, float16 and bfloat16 are computed
        natively (half in float32, a reduction of it float32); two float dtypes take one
        common dtype (docs/semantics.md); integer and bool inputs are read as float64.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"none"`` returns the elementwise ``(input - target)**2``.

    Returns
    -------
    numpy scalar or ndarray
        Of the result dtype (``np.float32`` for float32 inputs). The mean of an empty input
        is NaN, its sum 0.

    Raises
    ------
    ValueError
        Shapes differ, or ``reduction`` is not one of the three.
    TypeError
        Complex, object or string input.

    Notes
    -----
    Equals ``torch.nn.functional.mse_loss``. The sum is accumulated in float64 and does not
    depend on the thread count. Input that is not C-contiguous, aligned and in native byte
    order is copied once. NaN propagates.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.mse_loss([1.0, 2.0], [2.0, 4.0]))
    2.5
    """
    return _regression("mse_loss", input, target, reduction, _MSE)


@overload
def l1_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Literal["mean", "sum"] = ...
) -> FloatScalar: ...
@overload
def l1_loss(input: ArrayLike, target: ArrayLike, *, reduction: Literal["none"]) -> FloatArray: ...
@overload
def l1_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Reduction = ...
) -> FloatScalar | FloatArray: ...
def l1_loss(
    input: ArrayLike, target: ArrayLike, *, reduction: Reduction = "mean"
) -> FloatScalar | FloatArray:
    """Mean absolute error, ``mean(|input - target|)`` for ``reduction="mean"``.

    Parameters, returns, errors and notes as in :func:`mse_loss`; equals
    ``torch.nn.functional.l1_loss``.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.l1_loss([1.0, 2.0], [2.0, 4.0]))
    1.5
    """
    return _regression("l1_loss", input, target, reduction, _L1)


@overload
def huber_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = ...,
    reduction: Literal["mean", "sum"] = ...,
) -> FloatScalar: ...
@overload
def huber_loss(
    input: ArrayLike, target: ArrayLike, *, delta: float = ..., reduction: Literal["none"]
) -> FloatArray: ...
@overload
def huber_loss(
    input: ArrayLike, target: ArrayLike, *, delta: float = ..., reduction: Reduction = ...
) -> FloatScalar | FloatArray: ...
def huber_loss(
    input: ArrayLike, target: ArrayLike, *, delta: float = 1.0, reduction: Reduction = "mean"
) -> FloatScalar | FloatArray:
    """Huber loss: ``0.5*d**2`` where ``|d| < delta``, else ``delta*(|d| - 0.5*delta)``,
    with ``d = input - target``.

    Parameters
    ----------
    delta : float, default 1.0
        Where the quadratic turns linear; must be finite and > 0 (as torch).

    Other parameters, returns, errors and notes as in :func:`mse_loss`; equals
    ``torch.nn.functional.huber_loss``.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.huber_loss([0.0, 0.0], [0.5, 3.0]))
    1.3125
    """
    delta = finite_option("huber_loss", "delta", delta, low=0.0, allow_low=False)
    return _regression("huber_loss", input, target, reduction, _HUBER, delta)


@overload
def smooth_l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    *,
    beta: float = ...,
    reduction: Literal["mean", "sum"] = ...,
) -> FloatScalar: ...
@overload
def smooth_l1_loss(
    input: ArrayLike, target: ArrayLike, *, beta: float = ..., reduction: Literal["none"]
) -> FloatArray: ...
@overload
def smooth_l1_loss(
    input: ArrayLike, target: ArrayLike, *, beta: float = ..., reduction: Reduction = ...
) -> FloatScalar | FloatArray: ...
def smooth_l1_loss(
    input: ArrayLike, target: ArrayLike, *, beta: float = 1.0, reduction: Reduction = "mean"
) -> FloatScalar | FloatArray:
    """Smooth L1 loss: ``0.5*d**2/beta`` where ``|d| < beta``, else ``|d| - 0.5*beta``,
    with ``d = input - target``; ``beta=0`` is :func:`l1_loss`.

    Parameters
    ----------
    beta : float, default 1.0
        Must be finite and >= 0 (as torch).

    Other parameters, returns, errors and notes as in :func:`mse_loss`; equals
    ``torch.nn.functional.smooth_l1_loss``.

    Examples
    --------
    >>> import fastloss
    >>> print(fastloss.smooth_l1_loss([0.0, 0.0], [0.5, 3.0], beta=2.0))
    1.03125
    """
    beta = finite_option("smooth_l1_loss", "beta", beta, low=0.0)
    return _regression("smooth_l1_loss", input, target, reduction, _SMOOTH_L1, beta)
