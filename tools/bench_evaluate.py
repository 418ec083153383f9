"""Quick A/B timing: fastloss.evaluate against cross_entropy alone, interleaved.

    PYTHONPATH=build/NAME/site python3 tools/bench_evaluate.py [ROUNDS]

Each round times cross_entropy, evaluate (topk=(1, 5)) and, if installed, torch computing the
same metrics with its own ops, in one process on the same float32 inputs (the bench's
N=256xC=128256 and N=32768xC=1000, normal std 2.5, random targets); printed: medians of the
per-round times and of the per-round ratios, at 1 and 2 threads. Targets:
evaluate <= 1.3x cross_entropy, >= 3x faster than torch. bench/run.py --only evaluate gives
the same with the physical limit and every peer.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time

import numpy as np

import fastloss

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None


def seconds(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def torch_metrics(x, t):
    with torch.inference_mode():
        ce = F.cross_entropy(x, t)
        hit = x.topk(5, dim=-1).indices == t[:, None]
        a1, a5 = hit[:, 0].float().mean(), hit.any(1).float().mean()
        lp = torch.log_softmax(x, -1)
        return ce, a1, a5, -(lp.exp() * lp).sum(-1).mean()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    rng = np.random.default_rng(0)
    for n, c in [(256, 128256), (32768, 1000)]:
        x = rng.standard_normal((n, c), dtype=np.float32) * np.float32(2.5)
        t = rng.integers(0, c, n)
        for th in (1, 2):
            fastloss.set_num_threads(th)
            calls = {
                "ce": functools.partial(fastloss.cross_entropy, x, t),
                "eval": functools.partial(fastloss.evaluate, x, t, topk=(1, 5)),
            }
            if torch is not None:
                torch.set_num_threads(th)
                calls["torch"] = functools.partial(
                    torch_metrics, torch.from_numpy(x), torch.from_numpy(t)
                )
            for f in calls.values():
                f()
            times = {k: [] for k in calls}
            for r in range(rounds):
                names = list(calls)[r % len(calls) :] + list(calls)[: r % len(calls)]
                for k in names:
                    if k == "torch" and r >= 3:
                        continue  # slow: three rounds are enough
                    times[k].append(seconds(calls[k]))
            med = {k: statistics.median(v) for k, v in times.items()}
            ratio = statistics.median(
                e / c for e, c in zip(times["eval"], times["ce"], strict=True)
            )
            line = (
                f"{n}x{c} t{th}: ce {med['ce'] * 1e3:.2f} ms, evaluate {med['eval'] * 1e3:.2f} ms"
                f" ({ratio:.2f}x ce)"
            )
            if "torch" in med:
                line += f", torch {med['torch'] * 1e3:.1f} ms ({med['torch'] / med['eval']:.1f}x)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
