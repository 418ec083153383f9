"""Thread control: a process-wide count, a per-Python-thread override, and the default.

The default follows ``OMP_NUM_THREADS``, else the CPUs this process may run on. Every count
is capped at ``MAX_THREADS = max(64, 4 x CPUs)``, with a RuntimeWarning; an
``OMP_NUM_THREADS`` that is not a count (garbage, 0, >= 2**31) warns and is ignored: the
import never fails. The setting lives in the compiled core (src/cpp/threads.cpp), which
every kernel call reads without a Python-level lookup, so ``threads(n)`` in one Python thread
never changes what another sees. After ``fork`` the child runs serially: libgomp's pool does
not survive a fork.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

from . import _core

__all__ = ["get_num_threads", "set_num_threads", "threads"]


# The core keeps counts in a C int.
_INT_LIMIT = 2**31
# Far more threads than CPUs only adds OS threads and context switches (10**6 ran 2-7x
# slower than the CPU count); a bound well above the CPUs still lets a caller oversubscribe
# on purpose (3 threads on 2 cores run 3).
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity query
        return os.cpu_count() or 1


def _capped(n: int, what: str) -> int:
    if n > MAX_THREADS:
        warnings.warn(
            f"fastloss: {what} {n} is above fastloss's bound of {MAX_THREADS} threads "
            f"(max(64, 4 x {os.cpu_count() or 1} CPUs)); using {MAX_THREADS}",
            RuntimeWarning,
            stacklevel=4,
        )
        return MAX_THREADS
    return n


def _default_threads() -> int:
    raw = os.environ.get("OMP_NUM_THREADS", "")
    first = raw.split(",")[0].strip()
    if not first:
        return _cpus()
    # isdecimal and isascii: int() of other Unicode digits would fail or surprise
    if first.isascii() and first.isdecimal() and 0 < int(first) < _INT_LIMIT:
        return _capped(int(first), "OMP_NUM_THREADS =")
    # Never fail the import over the environment: say so and use the CPU count.
    warnings.warn(
        f"fastloss: OMP_NUM_THREADS={raw!r} is not a thread count from 1 to {_INT_LIMIT - 1}; "
        f"using the {_cpus()} CPUs this process may run on",
        RuntimeWarning,
        stacklevel=2,
    )
    return _cpus()


_core._set_default_threads(_default_threads())
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core._mark_forked)


def _check(n: object, fn: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{fn}: the thread count must be a positive integer; got {n!r}")
    if n >= _INT_LIMIT:
        raise ValueError(f"{fn}: the thread count must be below 2**31; got {n}")
    return _capped(n, f"{fn}: thread count")


def get_num_threads() -> int:
    """The number of threads the next kernel call from this Python thread will use."""
    return _core._get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of threads for every Python thread of the process.

    A ``threads(n)`` block in a Python thread still takes precedence there. ``n`` above
    ``max(64, 4 x CPUs)`` is capped there, with a RuntimeWarning; ``n >= 2**31`` raises
    ValueError.
    """
    _core._set_num_threads(_check(n, "set_num_threads"))


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Use ``n`` threads inside the ``with`` block, in the calling Python thread only.

    ``n`` is capped and checked as in :func:`set_num_threads`.

    >>> import fastloss
    >>> with fastloss.threads(1):
    ...     fastloss.get_num_threads()
    1
    """
    previous = _core._swap_thread_override(_check(n, "threads"))
    try:
        yield
    finally:
        _core._swap_thread_override(previous)
