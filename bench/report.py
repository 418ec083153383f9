"""The terminal table, its footnotes, and the SPEC §6 targets missed."""

from __future__ import annotations

import math
from typing import Any

PEERS = ("numpy", "torch", "torch.compile", "jax", "optax", "scipy", "flcalls")
SHORT = {
    "fastloss": "fl",
    "numpy": "np",
    "torch": "pt",
    "torch.compile": "tc",
    "jax": "jx",
    "optax": "ox",
    "scipy": "sp",
    "flcalls": "fc",
}
# Peers with an equivalent of a few workloads only: their column shows when one has a value.
PARTIAL_PEERS = ("flcalls",)
MB = 2**20


def _time(s: float) -> str:
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.3g} us"


def _spread(t: dict[str, float]) -> str:
    # Half the interquartile range, relative to the median.
    return f"±{50 * (t['q3'] - t['q1']) / t['median']:.0f}%" if t["median"] > 0 else ""


def _mb(b: int | None) -> str:
    if b is None:
        return "?"
    if b < 0.05 * MB:
        return "0"
    return f"{b / MB:.0f}" if b >= 10 * MB else f"{b / MB:.1f}"


def _check_mark(rec: dict[str, Any], name: str) -> str:
    status = rec.get("checks", {}).get(name, {}).get("status")
    return {"mismatch": "!", "unchecked": "?"}.get(status or "", "")


def shown_peers(records: list[dict[str, Any]], peers: list[str]) -> list[str]:
    """The peer columns: every peer asked for, but a partial one only where it has a result."""
    return [
        p for p in peers if p not in PARTIAL_PEERS or any(p in r.get("checks", {}) for r in records)
    ]


def _baseline(rec: dict[str, Any]) -> str:
    base = rec.get("baseline") or {}
    return f"{base['x']:.2f}" if base.get("x") else "-"


def rows(records: list[dict[str, Any]], peers: list[str]) -> list[list[str]]:
    out = []
    for rec in records:
        name, thr = rec["workload"], str(rec["threads"])
        if rec.get("skipped"):
            continue
        fl = rec["times"]["fastloss"]
        med = fl["median"]
        lim = rec.get("limit", {})
        if lim.get("kind") == "call":
            xlim, bound, gbps = f"+{_time(max(lim['overhead_s'], 0.0))}", "call", "-"
        else:
            xlim = f"{lim['x']:.2f}" if lim.get("x") else "-"
            bound = lim.get("bound", "-")
            gbps = f"{rec['bytes'] / med / 1e9:.1f}" if rec.get("bytes") else "-"
        cells = [
            name,
            thr,
            f"{_time(med)} {_spread(fl)}{_check_mark(rec, 'fastloss')}",
            gbps,
            xlim,
            bound,
            _baseline(rec),
        ]
        for p in peers:
            s = rec.get("speedup", {}).get(p)
            status = rec.get("checks", {}).get(p, {}).get("status")
            if status == "error":
                cells.append("err")
            elif s is None:
                cells.append("-")
            else:
                text = f"{s:.3g}" if s < 1000 else f"{s:.0f}"
                cells.append(text + _check_mark(rec, p))
        mem = rec.get("memory", {})
        cells.append("/".join(_mb(mem[n]) if n in mem else "-" for n in ["fastloss", *peers]))
        out.append(cells)
    return out


def table(records: list[dict[str, Any]], peers: list[str]) -> str:
    peers = shown_peers(records, peers)
    head = [
        "workload",
        "thr",
        "time",
        "GB/s",
        "xlimit",
        "bound",
        "xbase",
        *[f"x{p}" for p in peers],
        "extra MB " + "/".join(SHORT[n] for n in ["fastloss", *peers]),
    ]
    body = rows(records, peers)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = []
    for r in [head, *body]:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def legend(peers: list[str]) -> str:
    lines = [
        "time: median per call, ±half the interquartile range over rounds; GB/s: input (+output)"
        " bytes / time.",
        "xlimit: time / physical limit (max of the same-bytes read or copy, and the exp count at"
        " the reference exp rate),",
        "  median over rounds of the per-round ratio; bound: which part sets the limit; small"
        " inputs show the time above an empty call.",
        "xbase: time / the time of the workload's baseline fastloss call in the same rounds"
        " (evaluate: cross_entropy alone), median of the per-round ratio.",
        f"x<peer>: peer time / fastloss time, per round, median ({', '.join(peers)}); '-' not"
        " installed or no equivalent;",
    ]
    if "flcalls" in peers:
        lines.append("  flcalls: the same metrics from separate fastloss calls (evaluate only);")
    lines += [
        "  '!' result outside SPEC §4 tolerance of fastloss.reference, '?' no reference, 'err'"
        " the call raised.",
        "extra MB: peak memory of one call above its inputs and its returned result.",
    ]
    return "\n".join(lines)


def footnotes(records: list[dict[str, Any]]) -> list[str]:
    notes: list[str] = []
    skipped: dict[str, str] = {}
    for rec in records:
        if rec.get("skipped"):
            skipped.setdefault(rec["workload"], rec["skipped"])
            continue
        for name, c in rec.get("checks", {}).items():
            if c["status"] in ("mismatch", "error"):
                notes.append(
                    f"{rec['workload']} t={rec['threads']} {name}: {c['status']}: {c['message']}"
                )
        for name, msg in rec.get("errors", {}).items():
            notes.append(f"{rec['workload']} t={rec['threads']} {name}: {msg}")
    notes += [f"skipped {w}: {why}" for w, why in skipped.items()]
    return notes


def _target(rec: dict[str, Any]) -> float | None:
    """SPEC §6's bound on time / limit, or None where it sets none."""
    if rec.get("small") or rec.get("limit", {}).get("kind") != "stream":
        return None
    shape = rec["shape"]
    if rec["op"] == "cross_entropy" and len(shape) == 2 and shape[1] <= 16:
        return 1.6
    if rec["op"] == "cross_entropy" and max(shape[1:]) >= 32000:
        return 1.25
    return 1.3 if rec.get("bytes_in", 0) >= 64 * 10**6 else None


def targets(records: list[dict[str, Any]]) -> list[str]:
    """The SPEC §6 targets this run missed, one line each."""
    missed: list[str] = []
    done = [r for r in records if not r.get("skipped")]
    for rec in done:
        where = f"{rec['workload']} t={rec['threads']}"
        bound = _target(rec)
        x = rec.get("limit", {}).get("x")
        if bound is not None and x is not None and x > bound:
            missed.append(f"{where}: {x:.2f}x limit > {bound}")
        base = rec.get("baseline") or {}
        if base.get("x") and base.get("bound") and base["x"] > base["bound"]:
            missed.append(f"{where}: {base['x']:.2f}x {base['op']} alone > {base['bound']}")
        bounds = rec.get("peer_bounds") or {}
        for p, s in rec.get("speedup", {}).items():
            need = bounds.get(p, 1.0)
            if s is not None and s < need:
                what = "slower than" if s < 1.0 else f"less than {need:g}x faster than"
                missed.append(f"{where}: {what} {p} ({s:.2f}x)")
        over = rec.get("limit", {}).get("overhead_s")
        if over is not None and over > 2e-6:
            missed.append(f"{where}: {over * 1e6:.2f} us above an empty call > 2 us")
        extra = rec.get("memory", {}).get("fastloss")
        if extra is not None and not rec.get("small") and extra > max(MB, 0.01 * rec["bytes_in"]):
            missed.append(f"{where}: fastloss used {extra / MB:.0f} MB extra")
    # Two threads not slower than one: the per-round ratio to fastloss at one thread in the
    # same worker where it was measured (worker.py), else the medians of the two workers.
    by_name: dict[str, dict[int, float]] = {}
    paired: set[tuple[str, int]] = set()
    for rec in done:
        by_name.setdefault(rec["workload"], {})[rec["threads"]] = rec["times"]["fastloss"]["median"]
        x = rec.get("vs_one_thread")
        if x is None:
            continue
        paired.add((rec["workload"], rec["threads"]))
        if x > 1.02:  # within 2%: the noise of one median
            where = f"{rec['workload']}: t={rec['threads']}"
            missed.append(f"{where} slower than t=1 in the same rounds ({x:.2f}x)")
    for name, per in by_name.items():
        ts = sorted(per)
        for a, b in zip(ts, ts[1:], strict=False):
            if (name, b) not in paired and per[b] > per[a] * 1.02:
                missed.append(
                    f"{name}: t={b} slower than t={a} ({_time(per[b])} vs {_time(per[a])})"
                )
    return missed


def geomeans(records: list[dict[str, Any]], peers: list[str]) -> list[str]:
    out = []
    for t in sorted({r["threads"] for r in records}):
        parts = []
        for p in peers:
            xs = [
                r["speedup"][p]
                for r in records
                if r["threads"] == t and not r.get("skipped") and r.get("speedup", {}).get(p)
            ]
            if xs:
                parts.append(f"{p} {math.exp(sum(map(math.log, xs)) / len(xs)):.2f}x ({len(xs)})")
        if parts:
            out.append(f"t={t} geometric-mean speed-up over " + ", ".join(parts))
    return out
