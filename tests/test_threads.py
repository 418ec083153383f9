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
from fastloss._threads import MAX_THREADS


@pytest.fixture
def restore_process_threads():
    yield
    _core._set_num_threads(0)  # back to "not set": the default applies


def test_default_follows_omp_num_threads():
    out = _import_in_child("3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "3"


def test_default_without_env_is_the_affinity():
    out = _import_in_child(None)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == str(_cpus())


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
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "0"


def _import_in_child(omp_num_threads: str | None) -> subprocess.CompletedProcess:
    """A child that imports fastloss with OMP_NUM_THREADS set (None: unset) and prints its
    thread count and one threaded result."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp_num_threads is not None:
        env["OMP_NUM_THREADS"] = omp_num_threads
    code = (
        "import fastloss, numpy as np; print(fastloss.get_num_threads()); "
        "print(fastloss.mse_loss(np.ones(1 << 17), np.zeros(1 << 17)))"
    )
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.mark.parametrize(
    "value", [str(2**31), str(2**63), str(2**64 + 5), "abc", "-3", "0", "1e3", "2.5", "\u0663"]
)
def test_bad_omp_num_threads_warns_and_import_works(value):
    out = _import_in_child(value)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(_cpus()), "1.0"]
    assert "RuntimeWarning" in out.stderr and f"OMP_NUM_THREADS={value!r}" in out.stderr


def test_omp_num_threads_far_above_the_cpus_is_capped():
    out = _import_in_child(str(10**6))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(MAX_THREADS), "1.0"]
    assert "RuntimeWarning" in out.stderr and "1000000" in out.stderr


def test_max_threads_bound():
    assert MAX_THREADS == max(64, 4 * (os.cpu_count() or 1))


@pytest.mark.parametrize("n", [2**31, 2**31 + 1, 2**63, 2**70])
def test_counts_beyond_a_c_int_raise_value_error(n, restore_process_threads):
    with pytest.raises(
        ValueError,
        match=rf"set_num_threads: the thread count must be below "
        rf"2\*\*31; got {n}",
    ):
        fastloss.set_num_threads(n)
    with pytest.raises(
        ValueError,
        match=rf"threads: the thread count must be below 2\*\*31; "
        rf"got {n}",
    ):
        with fastloss.threads(n):
            pass


def test_counts_far_above_the_cpus_are_capped_with_a_warning(restore_process_threads):
    bound = MAX_THREADS
    with pytest.warns(
        RuntimeWarning,
        match=rf"set_num_threads: thread count {bound + 1} is "
        rf"above fastloss's bound of {bound} threads",
    ):
        fastloss.set_num_threads(bound + 1)
    assert fastloss.get_num_threads() == bound
    with pytest.warns(RuntimeWarning, match=rf"threads: thread count {2**31 - 1} .* {bound}"):
        with fastloss.threads(2**31 - 1):
            assert fastloss.get_num_threads() == bound
            x = np.ones(1 << 16, np.float32)
            assert fastloss.mse_loss(x, x) == 0
    # The bound itself, and oversubscription below it, run as asked without a warning.
    fastloss.set_num_threads(bound)
    assert fastloss.get_num_threads() == bound
    with fastloss.threads(3):
        assert fastloss.get_num_threads() == 3
