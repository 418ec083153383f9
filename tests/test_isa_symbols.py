"""ISA code stays in its own namespace (docs/architecture.md).

An inline function or template compiled with AVX flags in two translation units becomes one
weak symbol, chosen by the linker: an AVX copy could then run on a CPU without AVX. Every
symbol that a unit built for an ISA defines (the object library fastloss_<isa> of
CMakeLists.txt: src/cpp/isa/<isa>.cpp and src/cpp/kernels/*.cpp) must live in fastloss::<isa>.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Symbols the compiler emits for exception handling, and AddressSanitizer's one-byte ODR
# indicators of globals (tools/sanitize.sh's build), which carry no ISA code.
HARMLESS = re.compile(r"^(DW\.ref\.__gxx_personality_v0|__odr_asan\..*)$")


def isa_objects():
    """(isa, object file) of every unit built per ISA in the build trees here."""
    return sorted(
        (d.name.removeprefix("fastloss_").removesuffix(".dir"), obj)
        for d in ROOT.glob("build/**/CMakeFiles/fastloss_*.dir")
        for obj in d.rglob("*.o")
    )


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs binutils' nm")
def test_isa_objects_define_only_their_namespace():
    objects = isa_objects()
    if not objects:
        pytest.skip("no build tree with object files here (an installed wheel has none)")
    for isa, obj in objects:
        # Mangled names: the namespace is the first nested name, whatever the return type.
        own = re.compile(rf"_Z[A-Z]*N[KVrO]*8fastloss{len(isa)}{isa}")
        out = subprocess.run(
            ["nm", "--defined-only", str(obj)], capture_output=True, text=True, check=True
        ).stdout
        strays = []
        for line in out.splitlines():
            parts = line.split(maxsplit=2)
            # Only global and weak symbols can be merged across translation units.
            if len(parts) == 3 and parts[1] in "TWVuDBR":
                name = parts[2]
                if not own.match(name) and not HARMLESS.match(name):
                    strays.append(line)
        assert not strays, f"{obj} defines symbols outside fastloss::{isa}:\n" + "\n".join(strays)
