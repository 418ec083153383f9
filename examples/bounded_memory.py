"""Evaluate logits stored in a file larger than the memory this process may use.

Writes a file of N x C float32 logits (default 1.5 GB) into a temporary directory, then, in
a child process whose address space is capped below the file's size
(``resource.setrlimit(RLIMIT_AS)``), streams it through ``fastloss.evaluate_chunked`` with a
``fastloss.FileArray``. Loading the file whole would fail there; the chunked pass holds one
chunk at a time and gives the metrics of the whole file. Linux and macOS (POSIX rlimits).

    python examples/bounded_memory.py [--gb 1.5] [--cap-mb 700]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = """
import resource, sys, time, numpy as np, fastloss
path, n, c, cap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    np.fromfile(path, dtype=np.float32)  # the whole file: must not fit under the cap
    print("loading the whole file: succeeded (the cap is too high to show anything)")
except MemoryError:
    print("loading the whole file: MemoryError, as expected under the cap")
logits = fastloss.FileArray(path, np.float32, (n, c))
target = fastloss.FileArray(path + ".target", np.int64, (n,))
start = time.perf_counter()
ev = fastloss.evaluate_chunked(fastloss.Evaluator(topk=(1, 5)), logits, target, rows_per_chunk=4096)
seconds = time.perf_counter() - start
peak_kb = (
    int(open("/proc/self/status").read().split("VmPeak:")[1].split()[0])
    if sys.platform == "linux"
    else -1
)
print(f"chunked evaluation: {seconds:.2f} s, peak address space {peak_kb / 1024:.0f} MB")
for key, value in ev.result().items():
    print(f"  {key:<16} {value}")
"""


def write_file(path: str, n: int, c: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    rows = 8192
    with open(path, "wb") as f, open(path + ".target", "wb") as t:
        for start in range(0, n, rows):
            m = min(rows, n - start)
            rng.normal(0.0, 3.0, (m, c)).astype(np.float32).tofile(f)
            rng.integers(0, c, m).astype(np.int64).tofile(t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.5, help="size of the logits file")
    parser.add_argument("--cap-mb", type=int, default=700, help="address-space cap of the child")
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args(argv)
    c = args.classes
    n = int(args.gb * 1e9) // (4 * c)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "logits.f32")
        write_file(path, n, c)
        size_mb = os.path.getsize(path) / 2**20
        print(
            f"logits file: {n} x {c} float32 = {size_mb:.0f} MB; child capped at {args.cap_mb} MB"
        )
        out = subprocess.run(
            [sys.executable, "-c", CHILD, path, str(n), str(c), str(args.cap_mb * 2**20)],
            capture_output=True,
            text=True,
        )
        print(out.stdout, end="")
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
        return out.returncode


if __name__ == "__main__":
    raise SystemExit(main())
