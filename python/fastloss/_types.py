"""The static types of the public API: option values and result dicts, defined once.

Type checkers read these; at run time the aliases are plain ``typing`` objects and a result
dict is a plain ``dict``. Array types come from ``numpy.typing``, imported for type checkers
only, so importing fastloss does not import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    from numpy.typing import NDArray

    # A reduced loss: a NumPy scalar of the result's float dtype.
    FloatScalar: TypeAlias = np.floating[Any]
    # Per-element or per-row results.
    FloatArray: TypeAlias = NDArray[np.floating[Any]]

__all__ = [
    "ClassificationMetrics",
    "ClassificationRows",
    "EvaluateReduction",
    "KLReduction",
    "Reduction",
    "RegressionMetrics",
]

# ``reduction`` of the losses.
Reduction = Literal["mean", "sum", "none"]
# ``reduction`` of kl_div: also the mean over axis 0.
KLReduction = Literal["mean", "batchmean", "sum", "none"]
# ``reduction`` of evaluate: the metrics, or the per-row arrays.
EvaluateReduction = Literal["mean", "none"]


class _DefaultTopK(TypedDict, total=False):
    # Present when their k is in ``topk`` (the default, (1, 5), gives both). Other k give
    # ``top{k}_accuracy`` keys too; a TypedDict lists fixed keys only, so type checkers see
    # those through ``.get(f"top{k}_accuracy")``, typed ``object``.
    top1_accuracy: float
    top5_accuracy: float


class ClassificationMetrics(_DefaultTopK):
    """The metrics of ``evaluate`` (``reduction="mean"``) and ``Evaluator.result``."""

    cross_entropy: float
    perplexity: float
    accuracy: float
    entropy: float
    logsumexp: float
    count: int
    weight_sum: float
    loss_weight_sum: float


class ClassificationRows(TypedDict):
    """The per-row arrays of ``evaluate(..., reduction="none")``, of the target's shape."""

    cross_entropy: FloatArray
    rank: NDArray[np.int64]
    entropy: FloatArray
    logsumexp: FloatArray


class RegressionMetrics(TypedDict):
    """The metrics of ``RegressionEvaluator.result``."""

    mse: float
    rmse: float
    mae: float
    huber: float
    max_error: float
    r2: float
    count: int
    weight_sum: float
