"""Half-precision inputs are read in place: no copy the size of the input (docs/numerics.md,
"Half precision").

Each case runs in a child process: it makes a large half-precision input, notes the peak
resident memory, calls the function and notes the peak again. A float32 copy of the input
would add twice the input's bytes; the kernels' own scratch is a few rows, so the growth
must stay far below one input's bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

resource = pytest.importorskip("resource", reason="getrusage's peak resident size is POSIX")

# The input's bytes; a float32 copy would add 2x that.
INPUT_MB = 64
CHILD = """
import json, resource, sys
import numpy as np
import fastloss as fl

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux

kind, fn = sys.argv[1], sys.argv[2]
rows, classes = 1024, 32768  # 2^25 half values: 64 MB
rng = np.random.default_rng(0)
t = rng.integers(0, classes, rows)
if kind == "float16":
    dtype = np.dtype(np.float16)
else:
    import ml_dtypes
    dtype = np.dtype(ml_dtypes.bfloat16)
# Filled a few rows at a time: a whole float32 array first would raise the peak this test reads.
x = np.empty((rows, classes), dtype)
for r in range(0, rows, 16):
    x[r : r + 16] = rng.standard_normal((16, classes), dtype=np.float32).astype(dtype)
if kind == "torch":  # torch bfloat16, read through DLPack; requires_grad read detached
    import torch
    x = torch.from_numpy(x.view(np.uint16)).view(torch.bfloat16).requires_grad_(True)
    t = torch.from_numpy(t)
y = None
if fn == "bce_with_logits":
    y = (x > 0) if kind == "torch" else x  # same dtype as x
    if kind == "torch":
        y = y.to(torch.bfloat16)
calls = {
    "cross_entropy": lambda x, t, y: fl.cross_entropy(x, t),
    "cross_entropy_none": lambda x, t, y: fl.cross_entropy(x, t, reduction="none"),
    "evaluate": lambda x, t, y: fl.evaluate(x, t, topk=(1, 5)),
    "logsumexp": lambda x, t, y: fl.logsumexp(x, axis=-1),
    "mse": lambda x, t, y: fl.mse_loss(x, x),
    "bce_with_logits": lambda x, t, y: fl.binary_cross_entropy_with_logits(x, y),
    "softmax": lambda x, t, y: fl.softmax(x),
}
# The first call on two rows: lazy imports and thread start-up, not the measured peak.
calls[fn](x[:2], t[:2], None if y is None else y[:2])
before = peak_mb()
result = calls[fn](x, t, y)
grown = peak_mb() - before
out_mb = 0.0
if fn == "softmax":
    out_mb = INPUT_MB  # the result itself is input-sized, in the input's dtype
print(json.dumps({"grown": grown, "result_mb": out_mb}))
""".replace("INPUT_MB", str(INPUT_MB))

CASES = [
    ("float16", "cross_entropy"),
    ("float16", "mse"),
    ("float16", "softmax"),
    ("bfloat16", "cross_entropy"),
    ("bfloat16", "cross_entropy_none"),
    ("bfloat16", "evaluate"),
    ("bfloat16", "logsumexp"),
    ("bfloat16", "bce_with_logits"),
    ("torch", "cross_entropy"),
]


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux only")
@pytest.mark.parametrize(("kind", "fn"), CASES)
def test_no_input_sized_copy(kind, fn):
    if kind == "bfloat16":
        pytest.importorskip("ml_dtypes", reason="bfloat16 NumPy arrays need ml_dtypes")
    if kind == "torch":
        pytest.importorskip("torch", reason="the DLPack case reads a torch bfloat16 tensor")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, fn],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    child = json.loads(out.stdout)
    # A float32 copy would add 2 * INPUT_MB; the result (softmax) is the input's size.
    allowed = child["result_mb"] + INPUT_MB / 4
    assert child["grown"] < allowed, (
        f"{fn}({kind}): peak memory grew {child['grown']:.0f} MB over the call (input "
        f"{INPUT_MB} MB; allowed {allowed:.0f} MB)"
    )
