"""Peak extra memory of one call: who materializes a temporary of the input's size.

On Linux the peak resident set size (VmHWM) is reset to the current size by writing 5 to
/proc/self/clear_refs; the growth of VmHWM over one call is that call's peak. Freed heap
pages are first handed back (malloc_trim), or a temporary reusing them would not show.
Elsewhere only allocations NumPy reports to tracemalloc are seen, so torch and JAX show
nothing (None).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import tracemalloc
from collections.abc import Callable


def _read_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _can_reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _read_kib("VmHWM") is not None


def _malloc_trim() -> Callable[[], None]:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim  # glibc only
    except (OSError, AttributeError, TypeError):
        return lambda: None
    return lambda: trim(0)


class PeakMeter:
    def __init__(self) -> None:
        self.method = "vmhwm" if _can_reset_hwm() else "tracemalloc"
        self._trim = _malloc_trim()

    def measure(self, fn: Callable[[], object], *, numpy_only: bool) -> tuple[object, int | None]:
        """(result, peak bytes above the state before the call).

        ``numpy_only``: the callee allocates only through NumPy, which tracemalloc sees.
        """
        gc.collect()
        self._trim()
        if self.method == "vmhwm":
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            before = _read_kib("VmHWM") or 0
            result = fn()
            after = _read_kib("VmHWM") or 0
            return result, (after - before) * 1024
        if not numpy_only:
            return fn(), None
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            result = fn()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return result, peak - base
