"""fastloss: loss functions over NumPy arrays at the speed of the memory system.

Fused C++ kernels with explicit SIMD (chosen at import: AVX-512, AVX2, NEON or scalar) and
OpenMP threads, with a ``torch.nn.functional``-like API. ``fastloss.reference`` holds the
same functions in plain float64 NumPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _core
from ._binary import binary_cross_entropy, binary_cross_entropy_with_logits
from ._classification import cross_entropy, log_softmax, logsumexp, nll_loss, softmax
from ._config import show_config, simd_backend
from ._divergence import entropy, kl_div
from ._evaluate import Evaluator, evaluate, evaluate_chunked
from ._files import FileArray
from ._regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from ._regression_evaluator import RegressionEvaluator
from ._threads import get_num_threads, set_num_threads, threads

__version__ = _core.__version__


if TYPE_CHECKING:
    # Type checkers see the lazily loaded submodule as the module it is, and no module
    # __getattr__: one would make every misspelled name an ``object`` instead of an error.
    from . import reference as reference
else:

    def __getattr__(name: str) -> object:
        # ``fastloss.reference`` without an explicit import, loaded on first use: the float64
        # reference is not needed by the kernels and stays out of the import time.
        if name == "reference":
            import importlib

            return importlib.import_module(".reference", __name__)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Evaluator",
    "FileArray",
    "RegressionEvaluator",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "entropy",
    "evaluate",
    "evaluate_chunked",
    "get_num_threads",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "nll_loss",
    "set_num_threads",
    "show_config",
    "simd_backend",
    "smooth_l1_loss",
    "softmax",
    "threads",
]
