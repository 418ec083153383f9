"""A lock around an object's state that survives pickling (the evaluators share it)."""

from __future__ import annotations

import threading


class LockedState:
    """Holds ``self._lock``; pickles the rest of ``__dict__`` under it, and a new lock back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        with self._lock:
            state = self.__dict__.copy()
        del state["_lock"]  # a lock does not pickle; __setstate__ makes a new one
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
