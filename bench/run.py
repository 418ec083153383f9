"""Benchmark fastloss against its physical limit and against NumPy, PyTorch, JAX and SciPy.

    python bench/run.py                      # default suite, a few minutes
    python bench/run.py --quick              # under a minute
    python bench/run.py --only cross_entropy --threads 1,2 --json out.json --plot out.png
    python bench/run.py --isa all --threads 1   # each instruction set, side by side

Each thread count runs in its own worker process (bench/worker.py); see bench/README.md
for the method.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import inputs  # noqa: E402
import machine  # noqa: E402
import plot  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402

# flcalls: fastloss's separate calls for the metrics of evaluate (no other workload);
# astype: fastloss on a float32 copy of half-precision inputs (bf16/f16 workloads only).
ALL_PEERS = ("numpy", "torch", "torch.compile", "jax", "optax", "scipy", "flcalls", "astype")
# SciPy's softmax alone costs --quick 5 s; torch.compile ~10-30 s of compiling per workload.
QUICK_PEERS = ("numpy", "torch", "jax", "optax", "flcalls", "astype")
SETTINGS = {
    # budget_s: rounds go on until fastloss and the limit probes have run this long (and
    # at least min_rounds); each peer runs at most half of it beyond its min_rounds.
    # small_sample_s: the length of one sample of a tiny call (many calls per sample).
    "default": {"budget_s": 1.0, "min_rounds": 3, "max_rounds": 50, "small_sample_s": 2e-3},
    "quick": {"budget_s": 0.2, "min_rounds": 3, "max_rounds": 30, "small_sample_s": 1e-3},
}


def _load() -> float | None:
    """1-minute load average: a busy machine is named in the output, not hidden."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="a subset, fewer rounds: < 1 minute")
    ap.add_argument(
        "--only",
        metavar="PATTERN",
        help="comma-separated workload names, op names (cross_entropy) or globs ('mse*')",
    )
    ap.add_argument(
        "--threads",
        metavar="LIST",
        help="thread counts, e.g. 1,2 (default: 1 and every CPU available)",
    )
    ap.add_argument(
        "--dtype",
        metavar="LIST",
        help=f"run every selected workload in these dtypes ({','.join(workloads.DTYPES)});"
        " default: each workload's own",
    )
    ap.add_argument("--json", metavar="PATH", help="save machine, settings and results")
    ap.add_argument("--plot", metavar="PATH", help="save a PNG chart (needs matplotlib)")
    ap.add_argument(
        "--peers",
        help=f"peers to compare with (default: {','.join(ALL_PEERS)}; --quick: no scipy;"
        " 'none': fastloss and its limit only)",
    )
    ap.add_argument(
        "--budget", type=float, help="seconds of fastloss + limit-probe time per workload"
    )
    ap.add_argument("--min-rounds", type=int)
    ap.add_argument("--max-rounds", type=int)
    ap.add_argument(
        "--isa",
        metavar="LIST",
        help="also time fastloss forced to these instruction sets, in the same rounds as its"
        " default choice: e.g. avx2,avx512 or 'all' (every one this CPU runs but scalar)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory call")
    ap.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin a worker to as many CPUs as it has threads",
    )
    ap.add_argument(
        "--cache",
        metavar="DIR",
        default=str(inputs.default_cache_dir()),
        help="where seeded inputs and reference results are cached",
    )
    ap.add_argument("--no-cache", action="store_true", help="generate inputs in memory only")
    ap.add_argument("--list", action="store_true", help="list the selected workloads and exit")
    args = ap.parse_args(argv)
    if args.dtype:
        bad = [d for d in args.dtype.split(",") if d not in workloads.DTYPES]
        if bad:
            ap.error(f"--dtype must be among {', '.join(workloads.DTYPES)}; got {','.join(bad)}")
    args.isa = [i.strip().lower() for i in (args.isa or "").split(",") if i.strip()]
    if args.peers is None:
        args.peers = ",".join(QUICK_PEERS if args.quick else ALL_PEERS)
    if args.peers.strip().lower() == "none":
        args.peers = ""
    bad_peers = [p for p in args.peers.split(",") if p and p not in ALL_PEERS]
    if bad_peers:
        ap.error(f"--peers must be among {', '.join(ALL_PEERS)}; got {','.join(bad_peers)}")
    return args


def thread_counts(spec: str | None) -> list[int]:
    if spec:
        return sorted({int(t) for t in spec.split(",") if t.strip()})
    return sorted({1, _cpus()})


def worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("JAX_PLATFORMS", "cpu")
    if threads < _cpus():
        # The documented XLA switches; recent XLA ignores them, and the worker's CPU
        # affinity is what holds JAX to this thread count.
        flags = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
    return env


def run_threads(
    threads: int,
    names: list[str],
    base_cfg: dict[str, Any],
    done: int,
    total: int,
    tmp: Path,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Run one worker per thread count; if it dies, note the workload and go on after it."""
    out = tmp / f"results-t{threads}.jsonl"
    records: list[dict[str, Any]] = []
    env_rec: dict[str, Any] | None = None
    finished: set[str] = set()
    crashed: list[str] = []
    while True:
        todo = [n for n in names if n not in finished and n not in crashed]
        if not todo:
            break
        cfg = dict(
            base_cfg,
            threads=threads,
            workloads=todo,
            progress_done=done + len(finished) + len(crashed),
            progress_total=total,
        )
        cfg_path = tmp / f"config-t{threads}.json"
        cfg_path.write_text(json.dumps(cfg))
        out.write_text("")
        proc = subprocess.run(
            [sys.executable, str(HERE / "worker.py"), "--config", str(cfg_path), "--out", str(out)],
            env=worker_env(threads),
        )
        started = None
        for line in out.read_text().splitlines():
            ev = json.loads(line)
            if ev["event"] == "env":
                env_rec = env_rec or ev
            elif ev["event"] == "start":
                started = ev["workload"]
            elif ev["event"] == "result":
                finished.add(ev["workload"])
                records.append(ev)
                started = None
        if proc.returncode == 0:
            break
        if started is None:  # died before any workload: nothing to skip, so stop here
            sys.stderr.write(
                f"\nworker for {threads} thread(s) failed (exit {proc.returncode})"
                " before running a workload\n"
            )
            break
        crashed.append(started)
        records.append(
            {
                "event": "result",
                "workload": started,
                "threads": threads,
                "skipped": f"worker crashed (exit code {proc.returncode})",
            }
        )
        sys.stderr.write(
            f"\nworker for {threads} thread(s) crashed in {started}"
            f" (exit {proc.returncode}); continuing after it\n"
        )
    return records, env_rec


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    selected = workloads.select(
        quick=args.quick, only=args.only, dtypes=args.dtype.split(",") if args.dtype else None
    )
    unknown = workloads.unmatched(args.only) if args.only else []
    if unknown or not selected:
        what = ", ".join(repr(p) for p in unknown) or repr(args.only)
        print(f"--only {what}: no workload of that name or op; see --list", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(w.name for w in selected))
        return 0
    try:
        import fastloss  # noqa: F401
    except ImportError as exc:
        print(
            f"cannot import fastloss ({exc}). From a checkout, build it first:\n"
            "  tools/devbuild.sh bench && PYTHONPATH=build/bench/site python bench/run.py",
            file=sys.stderr,
        )
        return 2

    threads = thread_counts(args.threads)
    peers = [p for p in args.peers.split(",") if p]
    mode = "quick" if args.quick else "default"
    settings = dict(SETTINGS[mode])
    for key, value in (
        ("budget_s", args.budget),
        ("min_rounds", args.min_rounds),
        ("max_rounds", args.max_rounds),
    ):
        if value is not None:
            settings[key] = value
    base_cfg: dict[str, Any] = {
        **settings,
        # No fixed sleep between samples: see bench/README.md ("interleaved").
        "settle_s": 0.0,
        "peers": peers,
        "isa": args.isa,
        "cpus": _cpus(),
        "memory": not args.no_memory,
        "pin": not args.no_pin,
        "cache": None if args.no_cache else args.cache,
    }
    if max(threads) > _cpus():
        print(f"note: {max(threads)} threads on {_cpus()} CPUs: oversubscribed", file=sys.stderr)

    names = [w.name for w in selected]
    total = len(names) * len(threads)
    load_before = _load()
    if load_before is not None and load_before > 0.5 * _cpus():
        print(
            f"note: load average {load_before:.1f} on {_cpus()} CPUs: other work is running,"
            " expect noisy numbers",
            file=sys.stderr,
        )
    start = time.time()
    records: list[dict[str, Any]] = []
    envs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="fastloss-bench-") as tmp:
        for i, t in enumerate(threads):
            recs, env_rec = run_threads(t, names, base_cfg, i * len(names), total, Path(tmp))
            records += recs
            if env_rec:
                envs[t] = env_rec
    if sys.stderr.isatty():
        sys.stderr.write("\n")

    order = {n: i for i, n in enumerate(names)}
    records.sort(key=lambda r: (order.get(r["workload"], 1 << 30), r["threads"]))
    m = machine.describe()
    fl_env = envs.get(max(envs)) if envs else None
    m["simd_backend"] = (fl_env or {}).get("fastloss", {}).get("simd_backend")
    title = machine.header(m, fl_env)
    elapsed = time.time() - start
    pinning = "not pinned" if args.no_pin else "each worker pinned to its thread count"
    print(title)
    load_after = _load()
    busy = load_before is not None and load_before > 0.5 * _cpus()
    if load_before is not None:
        print(
            f"load average {load_before:.1f} before, {load_after:.1f} after"
            + (" -- the machine was busy: numbers are noisy" if busy else "")
        )
    print(
        f"threads {','.join(map(str, threads))} ({pinning}) | {mode}: rounds for"
        f" {settings['budget_s']} s, at least {settings['min_rounds']} |"
        f" memory by {(fl_env or {}).get('memory_method', '?')} | ran {elapsed:.0f} s"
    )
    missing = (fl_env or {}).get("probes_missing")
    if missing:
        print(f"limit probes missing from fastloss._core: {', '.join(missing)} (limit shows '-')")
    print()
    print(report.table(records, peers))
    print()
    print(report.legend(records, peers))
    for line in report.geomeans(records, peers):
        print(line)
    for section in (report.jax_forms(records), report.isa_section(records)):
        if section:
            print()
            print("\n".join(section))
    warned = report.warnings(records)
    if warned:
        print("\nwarnings (figures marked ~):")
        for n in warned:
            print("\n".join(textwrap.wrap(n, 100, initial_indent="  ", subsequent_indent="    ")))
    notes = report.footnotes(records)
    if notes:
        print("\nnotes:")
        print("\n".join("  " + n for n in notes))
    missed = report.targets(records)
    print(f"\ntargets missed: {len(missed)}")
    print("\n".join("  " + n for n in missed))

    if args.json:
        doc = {
            "machine": m,
            "workers": {str(t): e for t, e in envs.items()},
            "settings": {**base_cfg, "mode": mode, "threads": threads},
            "elapsed_s": elapsed,
            "load_average": {"before": load_before, "after": load_after},
            "results": [{k: v for k, v in r.items() if k != "event"} for r in records],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
        print(f"\nsaved {args.json}")
    if args.plot:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        why = plot.save(args.plot, records, peers, title)
        print(f"saved {args.plot}" if why is None else f"no plot: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
