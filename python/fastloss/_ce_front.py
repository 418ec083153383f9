"""The one front of cross_entropy, nll_loss and evaluate: the options, logits and class
targets checked and made ready for the kernels, the call into ``_core``, and the IndexError of
a class index out of range.
"""

from __future__ import annotations

import operator

import numpy as np

from . import _core
from ._checks import (
    REDUCTIONS,
    as_array,
    axis_index,
    common_float_dtype,
    float_dtype,
    in_caller_kind,
    label_smoothing_option,
    native_array,
    reduction_code,
    weight_dtype,
)
from ._half import is_bfloat16

_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def class_loss(fn, nll, logits, target, weight, ignore_index, reduction, axis, label_smoothing=0.0):
    """cross_entropy, or nll_loss (``nll``)."""
    # Comparisons, not REDUCTIONS.get: ~30 ns less a call (the 2 µs call budget).
    if reduction == "mean" or reduction == "sum" or reduction == "none":
        red = REDUCTIONS[reduction]
        # Fast path (per-call overhead <= 2 µs): ready arrays and plain options go through as
        # given, in one binding call that checks them all; None if anything needs work. The
        # entry is chosen here, not in a helper: a Python call costs ~50 ns of the budget.
        if nll:
            res = _core.nll_loss(logits, target, weight, ignore_index, axis, red)
        else:
            res = _core.cross_entropy(
                logits, target, weight, ignore_index, axis, red, label_smoothing
            )
        if res is not None:
            if type(res) is int:  # the first bad row
                raise_bad_target(fn, target, res, logits.shape[axis], ignore_index)
            return res
    reduction_code(fn, reduction)
    red = REDUCTIONS[reduction]
    eps = 0.0 if nll else label_smoothing_option(fn, label_smoothing)
    name = "input" if nll else "logits"
    b = ClassBatch(fn, logits, target, weight, ignore_index, axis, name, prob_targets=not nll)
    return in_caller_kind(b.loss(nll, red, eps), logits, target, weight)


def ignore_index_option(fn: str, ignore_index: object) -> int:
    """ignore_index as a Python int: any integer but a bool, else TypeError (the shape of
    _checks.axis_option, with this option's messages)."""
    if isinstance(ignore_index, bool | np.bool_):
        raise TypeError(f"{fn}: ignore_index must be an integer; got {ignore_index!r}")
    try:
        return operator.index(ignore_index)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{fn}: ignore_index must be an integer; got {ignore_index!r}") from None


def raise_bad_target(fn: str, t: np.ndarray, bad: int, n_classes: int, ignore_index: int):
    """The IndexError of the class index at flat row ``bad``."""
    pos = np.unravel_index(bad, t.shape) if t.ndim else ()
    where = f"target[{', '.join(map(str, pos))}]" if t.ndim else "target"
    raise IndexError(
        f"{fn}: {where} = {t.reshape(-1)[bad]} is outside [0, {n_classes}) and is not "
        f"ignore_index ({ignore_index})"
    )


class ClassBatch:
    """Logits, targets and class weights checked and made ready (C-contiguous, aligned, native
    byte order) for the kernels, the class axis left in place; nothing is computed yet.

    ``prob_targets``: a target of the logits' shape holds class probabilities (cross_entropy).
    ``n_classes``: the class count earlier batches had (evaluators).
    """

    def __init__(
        self,
        fn,
        logits,
        target,
        weight,
        ignore_index,
        axis,
        logits_name="logits",
        *,
        prob_targets=False,
        n_classes=None,
    ):
        self.fn = fn
        self.ignore_index = ignore_index_option(fn, ignore_index)
        a = as_array(fn, logits_name, logits)
        if a.ndim == 0:  # no class axis to pick a target from; torch raises too
            raise ValueError(
                f"{fn}: 0-d input has no class axis; give at least 1 dimension, e.g. shape (C,)"
            )
        self.axis = ax = axis_index(fn, axis, a.ndim)
        self.row_shape = a.shape[:ax] + a.shape[ax + 1 :]
        self.n_classes = a.shape[ax]
        t = as_array(fn, "target", target)
        self.prob = prob_targets and t.shape == a.shape
        if self.prob:
            if t.dtype.kind != "f" and not is_bfloat16(t.dtype):
                raise TypeError(
                    f"{fn}: a target of the logits' shape holds class probabilities and must "
                    f"be float; got {t.dtype}"
                )
            if self.ignore_index != -100:
                raise ValueError(
                    f"{fn}: ignore_index is not supported with probability targets; got "
                    f"{self.ignore_index}"
                )
            dtype = common_float_dtype(
                float_dtype(fn, logits_name, a), float_dtype(fn, "target", t)
            )
            t = native_array(t, dtype)
        else:
            dtype = float_dtype(fn, logits_name, a)
            t = _index_target(fn, t, self.row_shape, a.shape)
        if n_classes is not None and self.n_classes != n_classes:
            raise ValueError(
                f"{fn}: logits have {self.n_classes} classes along axis {axis}; earlier "
                f"batches had {n_classes}"
            )
        self.logits, self.target, self.dtype = native_array(a, dtype), t, dtype
        self.weight = _weight(fn, weight, self.n_classes, dtype)

    def loss(self, nll, reduction, label_smoothing):
        """cross_entropy, or nll_loss (``nll``), reduced."""
        ignore, eps = self._kernel_ignore(), label_smoothing
        a, t, w, ax = self.logits, self.target, self.weight, self.axis
        if nll:
            return self._checked(_core.nll_loss(a, t, w, ignore, ax, reduction))
        return self._checked(_core.cross_entropy(a, t, w, ignore, ax, reduction, eps))

    def evaluate(self, ks, label_smoothing, sample_weight=None, outs=(None, None, None, None)):
        """The kernel sums ``(loss, loss_weight, weight, entropy, lse, hits, count)`` of
        evaluate; ``outs``: the per-row loss, rank, entropy and lse arrays, or None."""
        ignore = self._kernel_ignore()
        if self.target.size and self.n_classes == 0:
            # No class is valid: every target must be ignored.
            bad = np.flatnonzero(self.target.reshape(-1) != ignore)
            if bad.size:
                raise_bad_target(self.fn, self.target, int(bad[0]), 0, self.ignore_index)
            for o, v in zip(outs, (0, -1, np.nan, -np.inf), strict=True):
                if o is not None:
                    o.fill(v)
            return (0.0, 0.0, 0.0, 0.0, 0.0, (0.0,) * len(ks), 0)
        return self._checked(
            _core.evaluate(
                self.logits,
                self.target,
                self.weight,
                sample_weight,
                list(ks),
                *outs,
                ignore,
                label_smoothing,
                self.axis,
            )
        )

    def _checked(self, res):
        if type(res) is int:  # the first bad row
            raise_bad_target(self.fn, self.target, res, self.n_classes, self.ignore_index)
        return res

    def _kernel_ignore(self) -> int:
        """ignore_index as the kernel's int64. One beyond int64 matches no target: stand in
        for it with an int64 bound, after making sure no target holds that bound (it is out of
        range)."""
        ignore, t = self.ignore_index, self.target
        if _INT64_MIN <= ignore <= _INT64_MAX:
            return ignore
        bound = _INT64_MIN if ignore < 0 else _INT64_MAX
        if t.dtype == np.int64 and t.size:
            hits = np.flatnonzero(t.reshape(-1) == bound)
            if hits.size:
                raise_bad_target(self.fn, t, int(hits[0]), self.n_classes, ignore)
        return bound


def _index_target(fn: str, t: np.ndarray, expected: tuple[int, ...], x_shape) -> np.ndarray:
    """Integer class indices: int32/int64 read in place when ready, others converted."""
    if t.dtype.kind == "f" and t.size == 0:  # np.asarray([]) is float64: no dtype information
        t = t.astype(np.int64)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices; got {t.dtype}")
    if t.shape != expected:
        # The likely mistake: PyTorch's (N, C, d1, ...) layout with the default axis=-1.
        hint = (
            "; for PyTorch's (N, C, d1, ...) layout pass axis=1"
            if len(x_shape) > 2 and t.shape == x_shape[:1] + x_shape[2:]
            else ""
        )
        raise ValueError(
            f"{fn}: target shape {t.shape} must be the input shape {x_shape} without the "
            f"class axis, {expected}{hint}"
        )
    if t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.size and t.max() > _INT64_MAX:
        # Would wrap negative in int64: report the value as given.
        flat = int(np.argmax(t.reshape(-1) > _INT64_MAX))
        raise IndexError(
            f"{fn}: target[{', '.join(map(str, np.unravel_index(flat, t.shape)))}] = "
            f"{t.reshape(-1)[flat]} is outside the class range"
        )
    return native_array(t, t.dtype if t.dtype in _INDEX_DTYPES else np.dtype(np.int64))


def _weight(fn: str, weight, n_classes: int, dtype: np.dtype):
    if weight is None:
        return None
    w = as_array(fn, "weight", weight)
    float_dtype(fn, "weight", w)  # TypeError for complex, object, strings
    if w.shape != (n_classes,):
        raise ValueError(f"{fn}: weight shape {w.shape} must be ({n_classes},), one per class")
    return native_array(w, weight_dtype(dtype))
