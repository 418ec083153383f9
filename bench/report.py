"""The terminal tables, their warnings and footnotes, and the targets missed."""

from __future__ import annotations

import math
import textwrap
from typing import Any

PEERS = ("numpy", "torch", "torch.compile", "jax", "optax", "scipy", "flcalls", "astype")
SHORT = {
    "fastloss": "fl",
    "numpy": "np",
    "torch": "pt",
    "torch.compile": "tc",
    "jax": "jx",
    "optax": "ox",
    "scipy": "sp",
    "flcalls": "fc",
    "astype": "as",
}
# The table's peer-ratio columns. "xjax" is against the faster of JAX's two forms (jax.nn
# and optax), each form listed under "JAX forms".
RATIO_COLUMNS = {
    "numpy": "xnumpy",
    "torch": "xtorch",
    "torch.compile": "xcompile",
    "jax": "xjax",
    "scipy": "xscipy",
    "flcalls": "xflcalls",
    "astype": "xastype",
}
WIDTH = 100  # wider tables are split, the workload and thread columns repeated
ABSURD = 500.0  # a peer ratio beyond this (or below its inverse) is more likely noise
MB = 2**20
SUSPECT = "~"


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


def _ratio(x: float) -> str:
    return f"{x:.3g}" if x < 1000 else f"{x:.0f}"


def speedups(rec: dict[str, Any]) -> dict[str, float]:
    """Peer time / fastloss time per column peer; "jax" is the faster JAX form."""
    out = {p: x for p, x in rec.get("speedup", {}).items() if x is not None}
    forms = [out[p] for p in ("jax", "optax") if p in out]
    out.pop("optax", None)
    if forms:
        out["jax"] = min(forms)
    return out


def _absurd(x: float) -> bool:
    return x > ABSURD or x < 1 / ABSURD


def _columns(records: list[dict[str, Any]], peers: list[str]) -> list[tuple[str, list[str]]]:
    """(header, cells) per column, one row per measured record."""
    done = [r for r in records if not r.get("skipped")]
    cols: dict[str, list[str]] = {h: [] for h in ("workload", "thr", "time", "GB/s", "xlimit")}
    cols.update({"bound": [], "xbase": []})
    shown = [p for p in RATIO_COLUMNS if p in peers or (p == "jax" and "optax" in peers)]
    for p in shown:
        cols[RATIO_COLUMNS[p]] = []
    mem_names = ["fastloss", *[p for p in PEERS if any(p in r.get("memory", {}) for r in done)]]
    mem_head = "extra MB " + "/".join(SHORT[n] for n in mem_names)
    cols[mem_head] = []
    for rec in done:
        fl = rec["times"]["fastloss"]
        med = fl["median"]
        busy = SUSPECT if rec.get("busy") else ""
        cols["workload"].append(rec["workload"])
        cols["thr"].append(str(rec["threads"]))
        cols["time"].append(f"{_time(med)} {_spread(fl)}{_check_mark(rec, 'fastloss')}{busy}")
        lim = rec.get("limit", {})
        if lim.get("kind") == "call":
            cols["xlimit"].append(f"+{_time(max(lim['overhead_s'], 0.0))}")
            cols["bound"].append("call")
            cols["GB/s"].append("-")
        else:
            x = lim.get("x")
            cols["xlimit"].append(f"{x:.2f}{SUSPECT if x < 1 else ''}" if x else "-")
            cols["bound"].append(lim.get("bound", "-"))
            cols["GB/s"].append(f"{rec['bytes'] / med / 1e9:.1f}" if rec.get("bytes") else "-")
        base = rec.get("baseline") or {}
        cols["xbase"].append(f"{base['x']:.2f}" if base.get("x") else "-")
        ratios = speedups(rec)
        for p in shown:
            forms = ("jax", "optax") if p == "jax" else (p,)
            status = [rec.get("checks", {}).get(f, {}).get("status") for f in forms]
            x = ratios.get(p)
            if x is None:
                cell = "err" if "error" in status else "-"
            else:
                form = next(f for f in forms if rec.get("speedup", {}).get(f) == x)
                cell = _ratio(x) + _check_mark(rec, form) + (SUSPECT if _absurd(x) else "")
            cols[RATIO_COLUMNS[p]].append(cell)
        mem = rec.get("memory", {})
        cols[mem_head].append("/".join(_mb(mem[n]) if n in mem else "-" for n in mem_names))
    # One meaning per column, and no column of dashes only (a peer with no equivalent here).
    return [
        (h, c) for h, c in cols.items() if h == "workload" or any(set(v) - set("-/") for v in c)
    ]


def _render(cols: list[tuple[str, list[str]]]) -> list[str]:
    widths = [max(len(v) for v in [h, *c]) for h, c in cols]
    rows = list(zip(*[[h, *c] for h, c in cols], strict=True))
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [
            v.rjust(w) for v, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return lines


def table(records: list[dict[str, Any]], peers: list[str], width: int = WIDTH) -> str:
    """The results, split into tables of at most ``width`` characters when wider."""
    cols = _columns(records, peers)
    key, rest = cols[:2], cols[2:]
    parts: list[list[tuple[str, list[str]]]] = [[]]
    for col in rest:
        trial = key + parts[-1] + [col]
        if parts[-1] and len(_render(trial)[0]) > width:
            parts.append([])
        parts[-1].append(col)
    return "\n\n".join("\n".join(_render(key + part)) for part in parts)


def jax_forms(records: list[dict[str, Any]]) -> list[str]:
    """Each JAX form's ratio where both ran: the "xjax" column shows the smaller."""
    lines = []
    for rec in records:
        s = rec.get("speedup", {})
        if s.get("jax") and s.get("optax"):
            lines.append(
                f"  {rec['workload']} t={rec['threads']}: jax.nn {_ratio(s['jax'])},"
                f" optax {_ratio(s['optax'])}"
            )
    return ["JAX forms (peer time / fastloss time):", *lines] if lines else []


def isa_section(records: list[dict[str, Any]]) -> list[str]:
    """Per workload: fastloss's time under each ISA, and default / forced per round."""
    done = [r for r in records if r.get("isa")]
    if not done:
        return []
    default = done[0]["isa"]["default"]
    isas = list(dict.fromkeys(i for r in done for i in r["isa"]["median_s"]))
    forced = [i for i in isas if i != default]
    cols: list[tuple[str, list[str]]] = [("workload", []), ("thr", [])]
    cols += [(i if i != default else f"{i} (default)", []) for i in isas]
    cols += [(f"{default}/{i}", []) for i in forced]
    for r in done:
        cells = [r["workload"], str(r["threads"])]
        cells += [
            _time(r["isa"]["median_s"][i]) if i in r["isa"]["median_s"] else "-" for i in isas
        ]
        for i in forced:
            x = r["isa"]["default_over"].get(i)
            flag = " SLOWER" if x and x > 1.05 and i in r["isa"]["lower"] else ""
            cells.append(f"{x:.2f}{flag}" if x else "-")
        for (_, c), v in zip(cols, cells, strict=True):
            c.append(v)
    title = (
        "ISA side by side: fastloss's median time per call under each instruction set, and"
        f" default / forced ({default}/isa: median of the per-round ratio; above 1 the default"
        " is slower, SLOWER: by more than 5%)"
    )
    return [*textwrap.wrap(title, WIDTH, subsequent_indent="  "), *_render(cols)]


def warnings(records: list[dict[str, Any]]) -> list[str]:
    """Why figures are marked "~": read them as noise, not as results."""
    out = []
    busy = [r for r in records if r.get("busy")]
    if busy:
        loads = ", ".join(f"{r['load']:.1f}" for r in busy[:3])
        out.append(
            f"{len(busy)} workload(s) ran while the load average exceeded the CPUs the bench"
            f" left free (load {loads}{', ...' if len(busy) > 3 else ''}): their times are"
            f" marked {SUSPECT}"
        )
    for rec in records:
        where = f"{rec['workload']} t={rec['threads']}"
        x = rec.get("limit", {}).get("x")
        if x is not None and x < 1:
            out.append(f"{where}: {x:.2f}x the physical limit, which no kernel can beat: noise")
        for p, s in rec.get("speedup", {}).items():
            if s is not None and _absurd(s):
                out.append(f"{where}: {p} ratio {_ratio(s)} is implausible: noise or a stall")
    return out


def legend(records: list[dict[str, Any]], peers: list[str]) -> str:
    heads = {h for h, _ in _columns(records, peers)}
    lines = [
        "time: fastloss's median per call, ±half the interquartile range over rounds."
        " GB/s: input (+output) bytes / time.",
        "xlimit: time / physical limit (the larger of reading (or copying) the same bytes and"
        " the exp count at the reference exp rate), median of per-round ratios. bound: which"
        " of the two sets it; call: small input, time above an empty call.",
    ]
    if "xbase" in heads:
        lines.append(
            "xbase: evaluate's time / cross_entropy's alone on the same inputs, in the same"
            " rounds (median of per-round ratios)."
        )
    names = [RATIO_COLUMNS[p] for p in RATIO_COLUMNS if RATIO_COLUMNS[p] in heads]
    if names:
        lines.append(
            f"{', '.join(names)}: peer time / fastloss time, median of per-round ratios (above 1"
            " fastloss is faster); '-' no equivalent."
        )
    if "xcompile" in heads:
        lines.append(
            "  xtorch: torch.nn.functional eager; xcompile: the same call under torch.compile."
        )
    if "xjax" in heads:
        lines.append(
            "  xjax: the faster of JAX's forms, jax.nn under jit and optax's loss where optax has"
            " it (each under 'JAX forms')."
        )
    if "xflcalls" in heads:
        lines.append("  xflcalls: evaluate's metrics from separate fastloss calls (evaluate only).")
    if "xastype" in heads:
        lines.append(
            "  xastype: fastloss on a float32 copy of the half-precision inputs, the astype"
            " timed with the call (bf16/f16 only)."
        )
    lines += [
        "marks: '!' result outside the tolerance of fastloss.reference, '?' no reference, 'err'"
        f" the call raised; '{SUSPECT}' noise (see warnings).",
        "extra MB: peak memory of one call above its inputs and its returned result.",
    ]
    # Wrapped to the table's width; a continuation keeps its line's indent.
    wrapped = []
    for line in lines:
        indent = "    " if line.startswith("  ") else "  "
        wrapped += textwrap.wrap(line, WIDTH, subsequent_indent=indent, drop_whitespace=False)
    return "\n".join(w.rstrip() for w in wrapped)


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
    # Peers with no form of a workload for a stated reason, one line per reason.
    absent: dict[str, tuple[dict[str, None], set[str]]] = {}
    for rec in records:
        for peer, why in (rec.get("absent") or {}).items():
            columns, names = absent.setdefault(why, ({}, set()))
            columns[RATIO_COLUMNS.get(peer, peer)] = None
            names.add(rec["workload"])
    for why, (columns, names) in absent.items():
        notes.append(f"{', '.join(columns)} '-' on {len(names)} workload(s): {why}")
    return notes


def target(rec: dict[str, Any]) -> float | None:
    """The bound the targets set on time / limit, or None where they set none."""
    if rec.get("small") or rec.get("limit", {}).get("kind") != "stream":
        return None
    shape = rec["shape"]
    if rec["op"] == "cross_entropy" and len(shape) == 2 and shape[1] <= 16:
        return 2.0
    if rec["op"] == "cross_entropy" and max(shape[1:]) >= 32000:
        return 1.25
    return 1.3 if rec.get("bytes_in", 0) >= 64 * 10**6 else None


def targets(records: list[dict[str, Any]]) -> list[str]:
    """The targets this run missed, one line each."""
    missed: list[str] = []
    done = [r for r in records if not r.get("skipped")]
    for rec in done:
        where = f"{rec['workload']} t={rec['threads']}"
        bound = target(rec)
        x = rec.get("limit", {}).get("x")
        if bound is not None and x is not None and round(x, 2) > bound:  # as printed
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
        isa = rec.get("isa") or {}
        for i in isa.get("lower", []):
            x = isa["default_over"].get(i)
            if x is not None and x > 1.05:
                missed.append(f"{where}: default {isa['default']} {x:.2f}x the time under {i}")
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
    """Per thread count, the geometric mean of each peer's ratio (and of "xjax", its
    faster form per workload)."""
    out = []
    names = [p for p in PEERS if p in peers]
    if "jax" in names and "optax" in names:
        names.append("xjax")
    for t in sorted({r["threads"] for r in records}):
        parts = []
        for p in names:
            done = [r for r in records if r["threads"] == t and not r.get("skipped")]
            if p == "xjax":
                xs = [speedups(r).get("jax") for r in done]
                label = "JAX's faster form"
            else:
                xs = [r.get("speedup", {}).get(p) for r in done]
                label = p
            xs = [x for x in xs if x]
            if xs:
                mean = math.exp(sum(map(math.log, xs)) / len(xs))
                parts.append(f"{label} {mean:.2f}x ({len(xs)})")
        if parts:
            line = f"t={t} geometric-mean speed-up over " + ", ".join(parts)
            out += textwrap.wrap(line, WIDTH, subsequent_indent="  ")
    return out
