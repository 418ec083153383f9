"""Thread control: a process-wide count, a per-Python-thread override, and the default.

The default follows ``OMP_NUM_THREADS``, else the CPUs this process may run on. The count is
passed to every kernel call, so ``threads(n)`` in one Python thread never changes what another
sees. After ``fork`` the child runs serially: libgomp's pool does not survive a fork.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

__all__ = ["get_num_threads", "set_num_threads", "threads"]

class _Local(threading.local):
    # A class attribute as the default: reading a missing attribute of a threading.local
    # raises inside and costs ~1 µs, more than a small kernel call.
    n: int | None = None


_local = _Local()
_process_threads: int | None = None
_in_forked_child = False


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity query
        return os.cpu_count() or 1


_DEFAULT = _default_threads()


def _mark_forked() -> None:
    global _in_forked_child
    _in_forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)


def _check(n: object, fn: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{fn}: the thread count must be a positive integer; got {n!r}")
    return n


def get_num_threads() -> int:
    """The number of threads the next kernel call from this Python thread will use."""
    if _in_forked_child:
        return 1
    local = _local.n
    if local is not None:
        return local
    return _process_threads if _process_threads is not None else _DEFAULT


def set_num_threads(n: int) -> None:
    """Set the number of threads for every Python thread of the process.

    A ``threads(n)`` block in a Python thread still takes precedence there.
    """
    global _process_threads
    _process_threads = _check(n, "set_num_threads")


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Use ``n`` threads inside the ``with`` block, in the calling Python thread only.

    >>> import fastloss
    >>> with fastloss.threads(1):
    ...     fastloss.get_num_threads()
    1
    """
    _check(n, "threads")
    previous = _local.n
    _local.n = n
    try:
        yield
    finally:
        _local.n = previous
