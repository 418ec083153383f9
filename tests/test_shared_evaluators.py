"""One Evaluator or RegressionEvaluator shared by several Python threads counts every batch
once, and merge, result and pickling see whole updates, never half of one."""

from __future__ import annotations

import copy
import pickle
import sys
import threading
import time

import numpy as np
import pytest

import fastloss
from fastloss import _core

N_THREADS = 4
UPDATES = 2_000
ROWS = 4


def _run(workers) -> None:
    """Start the workers together and re-raise the first exception any of them hit."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def wrap(work):
        def run():
            try:
                barrier.wait(30)
                work()
            except BaseException as exc:  # noqa: BLE001 - reported in the main thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(w)) for w in workers]
    # Switch threads as often as the interpreter can, so that an unguarded read-modify-write
    # of the state is interrupted often, not once in thousands of updates.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    finally:
        sys.setswitchinterval(interval)
    assert not any(t.is_alive() for t in threads), "a worker hung (deadlock?)"
    if errors:
        raise errors[0]


def _classification_batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(ROWS, 5)).astype(np.float32), np.array([0, 1, 2, 3])


def test_evaluator_counts_every_update(slow_merge):
    x, t = _classification_batch()
    ev = fastloss.Evaluator(topk=(1,))

    def work():
        for _ in range(UPDATES):
            ev.update(x, t)

    _run([work] * N_THREADS)
    r = ev.result()
    assert r["count"] == N_THREADS * UPDATES * ROWS
    assert r["weight_sum"] == N_THREADS * UPDATES * ROWS
    one = fastloss.evaluate(x, t, topk=(1,))
    assert r["accuracy"] == one["accuracy"]  # every batch is the same: an exact ratio
    assert r["cross_entropy"] == pytest.approx(one["cross_entropy"], rel=1e-12)


@pytest.fixture
def slow_merge(monkeypatch):
    """Yield the GIL in the middle of every merge of sums or statistics: a state read before
    the merge and written after it is then overwritten by other threads unless it is locked."""
    merge = _core.merge_regression_stats

    def yielding_merge(a, b):
        time.sleep(0)
        return merge(a, b)

    monkeypatch.setattr(_core, "merge_regression_stats", yielding_merge)
    add = fastloss.Evaluator._add

    def yielding_add(a, b):
        time.sleep(0)
        return add(a, b)

    monkeypatch.setattr(fastloss.Evaluator, "_add", staticmethod(yielding_add))


def test_regression_evaluator_counts_every_update(slow_merge):
    rng = np.random.default_rng(1)
    x = rng.normal(size=ROWS).astype(np.float32)
    y = rng.normal(size=ROWS).astype(np.float32)
    ev = fastloss.RegressionEvaluator()

    def work():
        for _ in range(UPDATES):
            ev.update(x, y, sample_weight=np.full(ROWS, 0.5, np.float32))

    _run([work] * N_THREADS)
    r = ev.result()
    assert r["count"] == N_THREADS * UPDATES * ROWS
    assert r["weight_sum"] == N_THREADS * UPDATES * ROWS * 0.5
    one = fastloss.RegressionEvaluator().update(x, y).result()
    assert r["mse"] == pytest.approx(one["mse"], rel=1e-12)
    assert r["r2"] == pytest.approx(one["r2"], rel=1e-9)


def test_large_updates_from_threads_are_all_counted(slow_merge):
    """Batches large enough that the kernel runs with the GIL released."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20_000, 8)).astype(np.float32)
    t = rng.integers(0, 8, size=20_000)
    ev, rev = fastloss.Evaluator(topk=(1, 3)), fastloss.RegressionEvaluator()
    xr = rng.normal(size=40_000)
    yr = rng.normal(size=40_000)

    def work():
        for _ in range(20):
            ev.update(x, t)
            rev.update(xr, yr)

    _run([work] * N_THREADS)
    assert ev.result()["count"] == N_THREADS * 20 * 20_000
    assert rev.result()["count"] == N_THREADS * 20 * 40_000


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_concurrent_merge_result_and_pickle(kind, slow_merge):
    """Threads update one evaluator while others merge into it, merge it into theirs, read
    its result and pickle it; every count stays a whole number of batches and the final
    count is exact."""
    if kind == "classification":
        x, t = _classification_batch()
        make = lambda: fastloss.Evaluator(topk=(1,))  # noqa: E731
        update = lambda e: e.update(x, t)  # noqa: E731
    else:
        x = np.linspace(-1, 1, ROWS)
        t = x[::-1].copy()
        make = fastloss.RegressionEvaluator
        update = lambda e: e.update(x, t)  # noqa: E731
    shared = make()
    n_sources, per_source = 50, 10
    sources = [make() for _ in range(n_sources)]
    for s in sources:
        for _ in range(per_source):
            update(s)
    seen: list[int] = []
    stop = threading.Event()

    def updater():
        for _ in range(UPDATES):
            update(shared)

    def merger():
        for s in sources:
            shared.merge(s)
            make().merge(shared)  # reads shared while others write it

    def reader():
        while not stop.is_set():
            seen.append(shared.result()["count"])
            clone = pickle.loads(pickle.dumps(shared))
            seen.append(clone.result()["count"])
            seen.append(copy.deepcopy(shared).result()["count"])

    reader_thread = threading.Thread(target=reader)
    reader_thread.start()
    try:
        _run([updater, updater, merger])
    finally:
        stop.set()
        reader_thread.join(60)
    total = (2 * UPDATES + n_sources * per_source) * ROWS
    assert shared.result()["count"] == total
    assert seen and all(c % ROWS == 0 and 0 <= c <= total for c in seen)
    clone = pickle.loads(pickle.dumps(shared))
    update(clone)  # the unpickled evaluator has a lock of its own and still works
    assert clone.result()["count"] == total + ROWS


def test_merge_both_ways_at_once_does_not_deadlock():
    x, t = _classification_batch()
    a, b = fastloss.Evaluator(topk=(1,)), fastloss.Evaluator(topk=(1,))
    a.update(x, t)
    b.update(x, t)

    def ab():
        for _ in range(500):
            a.merge(b)

    def ba():
        for _ in range(500):
            b.merge(a)

    _run([ab, ba])  # a deadlock would leave the workers alive and fail there
    assert a.result()["count"] % ROWS == 0 and b.result()["count"] % ROWS == 0


def test_class_count_race_is_checked_under_the_lock():
    """Two threads start a fresh evaluator with different class counts: one wins, the other
    raises, and the state holds the winner's batches only."""
    for _ in range(20):
        ev = fastloss.Evaluator(topk=(1,))
        batches = [(np.zeros((2, 3)), np.array([0, 1])), (np.zeros((2, 4)), np.array([0, 1]))]
        outcomes: list[str] = []

        def work(b, ev=ev, outcomes=outcomes):
            def run():
                try:
                    ev.update(*b)
                    outcomes.append("ok")
                except ValueError as exc:
                    assert "classes" in str(exc)
                    outcomes.append("raised")

            return run

        _run([work(b) for b in batches])
        assert sorted(outcomes) == ["ok", "raised"]
        assert ev.result()["count"] == 2
        assert ev.n_classes in (3, 4)


@pytest.mark.parametrize("make", [fastloss.Evaluator, fastloss.RegressionEvaluator])
def test_pickled_state_has_no_lock(make):
    ev = make()
    assert "_lock" not in ev.__getstate__()
    clone = pickle.loads(pickle.dumps(ev))
    assert clone._lock is not ev._lock
