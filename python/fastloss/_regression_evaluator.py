"""RegressionEvaluator: streaming MSE, RMSE, MAE, Huber, max error and R², merged exactly.

One kernel pass per update (src/cpp/kernels/regression_stats.hpp) returns the statistics of
the batch; updates and merges combine them with Chan et al.'s pairwise rule for the target's
mean and M2 (src/cpp/stats.cpp, the same code the kernel uses between its chunks). R² never
uses Σy² - (Σy)²/n, which cancels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from . import _core
from ._checks import as_array, finite_option, float_pair, native_array, weight_dtype
from ._half import bfloat16_as_float32
from ._locked_state import LockedState

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._types import RegressionMetrics

__all__ = ["RegressionEvaluator"]

_EMPTY = (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_FN = "RegressionEvaluator.update"


def _row_weights(sample_weight, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """sample_weight as a C-contiguous array of ``shape`` in the weight dtype of data of
    ``dtype`` (float32 for half data): given per element, or per row (shape ``shape[:1]``,
    then broadcast along the trailing axes with one copy)."""
    w = bfloat16_as_float32(as_array(_FN, "sample_weight", sample_weight))
    if w.dtype.kind not in "biuf":
        raise TypeError(
            f"{_FN}: sample_weight of dtype {w.dtype} is not supported; use a real dtype"
        )
    if w.shape != shape:
        if len(shape) >= 1 and w.shape == shape[:1]:
            w = np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - 1)), shape)
        else:
            raise ValueError(
                f"{_FN}: sample_weight shape {w.shape} must equal the input shape {shape} "
                f"or its first axis {shape[:1]}"
            )
    w = native_array(w, weight_dtype(dtype))
    if w.size and not (np.min(w) >= 0):  # also catches NaN
        raise ValueError(f"{_FN}: sample_weight must be >= 0 and not NaN; got min {np.min(w)!r}")
    return w


class RegressionEvaluator(LockedState):
    """Streaming regression metrics over any number of batches.

    ``update`` adds a batch; ``merge`` adds another evaluator's batches; ``result`` gives
    the metrics of everything seen, the same (to rounding) as one update with all the
    data concatenated. The state is a few floats: it pickles, and a memmap or a file
    larger than memory can be fed in chunks.

    Parameters
    ----------
    delta : float, default 1.0
        Threshold of the Huber metric (see :func:`fastloss.huber_loss`).

    Notes
    -----
    Weighted means divide by the sum of the weights (as scikit-learn's ``sample_weight``);
    ``max_error`` is over elements of positive weight; ``r2`` follows scikit-learn's
    ``r2_score`` (1.0 for a constant target predicted exactly, else 0.0 when the target is
    constant). Multi-dimensional inputs are flattened: every element is one observation.

    One evaluator may be shared by several Python threads: ``update``, ``merge``, ``result``
    and pickling may run at the same time, and every batch is counted once. The kernel pass
    of an ``update`` runs outside the evaluator's lock (with the GIL released on large
    batches, so updates from several threads run in parallel); only merging its statistics
    into the state is serialized. ``result`` and pickling see the state between two whole
    updates or merges. The order in which concurrent batches are merged is not fixed, so the
    metrics may differ in the last bits from one run to the next.

    Examples
    --------
    >>> import fastloss
    >>> ev = fastloss.RegressionEvaluator()
    >>> ev.update([1.0, 2.0], [1.5, 2.0]).update([3.0], [2.0]).result()["mae"]
    0.5
    """

    def __init__(self, *, delta: float = 1.0) -> None:
        self.delta = finite_option("RegressionEvaluator", "delta", delta, low=0.0, allow_low=False)
        self._stats = _EMPTY
        # Guards _stats, which an update reads and replaces (not the kernel pass).
        LockedState.__init__(self)

    def _state(self) -> tuple:
        with self._lock:
            return self._stats

    def update(
        self, input: ArrayLike, target: ArrayLike, *, sample_weight: ArrayLike | None = None
    ) -> RegressionEvaluator:
        """Add one batch: ``input`` and ``target`` of the same shape, ``sample_weight`` of
        that shape or of its first axis. Returns ``self``. Bad input raises before the
        state changes."""
        x, y = float_pair(_FN, input, target)
        w = None if sample_weight is None else _row_weights(sample_weight, x.shape, x.dtype)
        batch = _core.regression_stats(x, y, w, self.delta)
        with self._lock:
            self._stats = _core.merge_regression_stats(self._stats, batch)
        return self

    def merge(self, other: RegressionEvaluator) -> RegressionEvaluator:
        """Add the batches another evaluator has seen (same ``delta``). Returns ``self``."""
        if not isinstance(other, RegressionEvaluator):
            raise TypeError(
                "RegressionEvaluator.merge: expected a RegressionEvaluator; got "
                f"{type(other).__name__}"
            )
        if other.delta != self.delta:
            raise ValueError(
                f"RegressionEvaluator.merge: delta {other.delta} differs from {self.delta}"
            )
        # A snapshot of other, then self under its own lock: never both locks at once, so
        # a.merge(b) and b.merge(a) in two threads cannot deadlock.
        other_stats = other._state()
        with self._lock:
            self._stats = _core.merge_regression_stats(self._stats, other_stats)
        return self

    def result(self) -> RegressionMetrics:
        """``mse``, ``rmse``, ``mae``, ``huber``, ``max_error``, ``r2``, ``count`` (elements
        seen) and ``weight_sum``; metrics over nothing are NaN."""
        count, wsum, sq, ab, hub, mx, _mean, m2 = self._state()
        nan = float("nan")
        if wsum == 0:
            mse = mae = huber = r2 = mx = nan
        else:
            mse, mae, huber = sq / wsum, ab / wsum, hub / wsum
            r2 = (1.0 if sq == 0 else 0.0) if m2 == 0 else 1.0 - sq / m2
        rmse = math.sqrt(mse) if mse == mse else nan
        return {
            "mse": mse,
            "rmse": rmse,
            "mae": mae,
            "huber": huber,
            "max_error": mx,
            "r2": r2,
            "count": count,
            "weight_sum": wsum,
        }

    def __repr__(self) -> str:
        return f"RegressionEvaluator(delta={self.delta}, count={self._state()[0]})"
