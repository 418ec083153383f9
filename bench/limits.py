"""The physical limit of a workload, measured on this machine, at this thread count.

The method and how the report uses it: docs/performance.md.

limit = max(memory time, exp time), where
- memory time: a plain SIMD sum over the same input arrays (``_core._probe_read``); for a
  function that writes an output of the input's size, a SIMD copy of the input into a
  preallocated buffer (``_core._probe_copy``) stands for its read and its write;
- exp time: the workload's exp/log count through a reference float32 vector exp over an
  L1-resident buffer (``_core._probe_exp``); a log counts as one exp. float64 counts
  twice (half the lanes per vector): a lower bound, as a float64 exp needs a longer
  polynomial. Half precision (bfloat16, float16) is computed in float32: its exps count as
  float32's, and its memory time is that of its own 2-byte arrays (read through a stand-in
  of the same byte count, as the probe sums float32/float64 only).
nll_loss reads one log-probability per row: its memory time is a read of the targets plus
one 64-byte cache line per row (streamed: the optimistic side of a random gather).
Small workloads have no meaningful streaming limit: their baseline is an empty pybind11
call (``_core._noop``), and the table shows the overhead above it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from workloads import Workload

Call = Callable[[], Any]


class Probes:
    def __init__(self, core: Any, threads: int) -> None:
        self.core = core
        self.threads = threads
        names = ("_probe_read", "_probe_copy", "_probe_exp", "_noop")
        self.missing = [n for n in names if not hasattr(core, n)] if core is not None else names

    def _has(self, name: str) -> bool:
        return self.core is not None and hasattr(self.core, name)

    def noop(self) -> Call | None:
        return self.core._noop if self._has("_noop") else None

    def memory(self, w: Workload, arrays: dict[str, np.ndarray]) -> tuple[Call | None, int]:
        """(probe, bytes it moves): the same bytes the kernel must read and write."""
        if not self._has("_probe_read"):
            return None, 0
        if w.gathers:
            ins = [_stand_in(input_bytes(w, arrays))]
        else:
            ins = [_readable(arrays[a]) for a in w.args]
        moved = sum(a.nbytes for a in ins)
        t = self.threads
        if not w.writes:
            return (lambda: self.core._probe_read(ins, t)), moved
        if not self._has("_probe_copy"):
            return None, 0
        src, rest = ins[0], ins[1:]
        dst = np.empty_like(src)
        dst.fill(0)  # touch the pages now (np.zeros would leave them to the first copy)
        moved += dst.nbytes
        if not rest:
            return (lambda: self.core._probe_copy(src, dst, t)), moved

        def copy_and_read() -> None:
            self.core._probe_copy(src, dst, t)
            self.core._probe_read(rest, t)

        return copy_and_read, moved

    def exp(self, w: Workload) -> Call | None:
        n = w.n_exp * (2 if w.dtype == "float64" else 1)
        if n == 0 or not self._has("_probe_exp"):
            return None
        t = self.threads
        return lambda: self.core._probe_exp(n, t)


CACHE_LINE = 64


def input_bytes(w: Workload, arrays: dict[str, np.ndarray]) -> int:
    """Bytes the kernel must read: all inputs, or for a gather one cache line per row."""
    if w.gathers:
        main, *rest = (arrays[a] for a in w.args)
        rows = main.size // main.shape[w.axis]
        return rows * CACHE_LINE + sum(a.nbytes for a in rest)
    return sum(arrays[a].nbytes for a in w.args)


def _readable(a: np.ndarray) -> np.ndarray:
    """``a`` itself when the read probe can sum it, else a stand-in of the same byte count.

    The probe sums floats; integer targets read as floats would be denormals, which some
    CPUs add slowly, and half-precision arrays (pairs of 2-byte values read as float32:
    denormals wherever the upper one is 0) too, so a float64 stand-in of equal size is read
    instead.
    """
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous:
        return a
    return _stand_in(a.nbytes)


def _stand_in(nbytes: int) -> np.ndarray:
    # Streamed, not gathered: for nll_loss this is the optimistic side of a random gather.
    return np.ones(-(-nbytes // 8), dtype=np.float64)
