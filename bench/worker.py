"""Measure the selected workloads at one thread count, in one process (started by run.py).

One process per thread count, because JAX fixes its thread pool when it starts. The process
is pinned to as many CPUs as it has threads, before anything starts a thread pool: that
is what holds every peer (XLA included, which in recent versions ignores its thread
flags) to the same thread count. Results go to a JSON-lines file, one record per workload,
so a crash in one workload loses only that one.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import hashlib
import importlib
import inspect
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def pin(threads: int) -> list[int] | None:
    """Restrict this process to ``threads`` CPUs; None when it has no more than that."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if threads >= len(cpus):
        return None
    os.sched_setaffinity(0, cpus[:threads])
    return cpus[:threads]


class Progress:
    """A one-line progress bar on stderr (rewritten in place on a terminal)."""

    def __init__(self, done: int, total: int, threads: int) -> None:
        self.done, self.total, self.threads = done, total, threads
        self.tty = sys.stderr.isatty()
        self.width = 0

    def show(self, name: str, detail: str) -> None:
        if not self.tty:
            return
        filled = round(24 * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (24 - filled)
        line = f"[{bar}] {self.done}/{self.total}  t={self.threads}  {name}  {detail}"
        pad = max(0, self.width - len(line))
        self.width = len(line)
        sys.stderr.write("\r" + line + " " * pad)
        sys.stderr.flush()

    def finished(self, name: str, summary: str) -> None:
        self.done += 1
        if self.tty:
            self.show(name, summary)
        else:
            sys.stderr.write(f"[{self.done}/{self.total}] t={self.threads} {name}: {summary}\n")
            sys.stderr.flush()


class Context:
    """What every workload needs: libraries, probes, cache and settings."""

    def __init__(self, cfg: dict[str, Any], fl: Any, pinned: list[int] | None) -> None:
        import inputs
        import limits
        import memory
        import peers

        self.cfg = cfg
        self.threads = int(cfg["threads"])
        self.fl = fl
        self.fastloss = peers.Fastloss(fl)
        self.fastloss.set_threads(self.threads)
        wanted = set(cfg["peers"])
        self.peers = [p for p in peers.all_peers(fl) if p.name in wanted and p.load()]
        for p in self.peers:
            p.set_threads(self.threads)
        self.probes = limits.Probes(getattr(fl, "_core", None), self.threads)
        self.meter = memory.PeakMeter()
        cache_dir = cfg.get("cache")
        root = Path(cache_dir) if cache_dir else None
        self.cache = inputs.Cache(root / f"inputs-v{inputs.VERSION}" if root else None)
        # Reference results live beside the hash of reference.py; older ones are stale.
        ref_dir = f"reference-{_reference_hash(fl)}"
        self.ref_cache = inputs.Cache(root / ref_dir if root else None)
        if root is not None and root.is_dir():
            for old in root.iterdir():
                if old.name != ref_dir and old.name.startswith("reference-"):
                    shutil.rmtree(old, ignore_errors=True)
        self.pinned = pinned
        self.isa = isa_plan(getattr(fl, "_core", None), cfg.get("isa") or [])

    def env(self) -> dict[str, Any]:
        fl = self.fl
        info: dict[str, Any] = {
            "threads": self.threads,
            "pinned_cpus": self.pinned,
            "fastloss": {
                "version": self.fastloss.version(),
                "path": getattr(fl, "__file__", None),
            },
            "peers": {p.name: p.version() for p in self.peers},
            "probes_missing": list(self.probes.missing),
            "memory_method": self.meter.method,
            "isa": self.isa,
        }
        for name in ("simd_backend", "get_num_threads"):
            fn = getattr(fl, name, None)
            with contextlib.suppress(Exception):
                info["fastloss"][name] = fn() if fn else None
        core = getattr(fl, "_core", None)
        for name in ("compiled_backends", "supported_backends"):
            fn = getattr(core, name, None)
            with contextlib.suppress(Exception):
                info["fastloss"][name] = list(fn()) if fn else None
        return info


# "all" leaves scalar out: it runs ~10x slower than any SIMD path and would eat the budget
# without telling anything the SIMD ones do not; ask for it by name.
ALL_ISA_EXCEPT = ("scalar",)


def isa_plan(core: Any, wanted: list[str]) -> dict[str, Any]:
    """Which instruction sets to time beside the default choice, and which are missing."""
    default = getattr(core, "simd_backend", lambda: None)()
    supported = list(getattr(core, "supported_backends", list)())
    compiled = list(getattr(core, "compiled_backends", lambda: supported)())
    if "all" in wanted:
        wanted = [b for b in compiled if b not in ALL_ISA_EXCEPT] + wanted
    wanted = list(dict.fromkeys(b for b in wanted if b != "all"))
    names = [b for b in supported if b in wanted]  # best first
    missing = [b for b in wanted if b not in supported]
    # The default's own ISA is the "fastloss" entry; the others are timed forced.
    forced = [b for b in names if b != default]
    return {"default": default, "supported": supported, "forced": forced, "missing": missing}


@contextlib.contextmanager
def backend(core: Any, name: str) -> Iterator[None]:
    """Run fastloss under the instruction set ``name``, then restore the one before."""
    before = core.simd_backend()
    core._set_backend(name)
    try:
        yield
    finally:
        core._set_backend(before)


def _reference_hash(fl: Any) -> str:
    """Reference results are cached on disk; a change to reference.py invalidates them."""
    try:
        ref = importlib.import_module(fl.__name__ + ".reference")
        src = Path(inspect.getsourcefile(ref) or "").read_bytes()
    except (ImportError, TypeError, OSError):
        return "none"
    return hashlib.sha1(src).hexdigest()[:12]


def measure(w: Any, ctx: Context, progress: Progress) -> dict[str, Any]:
    import numpy as np

    import checks
    import inputs
    import limits
    import timing

    cfg = ctx.cfg
    rec: dict[str, Any] = {
        "workload": w.name,
        "op": w.op,
        "shape": list(w.shape),
        "dtype": w.dtype,
        "options": w.kwargs,
        "threads": ctx.threads,
        "small": w.small,
        "n_exp": w.n_exp,
        "skipped": None,
        "checks": {},
        "errors": {},
        "memory": {},
        "times": {},
        "speedup": {},
        "limit": {},
        "baseline": {},
        "peer_bounds": w.peer_targets,
        "absent": {},
    }
    missing = ctx.fastloss.missing(w) or inputs.dtype_missing(w.dtype)
    if missing:
        rec["skipped"] = missing
        return rec

    progress.show(w.name, "inputs")
    arrays = inputs.make_inputs(w, ctx.cache)
    out = None
    if w.writes:
        # Not np.zeros: calloc'd pages are first touched by the first call, whose peak
        # memory would then count the buffer.
        out = np.empty(w.shape, dtype=inputs.numpy_dtype(w.dtype))
        out.fill(0)
    rec["bytes_in"] = limits.input_bytes(w, arrays)
    rec["bytes_out"] = out.nbytes if out is not None else 0
    rec["bytes"] = rec["bytes_in"] + rec["bytes_out"]

    progress.show(w.name, "reference")
    reference = None
    ref_call = ctx.fastloss.reference(w, arrays)
    if ref_call is not None:
        try:
            reference = ctx.ref_cache.get(
                f"v{inputs.VERSION}-{w.name}", lambda: checks.as_reference(ref_call())
            )
        except Exception as exc:  # a reference still being written must not stop the suite
            rec["errors"]["reference"] = f"{type(exc).__name__}: {exc}"

    # The first call of each candidate (after JAX's compiling one) is the warm-up, the
    # check against the reference and the peak-memory measurement at once.
    calls: dict[str, Any] = {}
    for peer in [ctx.fastloss, *ctx.peers]:
        why = peer.absent(w)
        if why:
            rec["absent"][peer.name] = why
            continue
        progress.show(w.name, f"check {peer.name}")
        try:
            call = peer.prepare(w, arrays, out)
            if call is None:
                continue
            for _ in range(peer.warm_calls):
                call()
            if cfg.get("memory", True):
                result, peak = ctx.meter.measure(call, numpy_only=peer.numpy_only)
                extra = None if peak is None else max(0, peak - peer.new_bytes(result, out))
                rec["memory"][peer.name] = extra
            else:
                result = call()
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            rec["checks"][peer.name] = checks.Check("error", message=msg).as_dict()
            if peer is ctx.fastloss:
                rec["skipped"] = f"fastloss.{w.op} raised {msg}"
                return rec
            continue
        rec["checks"][peer.name] = checks.compare(w, peer.to_numpy(result), reference).as_dict()
        del result
        calls[peer.name] = call

    core = getattr(ctx.fl, "_core", None)
    for isa in ctx.isa["forced"] if "fastloss" in calls else []:
        # The same call under a forced instruction set, checked like any candidate.
        name = f"fastloss@{isa}"
        try:
            with backend(core, isa):
                result = calls["fastloss"]()
            check = checks.compare(w, ctx.fastloss.to_numpy(result), reference)
        except Exception as exc:
            check = checks.Check("error", message=f"{type(exc).__name__}: {exc}"[:300])
        rec["checks"][name] = check.as_dict()
        if check.status != "error":
            calls[name] = calls["fastloss"]

    # Peers that are slow drop out of the rounds once they have min_rounds samples and
    # their share of the budget; fastloss and the limit probes run every round.
    entries = {
        n: timing.Timed(c, core=n.startswith("fastloss"))
        for n, c in calls.items()
        if not n.startswith("fastloss@")
    }
    for isa in ctx.isa["forced"]:
        if f"fastloss@{isa}" in calls:
            # In the same rounds as the default: default / forced is a per-round ratio.
            entries[f"fastloss@{isa}"] = timing.Timed(
                calls["fastloss"], core=True, context=functools.partial(backend, core, isa)
            )
    base_fn = getattr(ctx.fl, w.baseline, None) if w.baseline else None
    if base_fn is not None:
        # Sampled every round next to fastloss: xbase is a per-round ratio like xlimit.
        base_call = functools.partial(base_fn, *(arrays[a] for a in w.args))
        try:
            base_call()
            entries["baseline"] = timing.Timed(base_call, core=True)
        except Exception as exc:
            rec["errors"]["baseline"] = f"{w.baseline}: {type(exc).__name__}: {exc}"
    one_thread = getattr(ctx.fl, "threads", None)
    if ctx.threads > 1 and "fastloss" in calls and one_thread is not None:
        # fastloss at one thread in the same rounds: "two threads are not slower than one" is
        # then a per-round ratio in one process, not two workers' medians minutes apart.
        entries["fastloss_1t"] = timing.Timed(
            calls["fastloss"], core=True, context=lambda: one_thread(1)
        )
    moved = 0
    if w.small:
        noop = ctx.probes.noop()
        if noop is not None:
            entries["noop"] = timing.Timed(noop, core=True)
    else:
        mem_probe, moved = ctx.probes.memory(w, arrays)
        if mem_probe is not None:
            mem_probe()  # first touch of the probe's own buffers
            entries["limit_mem"] = timing.Timed(mem_probe, core=True)
        exp_probe = ctx.probes.exp(w)
        if exp_probe is not None:
            exp_probe()
            entries["limit_exp"] = timing.Timed(exp_probe, core=True)
    if w.small:
        for entry in entries.values():
            entry.inner = timing.calibrate(entry, cfg["small_sample_s"])

    times = timing.run_rounds(
        entries,
        budget_s=cfg["budget_s"],
        min_rounds=cfg["min_rounds"],
        max_rounds=cfg["max_rounds"],
        settle_s=cfg["settle_s"],
        on_round=lambda r: progress.show(w.name, f"round {r}"),
    )
    rec["rounds"] = len(times["fastloss"])
    rec["load"], rec["busy"] = _load(ctx.threads, int(cfg.get("cpus", ctx.threads)))
    rec["times"] = {n: timing.summary(v) for n, v in times.items()}
    rec["samples"] = times  # per-round seconds per call, for a later look at the noise
    fl_times = times["fastloss"]
    if "fastloss_1t" in times:
        rec["vs_one_thread"] = timing.ratio_median(fl_times, times["fastloss_1t"])
    for name in calls:
        if not name.startswith("fastloss"):
            rec["speedup"][name] = timing.ratio_median(times[name], fl_times)
    forced = [i for i in ctx.isa["forced"] if f"fastloss@{i}" in times]
    if forced:
        order = ctx.isa["supported"]
        default = ctx.isa["default"]
        rec["isa"] = {
            "default": default,
            # Forced ISAs below the default in the CPU's best-first list: it must not lose to them.
            "lower": [
                i for i in forced if default in order and order.index(i) > order.index(default)
            ],
            "median_s": {
                ctx.isa["default"]: rec["times"]["fastloss"]["median"],
                **{i: rec["times"][f"fastloss@{i}"]["median"] for i in forced},
            },
            # default time / forced time per round: above 1, the default choice is slower.
            "default_over": {
                i: timing.ratio_median(fl_times, times[f"fastloss@{i}"]) for i in forced
            },
        }
    if "baseline" in times:
        rec["baseline"] = {
            "op": w.baseline,
            "x": timing.ratio_median(fl_times, times["baseline"]),
            "bound": w.baseline_bound,
        }

    if w.small and "noop" in times:
        overheads = [a - b for a, b in zip(fl_times, times["noop"], strict=False)]
        rec["limit"] = {
            "kind": "call",
            "noop_s": timing.summary(times["noop"])["median"],
            "overhead_s": timing.summary(overheads)["median"],
        }
    elif "limit_mem" in times or "limit_exp" in times:
        n = len(fl_times)
        mem = times.get("limit_mem", [0.0] * n)
        exp = times.get("limit_exp", [0.0] * n)
        limit = [max(a, b) for a, b in zip(mem, exp, strict=False)]
        mem_s = timing.summary(mem)["median"]
        exp_s = timing.summary(exp)["median"]
        factor = 2 if w.dtype == "float64" else 1
        rec["limit"] = {
            "kind": "stream",
            "x": timing.ratio_median(fl_times, limit),
            "limit_s": timing.summary(limit)["median"],
            "mem_s": mem_s if "limit_mem" in times else None,
            "exp_s": exp_s if "limit_exp" in times else None,
            "bound": "exp" if exp_s > mem_s else "mem",
            "probe_bytes": moved,
            "probe_gbps": moved / mem_s / 1e9 if mem_s else None,
            "exp_per_s": w.n_exp * factor / exp_s if exp_s else None,
        }
    return rec


def _load(threads: int, cpus: int) -> tuple[float | None, bool]:
    """The 1-minute load average after the rounds, and whether other work exceeded the
    CPUs this worker left free (this worker's own threads count ``threads`` of it; with
    none left free, half a CPU of other work is tolerated)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None, False
    return load, load - threads > max(cpus - threads, 0.5)


def _summary_text(rec: dict[str, Any]) -> str:
    if rec.get("skipped"):
        return f"skipped ({rec['skipped']})"
    t = rec["times"]["fastloss"]["median"]
    text = f"{t * 1e3:.3f} ms" if t >= 1e-4 else f"{t * 1e6:.2f} us"
    x = rec["limit"].get("x")
    return text + (f", {x:.2f}x limit" if x else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True, help="JSON written by run.py")
    ap.add_argument("--out", required=True, help="JSON-lines file to append results to")
    args = ap.parse_args(argv)
    cfg = json.loads(Path(args.config).read_text())
    pinned = pin(int(cfg["threads"])) if cfg.get("pin", True) else None

    import fastloss
    import workloads

    ctx = Context(cfg, fastloss, pinned)
    # torch and JAX leave ~10^6 objects behind; frozen, they are no longer traversed by the
    # gc.collect() before each memory measurement (0.4 s each otherwise).
    gc.collect()
    gc.freeze()
    progress = Progress(int(cfg["progress_done"]), int(cfg["progress_total"]), ctx.threads)
    skip = set(cfg.get("skip", []))
    with open(args.out, "a") as out, contextlib.ExitStack() as stack:
        for peer in ctx.peers:
            stack.enter_context(peer.context())

        def emit(record: dict[str, Any]) -> None:
            out.write(json.dumps(record, default=_jsonable) + "\n")
            out.flush()

        emit({"event": "env", **ctx.env()})
        for w in workloads.by_name(cfg["workloads"]):
            if w.name in skip:
                continue
            emit({"event": "start", "workload": w.name, "threads": ctx.threads})
            t0 = time.perf_counter()
            try:
                rec = measure(w, ctx, progress)
            except Exception as exc:  # report and go on with the next workload
                rec = {
                    "workload": w.name,
                    "threads": ctx.threads,
                    "skipped": f"bench error: {type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                }
            rec["wall_s"] = time.perf_counter() - t0
            emit({"event": "result", **rec})
            progress.finished(w.name, _summary_text(rec))
            ctx.cache.forget()
            ctx.ref_cache.forget()
    return 0


def _jsonable(obj: object) -> object:
    if hasattr(obj, "item"):
        return obj.item()  # NumPy scalars
    return str(obj)


if __name__ == "__main__":
    sys.exit(main())
