"""The README's results table from a saved run: python bench/markdown.py docs/bench/results.json

One row per workload: time and multiple of the limit at each thread count, the peer ratios at
one thread (torch eager, torch.compile, the faster JAX form, and the astype route where a
half-precision workload ran), the default ISA over each forced
lower one (when the run had --isa), and the extra memory of one call.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import report


def _by_workload(results: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for rec in results:
        if not rec.get("skipped"):
            rows.setdefault(rec["workload"], {})[rec["threads"]] = rec
    return rows


def _time(rec: dict[str, Any]) -> str:
    return report._time(rec["times"]["fastloss"]["median"])


def _limit(rec: dict[str, Any]) -> str:
    lim = rec.get("limit", {})
    if lim.get("kind") == "call":
        return f"+{lim['overhead_s'] * 1e6:.2f} µs call"
    x = lim.get("x")
    return f"{x:.2f}" if x else "-"


def _ratio(rec: dict[str, Any], peer: str) -> str:
    x = report.speedups(rec).get(peer)
    return f"{x:.3g}" if x else "-"


def _isa(rec: dict[str, Any]) -> str:
    over = rec.get("isa", {}).get("default_over", {})
    return " / ".join(f"{x:.2f}" for x in over.values()) if over else "-"


def table(doc: dict[str, Any]) -> str:
    rows = _by_workload(doc["results"])
    threads = sorted({t for per in rows.values() for t in per})
    one = threads[0]
    lowers = next(
        (r["isa"]["lower"] for per in rows.values() for r in per.values() if r.get("isa")), []
    )
    isa_head = f"default / {' / '.join(lowers)} time" if lowers else None
    tt = " / ".join(f"{t}T" for t in threads)
    head = ["workload", f"time {tt}", f"×limit {tt}", "×torch", "×compile", "×jax"]
    astype = any("astype" in r.get("speedup", {}) for per in rows.values() for r in per.values())
    if astype:
        head.append("×astype")
    if isa_head:
        head.append(isa_head)
    head.append("extra MB")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, per in rows.items():
        base = per.get(one)
        if base is None:
            continue
        cells = [
            name,
            " / ".join(_time(per[t]) if t in per else "-" for t in threads),
            " / ".join(_limit(per[t]) if t in per else "-" for t in threads),
            _ratio(base, "torch"),
            _ratio(base, "torch.compile"),
            _ratio(base, "jax"),
        ]
        if astype:
            cells.append(_ratio(base, "astype"))
        if isa_head:
            cells.append(_isa(base))
        cells.append(report._mb(base.get("memory", {}).get("fastloss")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(table(json.loads(Path(argv[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
