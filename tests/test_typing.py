"""The public API's static types, as a mypy user sees them.

mypy (not a dependency: ``pip install mypy``) checks one snippet that uses the API, with the
fastloss this test imports on its path, as an installed package is seen (through
``py.typed``). The snippet's valid calls must pass under ``--strict``; its ``reveal_type``
lines must show precise types (no ``Any`` result); its bad options must be reported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastloss

pytest.importorskip("mypy", reason="mypy is not installed; pip install mypy to check the types")

# The oldest Python of pyproject.toml's requires-python: annotations must hold there too.
PYTHON_VERSION = "3.10"

# (code, what mypy must say about that line): ("reveal", pattern) for a revealed type that
# must match the pattern, "error" for a reported error, None for a line that must pass.
LINES: list[tuple[str, tuple[str, str] | str | None]] = [
    ("import numpy as np", None),
    ("import fastloss", None),
    ("from fastloss._types import Reduction", None),
    ("x = np.zeros((4, 3), np.float32)", None),
    ("t = np.zeros(4, np.int64)", None),
    ("red: Reduction = 'sum'", None),
    # Reduced losses are NumPy scalars, "none" gives arrays, and a Reduction gives either.
    ("reveal_type(fastloss.cross_entropy(x, t))", ("reveal", r"numpy\.floating\[.*\]")),
    ("reveal_type(fastloss.nll_loss(x, t, reduction='sum'))", ("reveal", r"numpy\.floating\[.*\]")),
    ("reveal_type(fastloss.mse_loss([1.0], [2.0]))", ("reveal", r"numpy\.floating\[.*\]")),
    (
        "reveal_type(fastloss.cross_entropy(x, t, reduction='none'))",
        ("reveal", r"numpy\.ndarray\[.*numpy\.floating\[.*\]\]"),
    ),
    (
        "reveal_type(fastloss.cross_entropy(x, t, reduction=red))",
        ("reveal", r"numpy\.floating\[.*\] \| numpy\.ndarray\[.*\]"),
    ),
    (
        "reveal_type(fastloss.kl_div(x, x, reduction='batchmean'))",
        ("reveal", r"numpy\.floating\[.*\]"),
    ),
    (
        "reveal_type(fastloss.softmax(x, out=np.empty((4, 3))))",
        ("reveal", r"numpy\.ndarray\[.*numpy\.float64\]\]"),
    ),
    # The metrics: a TypedDict with an int count; the per-row arrays of "none" another.
    (
        "reveal_type(fastloss.evaluate(x, t))",
        ("reveal", r"TypedDict\(fastloss\._types\.ClassificationMetrics, .*'count': int, .*"),
    ),
    ("reveal_type(fastloss.evaluate(x, t)['count'])", ("reveal", r"int")),
    ("reveal_type(fastloss.evaluate(x, t, topk=[1, 3])['accuracy'])", ("reveal", r"float")),
    (
        "reveal_type(fastloss.evaluate(x, t, reduction='none'))",
        ("reveal", r"TypedDict\(fastloss\._types\.ClassificationRows, .*'rank': numpy\.ndarray.*"),
    ),
    (
        "reveal_type(fastloss.Evaluator(topk=(1, 5)).update(x, t).result())",
        ("reveal", r"TypedDict\(fastloss\._types\.ClassificationMetrics, .*"),
    ),
    (
        "reveal_type(fastloss.RegressionEvaluator().update(x, x).result()['count'])",
        ("reveal", r"int"),
    ),
    (
        "reveal_type(fastloss.evaluate_chunked(fastloss.RegressionEvaluator(), x, x))",
        ("reveal", r"fastloss\._regression_evaluator\.RegressionEvaluator"),
    ),
    (
        "reveal_type(fastloss.reference.regression_metrics(x, x))",
        ("reveal", r"TypedDict\(fastloss\._types\.RegressionMetrics, .*'count': int, .*"),
    ),
    # Valid options of other types.
    ("fastloss.cross_entropy(x, t, axis=np.int64(-1), ignore_index=np.int32(-100))", None),
    # Bad options and names.
    ("fastloss.cross_entropy(x, t, reduction='avg')", "error"),
    ("fastloss.mse_loss(x, x, reduction='avg')", "error"),
    ("fastloss.kl_div(x, x, reduction='avg')", "error"),
    ("fastloss.evaluate(x, t, reduction='sum')", "error"),
    ("fastloss.cross_entrpy(x, t)", "error"),
]

_REPORT = re.compile(r"^snippet\.py:(\d+): (error|note): (.*)$")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[int, list[tuple[str, str]]]:
    """mypy's reports on the snippet, by line: (kind, message)."""
    tmp = tmp_path_factory.mktemp("typing")
    snippet = tmp / "snippet.py"
    snippet.write_text("".join(code + "\n" for code, _ in LINES))
    # The directory that holds the imported fastloss: a dev build or site-packages.
    site = str(Path(fastloss.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": site}
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--python-version",
        PYTHON_VERSION,
        "--cache-dir",
        str(tmp / "cache"),
        "--no-error-summary",
        "--hide-error-context",
        "--show-error-codes",
        snippet.name,
    ]
    run = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
    out: dict[int, list[tuple[str, str]]] = {}
    for line in run.stdout.splitlines():
        m = _REPORT.match(line)
        if m:
            out.setdefault(int(m[1]), []).append((m[2], m[3]))
        elif line.strip():  # an error elsewhere (in fastloss, or mypy's own)
            out.setdefault(0, []).append(("error", line))
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return out


@pytest.mark.parametrize("lineno", range(1, len(LINES) + 1), ids=lambda n: LINES[n - 1][0])
def test_snippet_line(reports, lineno):
    code, expected = LINES[lineno - 1]
    got = reports.get(lineno, [])
    errors = [msg for kind, msg in got if kind == "error"]
    if expected is None:
        assert not errors, errors
    elif expected == "error":
        assert errors, f"mypy accepts {code!r}"
    else:
        revealed = [
            msg.removeprefix('Revealed type is "').removesuffix('"')
            for kind, msg in got
            if kind == "note" and msg.startswith("Revealed type is")
        ]
        assert not errors, errors
        assert len(revealed) == 1, got
        assert revealed[0] != "Any"
        assert re.fullmatch(expected[1], revealed[0]), revealed[0]


def test_no_report_outside_the_snippet(reports):
    assert reports.get(0, []) == []
