"""Evaluating a file larger than the process's memory cap (docs/semantics.md).

A child process under ``RLIMIT_AS`` smaller than the logits file cannot load it, yet
``evaluate_chunked`` over a ``FileArray`` gives the metrics of the whole file, equal to one
``evaluate`` call made without the cap.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastloss

resource = pytest.importorskip("resource", reason="POSIX rlimits are needed for the memory cap")

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "bounded_memory.py"
CHILD = """
import json, resource, sys, numpy as np, fastloss
path, n, c, cap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    np.fromfile(path, dtype=np.float32)
    loaded = True
except MemoryError:
    loaded = False
ev = fastloss.evaluate_chunked(fastloss.Evaluator(topk=(1, 5)),
                               fastloss.FileArray(path, np.float32, (n, c)),
                               fastloss.FileArray(path + ".target", np.int64, (n,)),
                               rows_per_chunk=2048)
print(json.dumps({"loaded": loaded, "result": ev.result()}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="address-space caps are reliable on Linux only")
def test_file_larger_than_the_cap(tmp_path):
    spec = importlib.util.spec_from_file_location("bounded_memory", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    n, c = 96_000, 1000  # 384 MB of logits
    path = str(tmp_path / "logits.f32")
    example.write_file(path, n, c)
    cap = 330 * 2**20
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path, str(n), str(c), str(cap)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    child = json.loads(out.stdout)
    assert not child["loaded"], (
        "the cap must be below the file's size for this test to mean anything"
    )
    logits = np.memmap(path, dtype=np.float32, mode="r", shape=(n, c))
    target = np.fromfile(path + ".target", dtype=np.int64)
    whole = fastloss.evaluate(logits, target, topk=(1, 5))
    for key, value in whole.items():
        np.testing.assert_allclose(child["result"][key], value, rtol=1e-12, err_msg=key)
