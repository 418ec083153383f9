"""Instruction-set choice at import, FASTLOSS_SIMD, and the configuration report."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastloss
from fastloss import _core

ALL = ("avx512", "avx2", "neon", "scalar")


def run_python(code: str, simd: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FASTLOSS_SIMD"}
    if simd is not None:
        env["FASTLOSS_SIMD"] = simd
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def best() -> str:
    return _core.supported_backends()[0]


def test_backends_are_consistent():
    compiled, supported = _core.compiled_backends(), _core.supported_backends()
    assert set(supported) <= set(compiled) <= set(ALL)
    assert "scalar" in supported and supported[-1] == "scalar"
    assert fastloss.simd_backend() in supported


def test_default_is_the_best_supported():
    out = run_python("import fastloss; print(fastloss.simd_backend())", None)
    assert out.stdout.strip() == best()
    assert out.stderr == ""


@pytest.mark.parametrize("name", _core.supported_backends())
def test_fastloss_simd_lowers_the_choice(name):
    out = run_python("import fastloss; print(fastloss.simd_backend())", name)
    assert out.stdout.strip() == name
    assert out.stderr == ""


@pytest.mark.parametrize("name", [n for n in ALL if n not in _core.supported_backends()])
def test_unavailable_isa_warns_and_falls_back(name):
    out = run_python("import fastloss; print(fastloss.simd_backend())", name)
    assert out.stdout.strip() == best()
    assert "RuntimeWarning" in out.stderr and name in out.stderr


def test_unknown_value_warns_and_is_ignored():
    out = run_python("import fastloss; print(fastloss.simd_backend())", "sse9")
    assert out.stdout.strip() == best()
    assert "RuntimeWarning" in out.stderr and "'sse9'" in out.stderr


def test_set_backend_rejects_unsupported():
    with pytest.raises(ValueError, match="not supported"):
        _core._set_backend("mmx")


def test_show_config_and_module_main(capsys):
    fastloss.show_config()
    text = capsys.readouterr().out
    for key in (
        "fastloss",
        "compiler",
        "simd compiled",
        "simd available",
        "simd in use",
        "threads",
    ):
        assert key in text
    out = subprocess.run(
        [sys.executable, "-m", "fastloss"], capture_output=True, text=True, timeout=120, check=True
    )
    assert "simd in use" in out.stdout


# The entries each ISA's table takes from a lower ISA's table, as docs/performance.md lists
# them ("Per-kernel dispatch"): (lender, entries). Change both together.
MIXED_ENTRIES = {"avx512": ("avx2", ["cross_entropy_inner_f32"])}


@pytest.mark.parametrize("isa", ALL)
def test_mixed_entries_match_the_documented_list(isa):
    if isa not in _core.compiled_backends():
        with pytest.raises(ValueError, match="not compiled in"):
            _core._borrowed_entries(isa)
        return
    lender, names = _core._borrowed_entries(isa)
    want_lender, want_names = MIXED_ENTRIES.get(isa, ("", []))
    if isa == "avx512" and "avx2" not in _core.compiled_backends():
        want_lender, want_names = "", []
    assert (lender, names) == (want_lender, want_names)
    assert lender == "" or ALL.index(lender) > ALL.index(isa)  # only ever a lower ISA
    assert set(names) <= set(_core._kernel_entries())


def test_docs_list_the_mixed_entries():
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
    if not doc.exists():
        pytest.skip("docs/performance.md is not in this tree (installed package only)")
    text = doc.read_text()
    for isa, (_lender, names) in MIXED_ENTRIES.items():
        for name in names:
            assert f"`{name}`" in text, f"docs/performance.md does not list {isa}'s {name}"
