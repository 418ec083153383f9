"""A description of the machine, saved with the results: numbers mean little without it."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "asimd", "sve")
ISA_NAMES = {"avx512": "AVX-512", "avx2": "AVX2", "neon": "NEON", "sve": "SVE"}
PACKAGES = ("numpy", "torch", "jax", "jaxlib", "scipy", "matplotlib", "fastloss")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpuinfo() -> tuple[str | None, list[str]]:
    text = _read("/proc/cpuinfo") or ""
    model, flags = None, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "cpu model") and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = value.split()
    return model, flags


def _l3() -> str | None:
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")):
        if _read(str(index / "level")) == "3":
            return _read(str(index / "size"))
    return None


def _mem_total_gib() -> float | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    model, flags = _cpuinfo()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "flags": [f for f in FLAGS if f in flags],
        "cpus": len(cpus) if cpus is not None else os.cpu_count(),
        "l3": _l3(),
        "memory_gib": _mem_total_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        # NumPy madvises large arrays into huge pages only when THP is "madvise" or "always".
        "transparent_hugepage": thp.split("[")[1].split("]")[0] if thp and "[" in thp else thp,
        "versions": {name: _version(name) for name in PACKAGES},
        "env": {
            k: os.environ[k]
            for k in (
                "OMP_NUM_THREADS",
                "OMP_PROC_BIND",
                "OMP_PLACES",
                "XLA_FLAGS",
                "FASTLOSS_SIMD",
                "OPENBLAS_CORETYPE",
                "NUMPY_MADVISE_HUGEPAGE",
            )
            if k in os.environ
        },
    }


def header(m: dict[str, Any], fl_env: dict[str, Any] | None) -> str:
    """Two lines naming the machine, ISA and versions, printed above the table."""
    fl = (fl_env or {}).get("fastloss", {})
    versions = dict(m["versions"])
    versions.update({k: v for k, v in (fl_env or {}).get("peers", {}).items() if v})
    if fl.get("version"):
        versions["fastloss"] = fl["version"]
    vtext = "  ".join(f"{k} {v}" for k, v in versions.items() if v and k != "jaxlib")
    lines = [
        f"{m['cpu']} | {m['cpus']} CPUs | L3 {m['l3'] or '?'} | flags {' '.join(m['flags'])}"
        f" | fastloss backend {fl.get('simd_backend', '?')} | THP {m['transparent_hugepage']}",
        vtext,
    ]
    isa = (fl_env or {}).get("isa") or {}
    if isa.get("forced"):
        lines.append(f"ISAs: default {isa['default']}, also forced: {', '.join(isa['forced'])}")
    for name in isa.get("missing", []):
        lines.append(f"no {ISA_NAMES.get(name, name)} on this machine: {name} not measured")
    return "\n".join(lines)
