"""fastloss: loss functions over NumPy arrays at the speed of the memory system.

Fused C++ kernels with explicit SIMD (chosen at import: AVX-512, AVX2, NEON or scalar) and
OpenMP threads, with a ``torch.nn.functional``-like API. ``fastloss.reference`` holds the
same functions in plain float64 NumPy.
"""

from __future__ import annotations

from . import _core
from ._config import show_config, simd_backend
from ._regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from ._threads import get_num_threads, set_num_threads, threads

__version__ = _core.__version__

__all__ = [
    "get_num_threads",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "set_num_threads",
    "show_config",
    "simd_backend",
    "smooth_l1_loss",
    "threads",
]
