"""The losses as a NumPy user writes them, in the input's dtype.

This is the NumPy peer, not the float64 reference (fastloss.reference is for correctness).
It is written to be fair to NumPy: the max-shift for stability, log1p where it is the
natural call, in-place ops and ``out=`` where a careful user would use them.
"""

from __future__ import annotations

import numpy as np


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _nll(
    logp: np.ndarray,
    target: np.ndarray,
    ignore_index: int,
    smoothing: float,
    reduction: str,
    axis: int,
) -> np.ndarray:
    keep = target != ignore_index
    safe = np.expand_dims(np.where(keep, target, 0), axis)
    loss = -np.take_along_axis(logp, safe, axis=axis).squeeze(axis)
    if smoothing:
        loss = (1 - smoothing) * loss - (smoothing / logp.shape[axis]) * logp.sum(axis=axis)
    if reduction == "none":
        return np.where(keep, loss, 0)
    return _reduce(loss[keep], reduction)


def cross_entropy(
    logits: np.ndarray,
    target: np.ndarray,
    *,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    axis: int = -1,
) -> np.ndarray:
    logp = _log_softmax(logits, axis)
    return _nll(logp, target, ignore_index, label_smoothing, reduction, axis)


def nll_loss(
    log_probs: np.ndarray,
    target: np.ndarray,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    axis: int = -1,
) -> np.ndarray:
    return _nll(log_probs, target, ignore_index, 0.0, reduction, axis)


def log_softmax(x: np.ndarray, *, axis: int = -1, out: np.ndarray | None = None) -> np.ndarray:
    out = np.subtract(x, x.max(axis=axis, keepdims=True), out=out)
    out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))
    return out


def softmax(x: np.ndarray, *, axis: int = -1, out: np.ndarray | None = None) -> np.ndarray:
    out = np.subtract(x, x.max(axis=axis, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=axis, keepdims=True)
    return out


def logsumexp(x: np.ndarray, *, axis: int = -1) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def binary_cross_entropy(p: np.ndarray, y: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    return _reduce(-(y * np.log(p) + (1 - y) * np.log1p(-p)), reduction)


def binary_cross_entropy_with_logits(
    x: np.ndarray, y: np.ndarray, *, reduction: str = "mean"
) -> np.ndarray:
    # The usual stable form for pos_weight = 1: max(x, 0) - x*y + log1p(exp(-|x|)).
    return _reduce(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))), reduction)


def mse_loss(a: np.ndarray, b: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    return _reduce(np.square(a - b), reduction)


def l1_loss(a: np.ndarray, b: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    return _reduce(np.abs(a - b), reduction)


def huber_loss(
    a: np.ndarray, b: np.ndarray, *, delta: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    d = np.abs(a - b)
    return _reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def smooth_l1_loss(
    a: np.ndarray, b: np.ndarray, *, beta: float = 1.0, reduction: str = "mean"
) -> np.ndarray:
    d = np.abs(a - b)
    return _reduce(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def kl_div(
    x: np.ndarray, y: np.ndarray, *, reduction: str = "mean", log_target: bool = False
) -> np.ndarray:
    # The targets of the workload are all positive, so y*log(y) needs no xlogy guard.
    pointwise = np.exp(y) * (y - x) if log_target else y * (np.log(y) - x)
    if reduction == "batchmean":
        return pointwise.sum() / x.shape[0]
    return _reduce(pointwise, reduction)


def topk_hits(x: np.ndarray, target: np.ndarray, topk: tuple[int, ...]) -> dict[str, np.ndarray]:
    """``accuracy`` and ``top{k}_accuracy`` of 2-D logits: argmax for top-1, and the
    largest k of each row by ``np.argpartition``, NumPy's top-k idiom."""
    out = {"accuracy": (x.argmax(axis=-1) == target).mean()}
    for k in topk:
        if k == 1:
            out["top1_accuracy"] = out["accuracy"]
            continue
        k = min(k, x.shape[-1])
        top = np.argpartition(x, x.shape[-1] - k, axis=-1)[:, -k:]
        out[f"top{k}_accuracy"] = (top == target[:, None]).any(axis=-1).mean()
    return out


def evaluate(
    logits: np.ndarray, target: np.ndarray, *, topk: tuple[int, ...] = (1, 5), axis: int = -1
) -> dict[str, np.ndarray]:
    """fastloss.evaluate's metrics of 2-D logits (no ignore_index, weights or smoothing), as a
    NumPy user computes them: one log-softmax shared by the loss and the entropy."""
    if logits.ndim != 2 or axis % 2 != 1:
        raise ValueError("ops_numpy.evaluate: 2-D logits with classes along the last axis")
    logp = _log_softmax(logits, -1)
    out = {"cross_entropy": -np.take_along_axis(logp, target[:, None], axis=-1).mean()}
    out.update(topk_hits(logits, target, topk))
    p = np.exp(logp)
    p *= logp
    out["entropy"] = -p.sum(axis=-1).mean()
    return out
