"""Which instruction set runs, and what this build contains."""

from __future__ import annotations

import platform

import numpy as np

from . import _core
from ._threads import get_num_threads

__all__ = ["show_config", "simd_backend"]


def simd_backend() -> str:
    """The instruction set the kernels run on: ``"avx512"``, ``"avx2"``, ``"neon"`` or ``"scalar"``.

    The best one the CPU supports is chosen at import; the environment variable
    ``FASTLOSS_SIMD`` can force a lower one.
    """
    return _core.simd_backend()


def show_config() -> None:
    """Print the version, compiler, instruction sets (compiled, available, in use) and threads."""
    rows = {
        "fastloss": _core.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "compiler": _core.compiler,
        "openmp": "yes" if _core.openmp else "no (single-threaded build)",
        "simd compiled": ", ".join(_core.compiled_backends()),
        "simd available": ", ".join(_core.supported_backends()),
        "simd in use": _core.simd_backend(),
        "mixed entries": _mixed_entries(_core.simd_backend()),
        "threads": str(get_num_threads()),
    }
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")


def _mixed_entries(isa: str) -> str:
    """The kernel entries the table in use takes from a lower instruction set's table."""
    lender, names = _core._borrowed_entries(isa)
    return f"{', '.join(names)} from {lender}" if names else "none"
