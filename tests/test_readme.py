"""What a user reads runs: every ```python block of README.md, as written, and the names the
README and the package docstring promise.

Each block runs in a fresh namespace, so a block that needs a name from an earlier one fails
here as it would for a reader who pastes it alone. A block opened with
``<!-- readme-test: skip REASON -->`` on the line before its fence is skipped for that reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(
    r"(?:<!-- readme-test: skip (?P<reason>[^>]*?) -->\n)?```python\n(?P<code>.*?)^```",
    re.DOTALL | re.MULTILINE,
)


def _blocks() -> list:
    text = README.read_text(encoding="utf-8")
    cases = []
    for i, m in enumerate(_BLOCK.finditer(text), 1):
        line = text.count("\n", 0, m.start("code")) + 1
        marks = [pytest.mark.skip(reason=m["reason"].strip())] if m["reason"] else []
        cases.append(pytest.param(m["code"], line, id=f"block{i}-line{line}", marks=marks))
    return cases


def test_readme_has_python_blocks():
    assert len(_blocks()) >= 3


@pytest.mark.parametrize(("code", "line"), _blocks())
def test_readme_block_runs(code: str, line: int):
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})


def test_reference_without_its_own_import():
    """``import fastloss`` alone gives ``fastloss.reference`` (loaded on first use)."""
    code = (
        "import sys, fastloss\n"
        "assert 'fastloss.reference' not in sys.modules\n"
        "assert fastloss.reference.mse_loss([1.0], [3.0]) == 4.0\n"
        "assert hasattr(fastloss, 'reference')\n"
        "try:\n"
        "    fastloss.no_such_name\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('fastloss.no_such_name did not raise AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
