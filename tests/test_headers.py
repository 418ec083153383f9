"""Every header under src/cpp compiles on its own (docs/architecture.md).

Each header includes what it uses, so ``#include "it"`` alone is a unit that compiles. The
prelude is what CMakeLists.txt gives every unit built per ISA: the include directory src/cpp
and ``FASTLOSS_ISA`` (a header that needs no ISA ignores it). All headers are checked with
``FASTLOSS_ISA=scalar``; the vector ISAs' ``simd/<isa>.hpp`` (and ``simd/vec.hpp`` selecting
it) need that ISA's flags, taken from CMakeLists.txt: avx2 and avx512 on x86, neon on aarch64.
Syntax only (``-fsyntax-only``: templates are parsed, not instantiated), in parallel: seconds.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "cpp"
VECTOR_ISAS = ("avx2", "avx512", "neon")


def compiler():
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def isa_flags(isa):
    """The GCC/Clang flags CMakeLists.txt builds `isa` with (neon: none)."""
    if isa == "neon":
        return []
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(rf"set\({isa}_flags (-m[^)]*)\)", text)
    assert match, f"no GCC flags for {isa} in CMakeLists.txt"
    return match.group(1).split()


def machine_isas():
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return ["avx2", "avx512"]
    if machine in ("aarch64", "arm64"):
        return ["neon"]
    return []


def syntax_errors(cxx, header, isa):
    """The compiler's complaint about `#include "header"` alone, or None."""
    cmd = [
        cxx,
        "-std=c++17",
        "-fsyntax-only",
        "-Wall",
        "-Wextra",
        f"-I{SRC}",
        f"-DFASTLOSS_ISA={isa}",
    ]
    cmd += isa_flags(isa) if isa != "scalar" else []
    cmd += ["-x", "c++", "-"]
    # From stdin, so that the header is an include (no "#pragma once in main file").
    run = subprocess.run(cmd, input=f'#include "{header}"\n', capture_output=True, text=True)
    return None if run.returncode == 0 else f"{header} (FASTLOSS_ISA={isa}):\n{run.stderr}"


def headers():
    return sorted(p.relative_to(SRC).as_posix() for p in SRC.rglob("*.hpp"))


@pytest.mark.skipif(not SRC.is_dir(), reason="needs the source tree (src/cpp)")
@pytest.mark.skipif(compiler() is None, reason="no C++ compiler found (CXX, c++, g++, clang++)")
def test_every_header_compiles_alone():
    cxx = compiler()
    vector_headers = {f"simd/{isa}.hpp" for isa in VECTOR_ISAS}
    jobs = [(h, "scalar") for h in headers() if h not in vector_headers]
    for isa in machine_isas():
        jobs += [(f"simd/{isa}.hpp", isa), ("simd/vec.hpp", isa)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        errors = [e for e in pool.map(lambda job: syntax_errors(cxx, *job), jobs) if e]
    assert not errors, "\n".join(errors)
