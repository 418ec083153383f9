"""Interleaved timing rounds and their statistics.

Every round times each candidate once, in a rotating order, so slow drifts of a shared
machine (another tenant, turbo, page cache) hit all candidates alike; ratios are taken
within a round, then their median over rounds.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Call = Callable[[], object]


@dataclass
class Timed:
    fn: Call
    inner: int = 1  # calls per sample, so that a sample of a tiny call is not all timer noise
    core: bool = False  # sampled every round; others stop after min_rounds and their share
    # Entered around each sample (not each call), e.g. fastloss.threads(1).
    context: Callable[[], contextlib.AbstractContextManager[object]] | None = None

    def scope(self) -> contextlib.AbstractContextManager[object]:
        return self.context() if self.context is not None else contextlib.nullcontext()


def calibrate(t: Timed, min_sample_s: float) -> int:
    """Calls per sample so that one sample of ``t`` lasts at least ``min_sample_s``."""
    n = 1
    with t.scope():
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                t.fn()
            dt = time.perf_counter() - t0
            if dt >= min_sample_s / 4 or n >= 1 << 20:
                return max(1, math.ceil(n * min_sample_s / max(dt, 1e-9)))
            n *= 8


def _busy_threads(me: int) -> int | None:
    """How many other threads of this process are running; None where /proc is missing."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    busy = 0
    for tid in tids:
        if int(tid) == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # the thread has just exited
        busy += state == "R"
    return busy


def quiesce(min_s: float, max_s: float = 0.1) -> float:
    """Sleep ``min_s`` (if > 0), then until no other thread of this process runs (at most
    ``max_s``, sleeping only while one does).

    XLA's workers keep spinning for 10-20 ms after a call returns, OpenMP's for a while
    too; on a worker pinned to one CPU that spinning would be charged to whichever
    candidate is timed next. Returns the seconds waited.
    """
    t0 = time.perf_counter()
    if min_s > 0:
        time.sleep(min_s)
    me = threading.get_native_id()
    while time.perf_counter() - t0 < max_s:
        if not _busy_threads(me):
            break
        time.sleep(0.0005)
    return time.perf_counter() - t0


def sample(t: Timed) -> float:
    """Seconds per call."""
    fn = t.fn
    with t.scope():
        t0 = time.perf_counter()
        for _ in range(t.inner):
            fn()
        return (time.perf_counter() - t0) / t.inner


def run_rounds(
    entries: dict[str, Timed],
    *,
    budget_s: float,
    min_rounds: int,
    max_rounds: int,
    settle_s: float,
    peer_share: float = 0.5,
    on_round: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Per-call seconds of each entry, one value per round it took part in.

    Rounds go on until the ``core`` entries (fastloss and the limit probes) have run for
    ``budget_s`` in all, and at least ``min_rounds``. Any other entry (a peer) leaves
    once it has ``min_rounds`` samples and has run for ``peer_share * budget_s``: a peer
    100x slower than fastloss costs min_rounds calls, not the whole budget, and its
    samples still pair with fastloss's from the same rounds (rounds 0..k-1).
    """
    names = list(entries)
    times: dict[str, list[float]] = {n: [] for n in names}
    spent: dict[str, float] = {n: 0.0 for n in names}
    core = [n for n in names if entries[n].core]
    rounds = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside one sample would charge it to one candidate
    try:
        while rounds < max_rounds and (
            rounds < min_rounds or sum(spent[n] for n in core) < budget_s
        ):
            k = rounds % len(names)
            for name in names[k:] + names[:k]:
                e = entries[name]
                done = len(times[name]) >= min_rounds and spent[name] >= peer_share * budget_s
                if not e.core and done:
                    continue
                dt = sample(e)
                times[name].append(dt)
                spent[name] += dt * e.inner
                quiesce(settle_s)
            rounds += 1
            if on_round is not None:
                on_round(rounds)
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def summary(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return {
        "median": statistics.median(xs),
        "q1": q[0],
        "q3": q[2],
        "min": min(xs),
        "max": max(xs),
        "n": len(xs),
    }


def ratio_median(num: list[float], den: list[float]) -> float | None:
    """Median over rounds of num[i] / den[i]."""
    pairs = [a / b for a, b in zip(num, den, strict=False) if b > 0]
    return statistics.median(pairs) if pairs else None
