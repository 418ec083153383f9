"""The losses as a JAX user writes them with optax, where optax has the loss.

A function missing here means optax has no such loss (nll_loss, l1_loss, BCE on
probabilities, softmax, evaluate): the "jax" peer's jax.nn form is the JAX figure there.
Imported only when optax is installed; jit-compiled by peers.py like ops_jax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from ops_jax import _reduce, _reduce_kept


def cross_entropy(
    logits: jax.Array,
    target: jax.Array,
    *,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    axis: int = -1,
) -> jax.Array:
    keep = target != ignore_index
    safe = jnp.where(keep, target, 0)
    if label_smoothing:
        # optax's label smoothing works on dense labels: one-hot, smoothed, dense CE.
        classes = logits.shape[axis]
        dense = optax.smooth_labels(jax.nn.one_hot(safe, classes, axis=axis), label_smoothing)
        loss = optax.softmax_cross_entropy(logits, dense, axis=axis)
    else:
        loss = optax.losses.softmax_cross_entropy_with_integer_labels(logits, safe, axis=axis)
    return _reduce_kept(loss, keep, reduction)


def binary_cross_entropy_with_logits(
    x: jax.Array, y: jax.Array, *, reduction: str = "mean"
) -> jax.Array:
    return _reduce(optax.losses.sigmoid_binary_cross_entropy(x, y), reduction)


def mse_loss(a: jax.Array, b: jax.Array, *, reduction: str = "mean") -> jax.Array:
    return _reduce(optax.losses.squared_error(a, b), reduction)


def huber_loss(
    a: jax.Array, b: jax.Array, *, delta: float = 1.0, reduction: str = "mean"
) -> jax.Array:
    return _reduce(optax.losses.huber_loss(a, b, delta=delta), reduction)


def smooth_l1_loss(
    a: jax.Array, b: jax.Array, *, beta: float = 1.0, reduction: str = "mean"
) -> jax.Array:
    # torch's smooth L1 is Huber with delta = beta, divided by beta.
    return _reduce(optax.losses.huber_loss(a, b, delta=beta) / beta, reduction)


def kl_div(
    x: jax.Array, y: jax.Array, *, reduction: str = "mean", log_target: bool = False
) -> jax.Array:
    # Same convention as torch's kl_div: x holds log-probabilities, y probabilities (or
    # log-probabilities with log_target); optax sums over the last axis, per row.
    kl = optax.losses.kl_divergence_with_log_targets if log_target else optax.kl_divergence
    rows = kl(x, y)
    if reduction == "none":
        raise ValueError("optax's kl_divergence sums each row: no per-element result")
    return rows.sum() / {"batchmean": x.shape[0], "sum": 1, "mean": x.size}[reduction]
