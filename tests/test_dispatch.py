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
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=True)


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
    for key in ("fastloss", "compiler", "simd compiled", "simd available", "simd in use", "threads"):
        assert key in text
    out = subprocess.run([sys.executable, "-m", "fastloss"], capture_output=True, text=True,
                         timeout=120, check=True)
    assert "simd in use" in out.stdout
