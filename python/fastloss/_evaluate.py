"""Fused classification metrics: evaluate, Evaluator, evaluate_chunked.

One kernel pass over the logits (src/cpp/kernels/evaluate.hpp) gives, per row, the
cross-entropy, the target's rank (top-1 / top-k hits), the entropy of the softmax and the
log-sum-exp; the kernel returns their float64 sums over the counted rows. ``Evaluator`` keeps
those sums (plain Python floats) across batches, so streamed batches, merged evaluators and
one call over the concatenation agree to float64 rounding (the order of the per-batch sums).
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, SupportsIndex, TypeVar, cast, overload

import numpy as np

from . import _core
from ._ce_front import ClassBatch, ignore_index_option
from ._checks import as_array, axis_index, axis_option, label_smoothing_option
from ._files import bfloat16_memmap
from ._half import bfloat16_as_float32
from ._locked_state import LockedState

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._regression_evaluator import RegressionEvaluator
    from ._types import ClassificationMetrics, ClassificationRows, EvaluateReduction

__all__ = ["Evaluator", "evaluate", "evaluate_chunked"]

_CHUNK_BYTES = 64 << 20

# What evaluate_chunked feeds, and returns.
_EvaluatorT = TypeVar("_EvaluatorT", bound="Evaluator | RegressionEvaluator")


def _topk(fn: str, topk: Any) -> tuple[int, ...]:
    try:
        ks = tuple(topk)
    except TypeError:
        ks = (topk,)
    out = []
    for k in ks:
        if isinstance(k, bool | np.bool_):
            raise ValueError(f"{fn}: topk must hold positive integers; got {topk!r}")
        try:
            v = operator.index(k)
        except TypeError:
            raise ValueError(f"{fn}: topk must hold positive integers; got {topk!r}") from None
        if v < 1:
            raise ValueError(f"{fn}: topk must hold positive integers; got {topk!r}")
        out.append(v)
    if len(set(out) | {1}) > _core.MAX_TOPK:
        raise ValueError(
            f"{fn}: at most {_core.MAX_TOPK - 1} distinct topk values besides 1; got {topk!r}"
        )
    return tuple(out)


def _sample_weight(fn: str, sample_weight, row_shape: tuple[int, ...]) -> np.ndarray | None:
    """sample_weight as C-contiguous float64 of the row shape (broadcast as NumPy, one copy of
    the N row weights at most); must be >= 0 and not NaN."""
    if sample_weight is None:
        return None
    s = bfloat16_as_float32(as_array(fn, "sample_weight", sample_weight))
    if s.dtype.kind not in "biuf":
        raise TypeError(
            f"{fn}: sample_weight of dtype {s.dtype} is not supported; use a real dtype"
        )
    try:
        s = np.broadcast_to(s, row_shape)
    except ValueError:
        raise ValueError(
            f"{fn}: sample_weight shape {s.shape} does not broadcast to the target shape "
            f"{row_shape}"
        ) from None
    s = np.ascontiguousarray(s, dtype=np.float64)
    if s.size and not (np.min(s) >= 0):  # also catches NaN
        raise ValueError(f"{fn}: sample_weight must be >= 0 and not NaN; got min {np.min(s)!r}")
    return s


def _batch(fn, logits, target, weight, ignore_index, axis, sample_weight, n_classes=None):
    """One batch checked and made ready for the kernel, and its sample weights."""
    b = ClassBatch(fn, logits, target, weight, ignore_index, axis, n_classes=n_classes)
    return b, _sample_weight(fn, sample_weight, b.row_shape)


def _metrics(topk: tuple[int, ...], sums: tuple) -> ClassificationMetrics:
    """The public dict from the running sums (ks = sorted unique {1} ∪ topk)."""
    loss, loss_weight, weight, entropy, lse, hits, count = sums
    nan = float("nan")
    ks = sorted(set(topk) | {1})
    hit = dict(zip(ks, hits, strict=True))
    mean = (lambda v: v / weight) if weight > 0 else (lambda v: nan)
    ce = loss / loss_weight if loss_weight != 0 else nan
    try:
        ppl = math.exp(ce)
    except OverflowError:
        ppl = math.inf
    out: dict[str, Any] = {"cross_entropy": ce, "perplexity": ppl, "accuracy": mean(hit[1])}
    for k in topk:
        out[f"top{k}_accuracy"] = mean(hit[k])
    out.update(
        entropy=mean(entropy),
        logsumexp=mean(lse),
        count=int(count),
        weight_sum=float(weight),
        loss_weight_sum=float(loss_weight),
    )
    return cast("ClassificationMetrics", out)  # the top-k keys are not literals


# Overloads: the result's type follows ``reduction`` (the metrics, or the per-row arrays of
# "none"); the last takes a ``reduction`` known only as an EvaluateReduction.
@overload
def evaluate(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    topk: Iterable[SupportsIndex] = ...,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    label_smoothing: float = ...,
    axis: SupportsIndex = ...,
    sample_weight: ArrayLike | None = ...,
    reduction: Literal["mean"] = ...,
) -> ClassificationMetrics: ...
@overload
def evaluate(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    topk: Iterable[SupportsIndex] = ...,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    label_smoothing: float = ...,
    axis: SupportsIndex = ...,
    sample_weight: ArrayLike | None = ...,
    reduction: Literal["none"],
) -> ClassificationRows: ...
@overload
def evaluate(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    topk: Iterable[SupportsIndex] = ...,
    weight: ArrayLike | None = ...,
    ignore_index: SupportsIndex = ...,
    label_smoothing: float = ...,
    axis: SupportsIndex = ...,
    sample_weight: ArrayLike | None = ...,
    reduction: EvaluateReduction = ...,
) -> ClassificationMetrics | ClassificationRows: ...
def evaluate(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    topk: Iterable[SupportsIndex] = (1, 5),
    weight: ArrayLike | None = None,
    ignore_index: SupportsIndex = -100,
    label_smoothing: float = 0.0,
    axis: SupportsIndex = -1,
    sample_weight: ArrayLike | None = None,
    reduction: EvaluateReduction = "mean",
) -> ClassificationMetrics | ClassificationRows:
    """Cross-entropy, accuracy, top-k accuracy, entropy and log-sum-exp in one pass.

    Per counted row ``i`` (target not ``ignore_index``) with sample weight ``s_i`` and class
    weights ``w``: ``l_i`` as :func:`fastloss.cross_entropy` (same ``weight``,
    ``ignore_index``, ``label_smoothing``, ``axis``); ``rank_i = #(x_c > x_t) + #(x_c == x_t
    and c < t)`` (ties go to the lower class index, as ``np.argmax``; a row with NaN has rank
    ``C``); a top-k hit is ``rank_i < k``; ``H_i`` the entropy of ``softmax(row)``;
    ``lse_i = logsumexp(row)``.

    Parameters
    ----------
    logits : array_like
        Scores, classes along ``axis``; float32, float64, float16 and bfloat16 native
        (half in float32; its per-row outputs of its dtype).
    target : array_like of int
        Class indices, shape ``logits.shape`` without ``axis``.
    topk : tuple of int, default (1, 5)
        The k of the ``top{k}_accuracy`` entries (at most 15 distinct values besides 1).
    weight, ignore_index, label_smoothing, axis
        As :func:`fastloss.cross_entropy`.
    sample_weight : array_like, optional
        Per-row weights ``s >= 0``, broadcast to the target's shape.
    reduction : {"mean", "none"}, default "mean"

    Returns
    -------
    dict
        ``"mean"``: ``cross_entropy = Σ s·l / Σ s·w[t]``, ``perplexity = exp(cross_entropy)``,
        ``accuracy`` and ``top{k}_accuracy = Σ s·[rank < k] / Σ s``, ``entropy`` and
        ``logsumexp = Σ s·(.) / Σ s``, ``count`` (rows counted), ``weight_sum`` (Σ s),
        ``loss_weight_sum`` (Σ s·w[t]); Python floats, NaN over no counted row.
        ``"none"``: per-row arrays of the target's shape: ``"cross_entropy"`` (0 on ignored
        rows), ``"rank"`` (int64, -1 on ignored rows), ``"entropy"`` and ``"logsumexp"``
        (computed for every row), in the logits' float dtype.

    Raises
    ------
    ValueError, IndexError, TypeError
        As :func:`fastloss.cross_entropy`; ``topk`` values must be positive integers.

    Notes
    -----
    Equals ``fastloss.reference.classification_metrics``. The logits are read once (rows
    with NaN/inf, or far from their first values, are redone exactly); the sums are float64
    in an order fixed by the shape, so every thread count gives the same bits.

    Examples
    --------
    >>> import fastloss
    >>> m = fastloss.evaluate([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]], [0, 2], topk=(2,))
    >>> m["accuracy"], m["top2_accuracy"]
    (0.5, 1.0)
    """
    fn = "evaluate"
    if reduction not in ("mean", "none"):
        raise ValueError(f"{fn}: reduction must be one of 'mean', 'none'; got {reduction!r}")
    ks_public = _topk(fn, topk)
    eps = label_smoothing_option(fn, label_smoothing)
    b, sw = _batch(fn, logits, target, weight, ignore_index, axis, sample_weight)
    ks = sorted(set(ks_public) | {1})
    if reduction == "none":
        outs = (
            np.empty(b.row_shape, b.dtype),
            np.empty(b.row_shape, np.int64),
            np.empty(b.row_shape, b.dtype),
            np.empty(b.row_shape, b.dtype),
        )
        b.evaluate(ks, eps, sw, outs)
        loss, rank, entropy, lse = outs
        return {"cross_entropy": loss, "rank": rank, "entropy": entropy, "logsumexp": lse}
    return _metrics(ks_public, b.evaluate(ks, eps, sw))


class Evaluator(LockedState):
    """Streaming classification metrics over any number of batches.

    ``update`` adds a batch of logits and targets; ``merge`` adds another evaluator's
    batches; ``result`` gives the metrics of :func:`fastloss.evaluate` over everything seen,
    the same (to float64 rounding) as one call over the concatenation. The state is a few
    Python floats and ints and the options: it pickles.

    Parameters
    ----------
    topk, weight, ignore_index, label_smoothing, axis
        As :func:`fastloss.evaluate`; fixed for the evaluator's life.

    Notes
    -----
    Every batch must have the same number of classes. Bad input (shapes, dtypes, a class
    index out of range, ...) raises before the state changes. For arrays larger than
    memory, see :func:`fastloss.evaluate_chunked`.

    One evaluator may be shared by several Python threads: ``update``, ``merge``, ``reset``,
    ``result`` and pickling may run at the same time, and every batch is counted once. The
    kernel pass of an ``update`` runs outside the evaluator's lock (with the GIL released
    on large batches, so updates from several threads run in parallel); only adding its
    sums to the state is serialized. ``result`` and pickling see the state between two
    whole updates or merges, never half of one. The order in which concurrent batches are
    added is not fixed, so the sums may differ in the last bits from one run to the next.

    Examples
    --------
    >>> import fastloss
    >>> ev = fastloss.Evaluator(topk=(2,))
    >>> ev.update([[2.0, 1.0, 0.0]], [0]).update([[0.0, 3.0, 1.0]], [2]).result()["accuracy"]
    0.5
    """

    _fn = "Evaluator"

    def __init__(
        self,
        *,
        topk: Iterable[SupportsIndex] = (1, 5),
        weight: ArrayLike | None = None,
        ignore_index: SupportsIndex = -100,
        label_smoothing: float = 0.0,
        axis: SupportsIndex = -1,
    ) -> None:
        fn = self._fn
        self.topk = _topk(fn, topk)
        self.ignore_index = ignore_index_option(fn, ignore_index)
        self.label_smoothing = label_smoothing_option(fn, label_smoothing)
        self.axis = axis_option(fn, axis)
        if weight is None:
            self.weight = None
        else:
            w = bfloat16_as_float32(as_array(fn, "weight", weight))
            if w.dtype.kind not in "biuf" or w.ndim != 1:
                raise TypeError(
                    f"{fn}: weight must be a 1-d real array; got {w.dtype} of shape {w.shape}"
                )
            self.weight = tuple(float(v) for v in w)
        # Guards n_classes and _sums, which an update reads and replaces (not the kernel).
        LockedState.__init__(self)
        self.reset()

    def reset(self) -> Evaluator:
        """Forget every batch (the options stay). Returns ``self``."""
        with self._lock:
            self.n_classes: int | None = None
            self._sums = (0.0, 0.0, 0.0, 0.0, 0.0, (0.0,) * len(self._ks()), 0)
        return self

    def _state(self) -> tuple[int | None, tuple]:
        with self._lock:
            return self.n_classes, self._sums

    def _ks(self) -> list[int]:
        return sorted(set(self.topk) | {1})

    def update(
        self, logits: ArrayLike, target: ArrayLike, *, sample_weight: ArrayLike | None = None
    ) -> Evaluator:
        """Add one batch (any array-like, np.memmap included). Returns ``self``."""
        fn = f"{self._fn}.update"
        options = (self.weight, self.ignore_index, self.axis)
        b, sw = _batch(fn, logits, target, *options, sample_weight, n_classes=self.n_classes)
        res = b.evaluate(self._ks(), self.label_smoothing, sw)
        # Nothing above changed the state: commit. Another thread may have added the first
        # batch since ClassBatch compared the class counts, so compare again under the lock.
        with self._lock:
            if self.n_classes is not None and b.n_classes != self.n_classes:
                raise ValueError(
                    f"{fn}: logits have {b.n_classes} classes along axis {self.axis}; earlier "
                    f"batches had {self.n_classes}"
                )
            self._sums = self._add(self._sums, res)
            self.n_classes = b.n_classes
        return self

    @staticmethod
    def _add(a, b):
        return (
            a[0] + b[0],
            a[1] + b[1],
            a[2] + b[2],
            a[3] + b[3],
            a[4] + b[4],
            tuple(x + y for x, y in zip(a[5], b[5], strict=True)),
            a[6] + b[6],
        )

    def _options(self):
        return (self.topk, self.weight, self.ignore_index, self.label_smoothing, self.axis)

    def merge(self, other: Evaluator) -> Evaluator:
        """Add the batches another evaluator has seen (same options and class count)."""
        fn = f"{self._fn}.merge"
        if not isinstance(other, Evaluator):
            raise TypeError(f"{fn}: expected an Evaluator; got {type(other).__name__}")
        if other._options() != self._options():
            raise ValueError(f"{fn}: options differ: {other._options()!r} vs {self._options()!r}")
        # A snapshot of other, then self under its own lock: never both locks at once, so
        # a.merge(b) and b.merge(a) in two threads cannot deadlock.
        other_classes, other_sums = other._state()
        with self._lock:
            if None not in (self.n_classes, other_classes) and self.n_classes != other_classes:
                raise ValueError(f"{fn}: class counts differ: {other_classes} vs {self.n_classes}")
            self._sums = self._add(self._sums, other_sums)
            if self.n_classes is None:
                self.n_classes = other_classes
        return self

    def result(self) -> ClassificationMetrics:
        """``cross_entropy``, ``perplexity``, ``accuracy``, ``top{k}_accuracy``, ``entropy``,
        ``logsumexp``, ``count``, ``weight_sum``, ``loss_weight_sum`` (see :func:`evaluate`)."""
        return _metrics(self.topk, self._state()[1])

    def __repr__(self) -> str:
        return f"Evaluator(topk={self.topk}, count={self._state()[1][6]})"


class _ProgressLine:
    """evaluate_chunked's progress without tqdm: one line on stderr, rewritten in place."""

    def __init__(self, fn: str, total: int) -> None:
        self.fn, self.total, self.done = fn, total, 0
        self._show()

    def _show(self) -> None:
        sys.stderr.write(f"\r{self.fn}: {self.done}/{self.total} rows")
        sys.stderr.flush()

    def update(self, rows: int) -> None:
        self.done += rows
        self._show()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def evaluate_chunked(
    evaluator: _EvaluatorT,
    logits: Any,
    target: Any,
    *,
    sample_weight: Any = None,
    rows_per_chunk: SupportsIndex | None = None,
    progress: bool = False,
) -> _EvaluatorT:
    """Feed ``evaluator`` arrays larger than memory in chunks of rows; returns the evaluator.

    Works for :class:`Evaluator` (``logits`` with classes along ``evaluator.axis``, rows
    along axis 0) and :class:`fastloss.RegressionEvaluator` (``logits`` = its ``input``).
    ``logits``, ``target`` and ``sample_weight`` may be anything sliceable along the first
    axis: np.memmap, h5py or zarr datasets, NumPy arrays. Each chunk is read with
    ``np.asarray(logits[i:j])``, so only one chunk of rows is in memory at a time. A map of
    a bfloat16 ``.npy`` file (``np.load(path, mmap_mode="r")`` maps it as 2-byte voids) is
    read as bfloat16.

    Parameters
    ----------
    rows_per_chunk : int, optional
        Rows per chunk; default: about 64 MB of ``logits`` per chunk.
    progress : bool, default False
        Show progress: a tqdm bar when tqdm is installed, else a plain line on stderr
        (``evaluate_chunked: 1200/5000 rows``), rewritten after every chunk.

    Notes
    -----
    The result equals one ``update`` over the whole arrays to float64 rounding (the chunks'
    sums are added in order), and is the same for every run with the same chunking. If any
    chunk raises, the chunks before it stay in the evaluator: validate first, or use a fresh
    evaluator.
    """
    fn = "evaluate_chunked"
    # np.load maps a bfloat16 .npy file as 2-byte voids: viewed as bfloat16, nothing read.
    logits, target = bfloat16_memmap(logits), bfloat16_memmap(target)
    shape = getattr(logits, "shape", None)
    if shape is None:
        logits = np.asarray(logits)
        shape = logits.shape
    if len(shape) == 0:
        raise ValueError(f"{fn}: logits must have at least one dimension")
    n = int(shape[0])
    tshape = getattr(target, "shape", None)
    if tshape is None:
        target = np.asarray(target)
        tshape = target.shape
    if len(tshape) == 0 or int(tshape[0]) != n:
        raise ValueError(
            f"{fn}: logits shape {tuple(shape)} and target shape {tuple(tshape)} differ "
            "along axis 0"
        )
    if (
        isinstance(evaluator, Evaluator)
        and len(shape) > 1
        and axis_index(fn, evaluator.axis, len(shape)) == 0
    ):
        raise ValueError(f"{fn}: the class axis is axis 0; chunking needs rows along axis 0")
    if rows_per_chunk is None:
        itemsize = getattr(getattr(logits, "dtype", None), "itemsize", 8)
        row_bytes = max(1, itemsize * math.prod(int(d) for d in shape[1:]))
        rows_per_chunk = max(1, _CHUNK_BYTES // row_bytes)
    else:
        rows_per_chunk = operator.index(rows_per_chunk)
        if rows_per_chunk < 1:
            raise ValueError(f"{fn}: rows_per_chunk must be >= 1; got {rows_per_chunk}")
    starts = range(0, n, rows_per_chunk)
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm  # type: ignore[import]
        except ImportError:
            tqdm = None
        bar = tqdm(total=n, unit="row", desc=fn) if tqdm is not None else _ProgressLine(fn, n)
    sw_sliceable = (
        sample_weight is not None
        and np.ndim(sample_weight) > 0
        and getattr(sample_weight, "shape", np.shape(sample_weight))[0] == n
    )
    try:
        for i in starts:
            j = min(n, i + rows_per_chunk)
            kw = {}
            if sample_weight is not None:
                kw["sample_weight"] = sample_weight[i:j] if sw_sliceable else sample_weight
            evaluator.update(
                as_array(fn, "logits", logits[i:j]), as_array(fn, "target", target[i:j]), **kw
            )
            if bar is not None:
                bar.update(j - i)
    finally:
        if bar is not None:
            bar.close()
    return evaluator
