"""A PNG of the results: time / limit per workload, and the speed-up over each peer."""

from __future__ import annotations

from typing import Any

PEER_COLORS = {"numpy": "#4c72b0", "torch": "#dd8452", "jax": "#55a868", "scipy": "#8172b3"}


def save(path: str, records: list[dict[str, Any]], peers: list[str], title: str) -> str | None:
    """Write the chart; returns why not when matplotlib is missing or nothing was measured."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    done = [r for r in records if not r.get("skipped")]
    if not done:
        return "no results to plot"
    names = list(dict.fromkeys(r["workload"] for r in done))
    threads = sorted({r["threads"] for r in done})
    at = {(r["workload"], r["threads"]): r for r in done}
    top = max(threads)

    fig, (ax_lim, ax_peer) = plt.subplots(
        1,
        2,
        figsize=(15, 0.32 * len(names) + 1.8),
        sharey=True,
        gridspec_kw={"width_ratios": [1, 1.4]},
    )
    ys = list(range(len(names)))[::-1]

    h = 0.8 / len(threads)
    for i, t in enumerate(threads):
        vals = [_xlimit(at.get((n, t))) for n in names]
        pos = [y + 0.4 - h * (i + 0.5) for y in ys]
        bars = ax_lim.barh(
            pos, [v or 0 for v in vals], height=h, label=f"{t} thread(s)", color=f"C{i + 5}"
        )
        ax_lim.bar_label(bars, [f"{v:.2f}" if v else "" for v in vals], fontsize=6, padding=2)
    for n, y in zip(names, ys, strict=True):
        over = [(t, (at.get((n, t)) or {}).get("limit", {}).get("overhead_s")) for t in threads]
        text = ", ".join(
            f"t={t}: +{_num(max(o, 0.0) * 1e6) or 0} us" for t, o in over if o is not None
        )
        if text:  # small inputs: the time above an empty call instead of a bar
            ax_lim.text(0.02, y, f"above an empty call: {text}", va="center", fontsize=7)
    ax_lim.axvline(1.0, color="black", lw=1)
    ax_lim.axvline(1.3, color="grey", lw=1, ls="--")
    ax_lim.set_xlabel("time / physical limit (1 = at the limit; dashed: SPEC target 1.3)")
    ax_lim.legend(loc="best", fontsize=8)
    ax_lim.set_yticks(ys, names, fontsize=8)

    present = [
        p for p in peers if any(at.get((n, top), {}).get("speedup", {}).get(p) for n in names)
    ]
    h = 0.8 / max(len(present), 1)
    for i, p in enumerate(present):
        vals = [(at.get((n, top)) or {}).get("speedup", {}).get(p) for n in names]
        pos = [y + 0.4 - h * (i + 0.5) for y in ys]
        bars = ax_peer.barh(
            pos, [v or 0 for v in vals], height=h, label=p, color=PEER_COLORS.get(p, f"C{i}")
        )
        ax_peer.bar_label(bars, [_num(v) for v in vals], fontsize=6, padding=2)
    ax_peer.set_xscale("log")
    ax_peer.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax_peer.axvline(1.0, color="black", lw=1)
    ax_peer.set_xlabel(f"speed-up of fastloss over each peer at {top} thread(s) (log)")
    ax_peer.legend(loc="best", fontsize=8)
    for ax in (ax_lim, ax_peer):
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.6, len(names) - 0.4)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _xlimit(rec: dict[str, Any] | None) -> float | None:
    if rec is None:
        return None
    return rec.get("limit", {}).get("x")


def _num(v: float | None) -> str:
    if not v:
        return ""
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"
