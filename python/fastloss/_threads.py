"""Thread control: a process-wide count, a per-Python-thread override, and the default.

The default follows ``OMP_NUM_THREADS``, else the CPUs this process may run on. The setting
lives in the compiled core (src/cpp/threads.cpp), which every kernel call reads without a
Python-level lookup, so ``threads(n)`` in one Python thread never changes what another sees.
After ``fork`` the child runs serially: libgomp's pool does not survive a fork.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from . import _core

__all__ = ["get_num_threads", "set_num_threads", "threads"]


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity query
        return os.cpu_count() or 1


_core._set_default_threads(_default_threads())
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core._mark_forked)


def _check(n: object, fn: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{fn}: the thread count must be a positive integer; got {n!r}")
    return n


def get_num_threads() -> int:
    """The number of threads the next kernel call from this Python thread will use."""
    return _core._get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of threads for every Python thread of the process.

    A ``threads(n)`` block in a Python thread still takes precedence there.
    """
    _core._set_num_threads(_check(n, "set_num_threads"))


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Use ``n`` threads inside the ``with`` block, in the calling Python thread only.

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
