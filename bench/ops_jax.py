"""The losses as a JAX user writes them, with jax.nn; jit-compiled by peers.py.

Imported only when JAX is installed. Options arrive as Python values bound before
``jax.jit``, so they are compile-time constants, as in a training step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy


def _reduce(loss: jax.Array, reduction: str) -> jax.Array:
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _reduce_kept(loss: jax.Array, keep: jax.Array, reduction: str) -> jax.Array:
    """Ignored rows (keep False) give 0 and do not count in the mean, as torch."""
    loss = jnp.where(keep, loss, 0)
    if reduction == "mean":
        return loss.sum() / keep.sum()
    return _reduce(loss, reduction)


def _nll(
    logp: jax.Array,
    target: jax.Array,
    ignore_index: int,
    smoothing: float,
    reduction: str,
    axis: int,
) -> jax.Array:
    keep = target != ignore_index
    safe = jnp.expand_dims(jnp.where(keep, target, 0), axis)
    loss = -jnp.take_along_axis(logp, safe, axis=axis).squeeze(axis)
    if smoothing:
        loss = (1 - smoothing) * loss - (smoothing / logp.shape[axis]) * logp.sum(axis=axis)
    return _reduce_kept(loss, keep, reduction)


def cross_entropy(
    logits: jax.Array,
    target: jax.Array,
    *,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    axis: int = -1,
) -> jax.Array:
    logp = jax.nn.log_softmax(logits, axis=axis)
    return _nll(logp, target, ignore_index, label_smoothing, reduction, axis)


def nll_loss(
    log_probs: jax.Array,
    target: jax.Array,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    axis: int = -1,
) -> jax.Array:
    return _nll(log_probs, target, ignore_index, 0.0, reduction, axis)


def log_softmax(x: jax.Array, *, axis: int = -1) -> jax.Array:
    return jax.nn.log_softmax(x, axis=axis)


def softmax(x: jax.Array, *, axis: int = -1) -> jax.Array:
    return jax.nn.softmax(x, axis=axis)


def logsumexp(x: jax.Array, *, axis: int = -1) -> jax.Array:
    return jax.nn.logsumexp(x, axis=axis)


def binary_cross_entropy(p: jax.Array, y: jax.Array, *, reduction: str = "mean") -> jax.Array:
    return _reduce(-(y * jnp.log(p) + (1 - y) * jnp.log1p(-p)), reduction)


def binary_cross_entropy_with_logits(
    x: jax.Array, y: jax.Array, *, reduction: str = "mean"
) -> jax.Array:
    return _reduce(jnp.maximum(x, 0) - x * y + jnp.log1p(jnp.exp(-jnp.abs(x))), reduction)


def mse_loss(a: jax.Array, b: jax.Array, *, reduction: str = "mean") -> jax.Array:
    return _reduce(jnp.square(a - b), reduction)


def l1_loss(a: jax.Array, b: jax.Array, *, reduction: str = "mean") -> jax.Array:
    return _reduce(jnp.abs(a - b), reduction)


def huber_loss(
    a: jax.Array, b: jax.Array, *, delta: float = 1.0, reduction: str = "mean"
) -> jax.Array:
    d = jnp.abs(a - b)
    return _reduce(jnp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def smooth_l1_loss(
    a: jax.Array, b: jax.Array, *, beta: float = 1.0, reduction: str = "mean"
) -> jax.Array:
    d = jnp.abs(a - b)
    return _reduce(jnp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def kl_div(
    x: jax.Array, y: jax.Array, *, reduction: str = "mean", log_target: bool = False
) -> jax.Array:
    pointwise = jnp.exp(y) * (y - x) if log_target else xlogy(y, y) - y * x
    if reduction == "batchmean":
        return pointwise.sum() / x.shape[0]
    return _reduce(pointwise, reduction)


def evaluate(
    logits: jax.Array, target: jax.Array, *, topk: tuple[int, ...] = (1, 5), axis: int = -1
) -> dict[str, jax.Array]:
    """fastloss.evaluate's metrics of 2-D logits with jax.nn and jax.lax.top_k."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    out = {"cross_entropy": -jnp.take_along_axis(logp, target[:, None], axis=-1).mean()}
    top = jax.lax.top_k(logits, max(topk))[1]  # sorted: column 0 is the argmax
    hit = top == target[:, None]
    out["accuracy"] = hit[:, 0].mean()
    for k in topk:
        out[f"top{k}_accuracy"] = hit[:, :k].any(axis=1).mean()
    out["entropy"] = -(jnp.exp(logp) * logp).sum(axis=-1).mean()
    return out
