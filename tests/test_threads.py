"""set_num_threads / get_num_threads / threads(n), and the GIL released during kernels."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastloss
from fastloss import _core


@pytest.fixture
def restore_process_threads():
    yield
    _core._set_num_threads(0)  # back to "not set": the default applies


def test_default_follows_omp_num_threads():
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", "import fastloss; print(fastloss.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "3"


def test_default_without_env_is_the_affinity():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", "import fastloss; print(fastloss.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True, timeout=120)
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert out.stdout.strip() == str(expected)


def test_set_and_context(restore_process_threads):
    fastloss.set_num_threads(3)
    assert fastloss.get_num_threads() == 3
    with fastloss.threads(1):
        assert fastloss.get_num_threads() == 1
        with fastloss.threads(2):
            assert fastloss.get_num_threads() == 2
        assert fastloss.get_num_threads() == 1
    assert fastloss.get_num_threads() == 3


def test_context_is_per_python_thread(restore_process_threads):
    fastloss.set_num_threads(2)
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def worker():
        with fastloss.threads(1):
            entered.set()
            release.wait(10)
            seen["worker"] = fastloss.get_num_threads()

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(10)
    seen["main"] = fastloss.get_num_threads()
    release.set()
    t.join()
    assert seen == {"worker": 1, "main": 2}


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_bad_counts_raise(bad):
    with pytest.raises(ValueError, match="positive integer"):
        fastloss.set_num_threads(bad)
    with pytest.raises(ValueError, match="positive integer"):
        with fastloss.threads(bad):
            pass


def test_concurrent_callers_agree():
    """Several Python threads call kernels at once (GIL released): same results as serial."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=300_001).astype(np.float32)
    y = rng.normal(size=300_001).astype(np.float32)
    expected = fastloss.mse_loss(x, y)
    results = []

    def worker(n):
        with fastloss.threads(n):
            for _ in range(20):
                results.append(fastloss.mse_loss(x, y))

    workers = [threading.Thread(target=worker, args=(1 + i % 2,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 80 and all(r == expected for r in results)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_forked_child_runs_serially_and_does_not_hang():
    code = (
        "import os, numpy as np, fastloss\n"
        "x = np.ones(1 << 20, np.float32)\n"
        "with fastloss.threads(2): fastloss.mse_loss(x, x)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = fastloss.get_num_threads() == 1 and fastloss.mse_loss(x, 2 * x) == 1\n"
        "    os._exit(0 if ok else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=120)
    assert out.stdout.strip() == "0"
